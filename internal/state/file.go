package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// File is a state file opened for a run: its real path (a symlink is
// followed, never replaced), the lock beside it, and the proof, taken
// before any work, that it can be read and written.
type File struct {
	Path     string // as given
	real     string // the symlink's target, or Path
	lockPath string
}

// Open validates the state file before a run does any work: the directory
// exists and is writable (a temporary file is created and removed there),
// the file, if it exists, is readable, valid and of this version. A
// problem is an error now, not after the run (and its mail).
func Open(path string) (*File, *State, error) {
	real, err := resolve(path)
	if err != nil {
		return nil, nil, err
	}
	f := &File{Path: path, real: real, lockPath: real + ".lock"}
	dir := filepath.Dir(real)
	if st, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("state directory %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, nil, fmt.Errorf("state directory %s is not a directory", dir)
	}
	probe, err := os.CreateTemp(dir, ".deliverdoctor-state-probe-*")
	if err != nil {
		return nil, nil, fmt.Errorf("state file %s cannot be written: %w", path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if st, err := os.Stat(real); err == nil && st.IsDir() {
		return nil, nil, fmt.Errorf("state file %s is a directory", path)
	}
	unlock, err := f.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	st, err := Load(real)
	if err != nil {
		return nil, nil, err
	}
	return f, st, nil
}

// resolve follows a symlinked state file to the file it names (also when
// that file does not exist yet), so saving writes there and the link stays.
func resolve(path string) (string, error) {
	for i := 0; i < 40; i++ {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		to, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return "", fmt.Errorf("state file %s: too many levels of symbolic links", path)
}

// lock takes the exclusive lock on the file beside the state file. The lock
// is on its own file because saving replaces the state file's inode.
func (f *File) lock() (func(), error) {
	lf, err := os.OpenFile(f.lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock %s: %w", f.lockPath, err)
	}
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("state lock %s: %w", f.lockPath, err)
	}
	return func() {
		_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		lf.Close()
	}, nil
}

// Store saves s under the lock: it reads the file as it is now (another
// run, e.g. another --shard, may have saved since this run loaded it),
// puts this run's targets into it, and replaces the file atomically: a
// temporary file in the same directory with the old file's mode, fsynced,
// renamed over the old one, and the directory fsynced, so a crash at any
// moment leaves either the old state or the new one.
func (f *File) Store(s *State) error {
	unlock, err := f.lock()
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := Load(f.real)
	if err != nil {
		return err
	}
	for t := range s.updated {
		cur.Targets[t] = s.Targets[t]
	}
	b, err := json.MarshalIndent(cur, "", "  ")
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o600)
	var owner *syscall.Stat_t
	if fi, err := os.Stat(f.real); err == nil {
		mode = fi.Mode().Perm()
		owner, _ = fi.Sys().(*syscall.Stat_t)
	}
	dir := filepath.Dir(f.real)
	tmp, err := os.CreateTemp(dir, ".deliverdoctor-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if owner != nil {
		_ = tmp.Chown(int(owner.Uid), int(owner.Gid)) // only root can; keeps the owner then
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.real); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
