package dane_test

import (
	"fmt"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/dane"
)

func ExampleLint() {
	for _, r := range []dane.Record{
		{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("ab", 32)},
		{Usage: 1, Selector: 1, MatchingType: 1, Data: strings.Repeat("ab", 32)},
		{Usage: 3, Selector: 1, MatchingType: 1, Data: "abcd"},
	} {
		fmt.Println(r.Short(), dane.Usable(r))
	}
	// Output:
	// 3 1 1 abababababababab… true
	// 1 1 1 abababababababab… false
	// 3 1 1 abcd false
}
