package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// maxReportLine bounds one line of an output file read back for --resume.
const maxReportLine = 64 << 20

// Output is the --output file: reports as JSON lines, each written whole
// with one write, so a line is either complete or (after SIGKILL) the torn
// last line, which a resume cuts off.
type Output struct {
	f   *os.File
	buf bytes.Buffer
}

// OpenOutput opens path for the run's reports. Without resume an existing
// file is truncated. With resume the complete reports already in it are
// counted into sum (with failOn for the exit code) and returned as the set
// of targets to skip; a torn last line is cut off, and new reports are
// appended.
func OpenOutput(path string, resume bool, sum *Summary, failOn findings.Status) (*Output, Set, error) {
	if !resume {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, Set{}, &InputError{fmt.Errorf("--output: %w", err)}
		}
		return &Output{f: f}, Set{}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, Set{}, &InputError{fmt.Errorf("--output: %w", err)}
	}
	done, end, err := readDone(f, path, sum, failOn)
	if err != nil {
		f.Close()
		return nil, Set{}, err
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, Set{}, &InputError{fmt.Errorf("--output %s: cutting off the incomplete last line: %w", path, err)}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, Set{}, err
	}
	return &Output{f: f}, done, nil
}

// readDone reads the reports of an earlier run and returns them as a set,
// and the offset just after the last complete line.
func readDone(f *os.File, path string, sum *Summary, failOn findings.Status) (Set, int64, error) {
	done := NewSet()
	r := bufio.NewReaderSize(f, 64<<10)
	var end int64
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long report: gather the whole line.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(full) < maxReportLine {
				line, err = r.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Set{}, 0, &InputError{fmt.Errorf("--output %s line %d: %w", path, n, err)}
		}
		if errors.Is(err, io.EOF) {
			// No newline: the torn line of a killed run (or nothing).
			return done, end, nil
		}
		end += int64(len(line))
		var rep report.Report
		if jerr := json.Unmarshal(line, &rep); jerr != nil || rep.Schema == "" || rep.Target == "" {
			return Set{}, 0, &InputError{fmt.Errorf("--output %s line %d is not a deliverdoctor report (jsonl): refusing to resume into it", path, n)}
		}
		if done.Add(rep.Kind, rep.Target) {
			sum.Add(&rep, failOn)
			sum.Resumed++
		}
	}
}

// Write writes r as one JSON line in one write.
func (o *Output) Write(r *report.Report) error {
	o.buf.Reset()
	if err := report.WriteJSONLine(&o.buf, r); err != nil {
		return err
	}
	_, err := o.f.Write(o.buf.Bytes())
	return err
}

// Close flushes the file to disk and closes it.
func (o *Output) Close() error {
	err := o.f.Sync()
	if errors.Is(err, fs.ErrInvalid) {
		err = nil
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}
