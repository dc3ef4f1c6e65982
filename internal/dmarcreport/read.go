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

// Collection is every report read, de-duplicated, and every input that
// could not be read, in input order.
type Collection struct {
	Reports    []*Report
	Errors     []FileError
	Inputs     int // inputs read
	Duplicates int // reports dropped as already seen (same kind, org, report id)
}

// Collect extracts the reports of every input of src on workers
// goroutines (0: one per CPU) and keeps the input order. Memory holds a
// few inputs at a time, not all of them. Reports are de-duplicated by
// (kind, reporting org, report id): the same report mailed twice, or
// present both as a file and inside a message, counts once.
func Collect(ctx context.Context, src Source, lim Limits, workers int) (*Collection, error) {
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
	c := &Collection{}
	seen := map[string]bool{}
	for out := range order {
		x := <-out
		c.Inputs++
		c.Errors = append(c.Errors, x.Errors...)
		for _, r := range x.Reports {
			if id := r.ID(); id != "" {
				key := string(r.Kind) + "\x00" + strings.ToLower(r.Org()) + "\x00" + id
				if seen[key] {
					c.Duplicates++
					continue
				}
				seen[key] = true
			}
			c.Reports = append(c.Reports, r)
		}
	}
	wg.Wait()
	if err := <-srcErr; err != nil {
		return c, err
	}
	return c, ctx.Err()
}
