package bounce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Input is one message read from a path: a file, one message of an mbox,
// or a Maildir entry.
type Input struct {
	Name string // "bounces.mbox#3", "Maildir/cur/1700000000.x:2,S", "a.eml", "-"
	Data []byte
	Err  error // the message could not be read (I/O error)
	// Truncated: the message is larger than the limit; Data holds its
	// first max bytes (the header, the notice and the report come first;
	// what is cut is the returned original or an attachment) and Size the
	// bytes seen in all.
	Truncated bool
	Size      int64
}

// ReadPaths reads messages from each path: "-" is stdin (one message, or an
// mbox); a directory is a Maildir (its cur/ and new/) or else every regular
// file below it; a file is an mbox when it starts with a "From " line, else
// one message. Messages over max bytes are
// read as far as the limit (Input.Truncated). fn is called for every message in order; an error from fn stops
// the walk.
func ReadPaths(paths []string, stdin io.Reader, max int64, fn func(Input) error) error {
	return walkPaths(paths, stdin, max, fn, func(path string) error { return readFile(path, max, fn) }, nil)
}

// walkPaths is ReadPaths with the files found in directories handed to
// member instead of being read (ParseAll's workers read them). expect, when
// not nil, learns how much input is coming as soon as the walk knows it: a
// directory's number of files when it is listed, a file's size before it
// is read, and each message's size as it is read from stdin.
func walkPaths(paths []string, stdin io.Reader, max int64, fn func(Input) error, member func(path string) error, expect func(files int, bytes int64)) error {
	if expect == nil {
		expect = func(int, int64) {}
	}
	for _, p := range paths {
		if p == "-" {
			err := readStream("-", stdin, max, func(in Input) error {
				expect(0, int64(len(in.Data)))
				return fn(in)
			})
			if err != nil {
				return err
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			expect(1, st.Size())
			if err := readFile(p, max, fn); err != nil {
				return err
			}
			continue
		}
		files, err := DirFiles(p)
		if err != nil {
			return err
		}
		expect(len(files), 0)
		for _, f := range files {
			if err := member(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// DirFiles lists a Maildir's messages (cur/ and new/, RFC-less but
// universal layout) or every regular, non-hidden file below dir, sorted.
// The reports reader lists its directories with it too.
func DirFiles(dir string) ([]string, error) {
	var out []string
	isMaildir := false
	for _, sub := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			isMaildir = true
		}
	}
	if isMaildir {
		for _, sub := range []string{"cur", "new"} {
			ents, err := os.ReadDir(filepath.Join(dir, sub))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			for _, e := range ents {
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
					out = append(out, filepath.Join(dir, sub, e.Name()))
				}
			}
		}
		return out, nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// smallFile: files under this size are read by readSmall.
const smallFile = 1 << 20

func readFile(path string, max int64, fn func(Input) error) error {
	if ok, err := readSmallFile(path, max, nil, fn); ok {
		return err
	}
	fh, err := os.Open(path)
	if err != nil {
		return fn(Input{Name: path, Err: err})
	}
	defer fh.Close()
	if isEML(path) {
		// One message per .eml, even if it starts with an mbox From_ line
		// and quotes another one inside.
		return readOne(path, sizedReader{fh}, max, fn)
	}
	return readStream(path, sizedReader{fh}, max, fn)
}

// readSmallFile reads a file under smallFile whole and hands its messages
// to fn: the file itself, or an mbox's messages when it starts with a
// "From " line (never for an .eml). ok is false, and nothing is read, for
// a larger file or one readSmall cannot read: readFile streams those.
//
// With reuse non-nil the file is read into *reuse (grown as needed and
// kept there for the next call), and the messages handed to fn point into
// it: fn must be done with them when it returns, as ParseAll's workers are
// (they parse in fn, and a result keeps no reference to its input:
// TestPooledReaderNotKept, TestReadBufferReused).
func readSmallFile(path string, max int64, reuse *[]byte, fn func(Input) error) (ok bool, err error) {
	var buf []byte
	if reuse != nil {
		buf = *reuse
	}
	data, ok := readSmall(path, min(max, smallFile), buf)
	if reuse != nil && cap(data) > cap(*reuse) {
		*reuse = data[:0]
	}
	if !ok {
		return false, nil
	}
	if isEML(path) || !bytes.HasPrefix(data, []byte("From ")) {
		return true, fn(Input{Name: path, Data: data, Size: int64(len(data))})
	}
	return true, readStream(path, bytes.NewReader(data), max, fn)
}

func isEML(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".eml") }

// sizedReader is a file that tells its size, so that readOne reads a
// small message in one buffer of the right size instead of growing one.
type sizedReader struct{ *os.File }

func (r sizedReader) size() int64 {
	if st, err := r.Stat(); err == nil && st.Mode().IsRegular() {
		return st.Size()
	}
	return -1
}

func readOne(name string, r io.Reader, max int64, fn func(Input) error) error {
	data, err := readAllLimit(r, max)
	if err != nil {
		return fn(Input{Name: name, Err: err})
	}
	in := Input{Name: name, Data: data, Size: int64(len(data))}
	if int64(len(data)) == max {
		// Anything past the limit is counted, not kept.
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return fn(Input{Name: name, Err: err})
		}
		in.Size += n
		in.Truncated = n > 0
	}
	return fn(in)
}

// readAllLimit is io.ReadAll(io.LimitReader(r, max)), with the buffer
// sized from the file's size when r knows it.
func readAllLimit(r io.Reader, max int64) ([]byte, error) {
	var n int64 = 512
	switch sr := r.(type) {
	case sizedReader:
		if sz := sr.size(); sz >= 0 {
			n = sz + 1 // +1: EOF is seen without growing
		}
	case *bufio.Reader:
		if sr.Buffered() > 0 {
			n = int64(sr.Buffered()) + 512
		}
	}
	n = min(n, max)
	buf := make([]byte, 0, n)
	for int64(len(buf)) < max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := min(int64(cap(buf)), max)
		k, err := r.Read(buf[len(buf):want])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// bufPool holds readStream's readers: a Maildir is a stream per message,
// and 64 KB allocated for each was much of its cost.
var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// readStream reads one message, or every message of an mbox (a stream that
// starts with a "From " line; mboxrd quoting ">From " is undone).
func readStream(name string, r io.Reader, max int64, fn func(Input) error) error {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	head, _ := br.Peek(5)
	if string(head) != "From " {
		return readOne(name, br, max, fn)
	}
	n := 0
	var buf bytes.Buffer
	tooBig := false
	var size int64
	prevBlank := true
	emit := func() error {
		if n == 0 {
			return nil
		}
		in := Input{Name: fmt.Sprintf("%s#%d", name, n), Data: bytes.Clone(buf.Bytes()), Truncated: tooBig, Size: size}
		buf.Reset()
		if buf.Cap() > 1<<20 {
			buf = bytes.Buffer{} // a large message's buffer is not kept for the small ones after it
		}
		tooBig, size = false, 0
		return fn(in)
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: keep reading it.
			full := bytes.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if int64(len(full)) <= max {
					full = append(full, line...)
				} else {
					size += int64(len(line)) // counted, not kept
				}
			}
			line = full
		}
		if len(line) > 0 {
			if prevBlank && bytes.HasPrefix(line, []byte("From ")) {
				if e := emit(); e != nil {
					return e
				}
				n++
			} else if n > 0 {
				// mboxrd: ">From " and ">>From " lose one ">".
				if l := bytes.TrimLeft(line, ">"); len(l) < len(line) && bytes.HasPrefix(l, []byte("From ")) {
					line = line[1:]
				}
				size += int64(len(line))
				switch {
				case tooBig:
				case int64(buf.Len()+len(line)) > max:
					// Keep the first max bytes: the parts that matter.
					tooBig = true
					buf.Write(line[:max-int64(buf.Len())])
				default:
					buf.Write(line)
				}
			}
			prevBlank = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fn(Input{Name: fmt.Sprintf("%s#%d", name, n+1), Err: err})
		}
	}
	return emit()
}
