//go:build !windows

package file

import (
	"errors"
	"os"
	"syscall"
)

// syncDir makes renames and file creations in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems cannot sync a directory; they order metadata
	// themselves or offer nothing better.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// rename replaces newpath with oldpath atomically.
func rename(oldpath, newpath string) error {
	return os.Rename(oldpath, newpath)
}
