//go:build windows

package file

import (
	"errors"
	"time"

	"golang.org/x/sys/windows"
)

// syncDir does nothing on Windows: a directory cannot be flushed there, and
// rename asks NTFS to write the change through instead.
func syncDir(string) error { return nil }

// rename replaces newpath with oldpath atomically and durably. Another
// process reading the file (a read-only store opening) makes Windows refuse
// for a moment, so sharing violations are retried for up to a second.
func rename(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		err = windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
		if err == nil || i == 20 || !(errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED)) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
