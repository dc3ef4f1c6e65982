package dmarcreport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
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

// PathSource reads files, directories (recursively, hidden names skipped;
// a Maildir's cur/ and new/), mbox files and "-" (standard input). A file
// is read whole, in one allocation of its size; an mbox (a file starting
// with a "From " line, not named .eml) and stdin are split into messages
// by bounce.ReadPaths, as the bounces command does.
func PathSource(paths []string, stdin io.Reader, max int64) Source {
	return func(emit func(Input) error) error {
		for _, p := range paths {
			if p == "-" {
				if err := bounceRead([]string{p}, stdin, max, emit); err != nil {
					return err
				}
				continue
			}
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			files := []string{p}
			if st.IsDir() {
				if files, err = bounce.DirFiles(p); err != nil {
					return err
				}
			}
			for _, f := range files {
				if err := readReportFile(f, stdin, max, emit); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

func bounceRead(paths []string, stdin io.Reader, max int64, emit func(Input) error) error {
	return bounce.ReadPaths(paths, stdin, max, func(in bounce.Input) error {
		return emit(Input{Name: in.Name, Data: in.Data, Err: in.Err})
	})
}

// readReportFile emits one file: whole, or message by message when it is
// an mbox. Reading errors are the file's error row.
func readReportFile(path string, stdin io.Reader, max int64, emit func(Input) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return emit(Input{Name: path, Err: err})
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return emit(Input{Name: path, Err: err})
	}
	if st.Size() > max {
		return emit(Input{Name: path, Err: fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, st.Size(), max)})
	}
	data := make([]byte, 0, st.Size()+1)
	for {
		n, err := fh.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return emit(Input{Name: path, Err: err})
		}
		if len(data) == cap(data) {
			if int64(len(data)) > max {
				return emit(Input{Name: path, Err: fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)})
			}
			data = append(data, 0)[:len(data)] // grew while reading
		}
	}
	if bytes.HasPrefix(data, []byte("From ")) && !strings.HasSuffix(strings.ToLower(path), ".eml") {
		return bounceRead([]string{path}, stdin, max, emit)
	}
	return emit(Input{Name: path, Data: data})
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
				// out is already in order: the reader waits on it.
				out <- Extracted{}
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
