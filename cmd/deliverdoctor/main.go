// Command deliverdoctor tells a sender whether their mail will be accepted,
// and if not, which bounce they will get and what to change.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], newStdIO()))
}
