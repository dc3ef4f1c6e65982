package dmarcreport

import (
	"context"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
)

// Input is one unit to extract reports from: a file, an mbox message, a
// Maildir entry, an IMAP message.
type Input struct {
	Name string
	Data []byte
	Err  error // it could not be read
}

// Source produces inputs in order; it stops when emit returns an error.
type Source func(emit func(Input) error) error

// PathSource reads files, directories (recursively; a Maildir's cur/ and
// new/), mbox files and "-" (standard input), as the bounces command does.
func PathSource(paths []string, stdin io.Reader, max int64) Source {
	return func(emit func(Input) error) error {
		return bounce.ReadPaths(paths, stdin, max, func(in bounce.Input) error {
			return emit(Input{Name: in.Name, Data: in.Data, Err: in.Err})
		})
	}
}

// Stats counts what a walk read.
type Stats struct {
	Inputs     int `json:"inputs"`     // inputs read (files, messages)
	Reports    int `json:"reports"`    // distinct reports
	Duplicates int `json:"duplicates"` // reports dropped as already seen (same kind, org, report id)
	Errors     int `json:"errors"`     // inputs or parts that could not be read
}

// Visitor receives the walk's results in input order.
type Visitor struct {
	Report func(*Report) error // a distinct report; an error stops the walk
	Error  func(FileError)     // an input or part that could not be read
}

// Walk extracts the reports of every input of src on workers goroutines
// (0: one per CPU) and hands them to v in input order. Memory holds a few
// inputs at a time, never all of them: v decides what to keep. Reports are
// de-duplicated by (kind, reporting org, report id): the same report
// mailed twice, or present both as a file and inside a message, counts
// once.
func Walk(ctx context.Context, src Source, lim Limits, workers int, v Visitor) (Stats, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type job struct {
		in  Input
		out chan Extracted
	}
	jobs := make(chan job, workers)
	order := make(chan chan Extracted, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if j.in.Err != nil {
					j.out <- Extracted{Errors: []FileError{{File: j.in.Name, Err: j.in.Err}}}
					continue
				}
				j.out <- Extract(j.in.Name, j.in.Data, lim)
			}
		}()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srcErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		srcErr <- src(func(in Input) error {
			out := make(chan Extracted, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{in, out}:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
	}()
	var st Stats
	var visitErr error
	seen := map[string]bool{}
	for out := range order {
		x := <-out
		if visitErr != nil {
			continue // drain, so the workers and the source end
		}
		st.Inputs++
		for _, e := range x.Errors {
			st.Errors++
			if v.Error != nil {
				v.Error(e)
			}
		}
		for _, r := range x.Reports {
			if id := r.ID(); id != "" {
				key := string(r.Kind) + "\x00" + strings.ToLower(r.Org()) + "\x00" + id
				if seen[key] {
					st.Duplicates++
					continue
				}
				seen[key] = true
			}
			st.Reports++
			if v.Report != nil {
				if err := v.Report(r); err != nil {
					visitErr = err
					cancel()
					break
				}
			}
		}
	}
	wg.Wait()
	if visitErr != nil {
		return st, visitErr
	}
	if err := <-srcErr; err != nil {
		return st, err
	}
	return st, ctx.Err()
}

// Collection is every report of a walk and every input that could not be
// read, in input order: for tests and small sets (Walk keeps nothing).
type Collection struct {
	Stats
	Reports []*Report
	Errors  []FileError
}

// Collect walks src and keeps everything.
func Collect(ctx context.Context, src Source, lim Limits, workers int) (*Collection, error) {
	c := &Collection{}
	st, err := Walk(ctx, src, lim, workers, Visitor{
		Report: func(r *Report) error { c.Reports = append(c.Reports, r); return nil },
		Error:  func(e FileError) { c.Errors = append(c.Errors, e) },
	})
	c.Stats = st
	return c, err
}
