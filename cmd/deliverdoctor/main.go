// Command deliverdoctor tells a sender whether their mail will be accepted,
// and if not, which bounce they will get and what to change.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	os.Exit(profiled(func() int { return run(os.Args[1:], newStdIO()) }))
}

// profiled runs f under the CPU profiler when DELIVERDOCTOR_CPUPROFILE names
// a file, and writes an allocation profile to DELIVERDOCTOR_MEMPROFILE:
// developers' knobs for scripts/bench, not user-facing flags.
func profiled(f func() int) int {
	if path := os.Getenv("DELIVERDOCTOR_MEMPROFILE"); path != "" {
		defer func() {
			out, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(out, 0)
				out.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "deliverdoctor: memory profile: %v\n", err)
			}
		}()
	}
	path := os.Getenv("DELIVERDOCTOR_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "deliverdoctor: cpu profile: %v\n", err)
		return f()
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintf(os.Stderr, "deliverdoctor: cpu profile: %v\n", err)
		return f()
	}
	defer pprof.StopCPUProfile()
	return f()
}
