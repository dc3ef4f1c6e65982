//go:build unix

package bounce

import "syscall"

// readSmall reads a regular file of under limit bytes in one buffer with
// plain system calls (open, fstat, read, close): an *os.File also
// registers with the poller and sets a finalizer, which for a Maildir of
// small messages cost as much as the reading. ok is false when the file
// is not such a file or anything fails; the caller then takes the general
// path, which reports errors. The file is read into buf when it is large
// enough (its caller reuses it), otherwise into a new buffer.
func readSmall(path string, limit int64, buf []byte) (data []byte, ok bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size >= limit {
		return nil, false
	}
	if int64(cap(buf)) < st.Size+1 {
		buf = make([]byte, st.Size+1) // +1: a file that grew is seen
	}
	buf = buf[:st.Size+1]
	n := 0
	for n < len(buf) {
		k, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if k == 0 {
			break
		}
		n += k
		if int64(n) == st.Size {
			break // a short read of a regular file at its size: the end
		}
	}
	if int64(n) != st.Size {
		return nil, false
	}
	return buf[:n], true
}
