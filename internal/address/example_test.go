package address_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/address"
)

func ExampleParse() {
	for _, in := range []string{`"John Doe"@Example.COM`, `"john"@example.com`, "用户@例子.广告", "a..b@example.com"} {
		a := address.Parse(in)
		fmt.Printf("%v %q\n", a.Valid(), a.String())
		for _, p := range a.Problems {
			fmt.Printf("  %s (%s)\n", p.ID, p.Severity)
		}
	}
	// Output:
	// true "\"John Doe\"@example.com"
	//   address.quoted-local-part (warn)
	// true "john@example.com"
	//   address.unneeded-quotes (info)
	// true "用户@xn--fsqu00a.xn--4rr70v"
	//   address.smtputf8 (warn)
	//   address.idn (info)
	// false ""
	//   address.dot-position (fail)
}
