package bimi_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/bimi"
)

func ExampleCheckSVG() {
	_, problems := bimi.CheckSVG([]byte(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 200 100"><script>x()</script></svg>`))
	for _, p := range problems {
		fmt.Println(p.Code)
	}
	// Output:
	// profile
	// version
	// not-square
	// forbidden-element
	// no-title
}
