package mtasts_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/mtasts"
)

func ExampleParsePolicy() {
	p, err := mtasts.ParsePolicy("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, host := range []string{"mail.example.com", "mx1.example.net", "a.b.example.net"} {
		fmt.Println(host, p.Matches(host))
	}
	// Output:
	// mail.example.com true
	// mx1.example.net true
	// a.b.example.net false
}

func ExampleParseRecord() {
	_, err := mtasts.ParseRecord("v=STSv1; id=2024-01-01")
	fmt.Println(err)
	r, _ := mtasts.ParseRecord("v=STSv1;id=20240101T000000")
	fmt.Println(r)
	// Output:
	// MTA-STS record syntax error: id "2024-01-01" must be 1 to 32 letters and digits
	// v=STSv1; id=20240101T000000;
}
