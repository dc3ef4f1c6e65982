package txtrecord_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/txtrecord"
)

func ExampleKind_Fields() {
	k := txtrecord.Kind{Version: "TLSRPTv1"}
	for f, err := range k.Fields("v=TLSRPTv1; rua=mailto:tlsrpt@example.com; x-ext=1;") {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(f.Name, f.Value, txtrecord.ValidName(f.Name) && txtrecord.ValidValue(f.Value))
	}
	// Output:
	// rua mailto:tlsrpt@example.com true
	// x-ext 1 true
}
