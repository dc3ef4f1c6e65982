package tlsrpt_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/tlsrpt"
)

func ExampleParseRecord() {
	r, err := tlsrpt.ParseRecord("v=TLSRPTv1; rua=mailto:tlsrpt@example.com,http://reports.example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range r.RUA {
		fmt.Println(u, tlsrpt.CheckURI(u))
	}
	// Output:
	// mailto:tlsrpt@example.com <nil>
	// http://reports.example.com/ "http://reports.example.com/": reports must be sent over https, not http
}
