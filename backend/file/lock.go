package file

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/foxstore/foxstore/driver"
)

// The lock file's first byte is the one Windows locks (LockFileEx locks
// byte 0 there, and no other process may read a locked byte); the holder
// writes its PID after it, where anyone can read it.
const pidOffset = 1

// lockHolder is how long a second opener keeps re-reading the PID when it
// finds the lock held but the holder has not written its PID yet.
const lockHolderWait = 500 * time.Millisecond

// acquireLock takes the writer lock of the store at path without waiting.
// When another process (or another Store in this process) holds it, the
// error has code ErrStorageLocked and names the holder's PID.
func acquireLock(path string) (*flock.Flock, error) {
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		pid := lockPID(path)
		who := "another process (PID unknown)"
		if pid > 0 {
			who = "process " + strconv.Itoa(pid)
		}
		return nil, driver.NewError(driver.CodeLocked, "open", "", fmt.Errorf("%s is in use by %s", path, who))
	}
	if err := writePID(path); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return fl, nil
}

func writePID(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	// Fixed width, so that a shorter PID never leaves digits of a longer one.
	rec := fmt.Sprintf("pid %-20d\n", os.Getpid())
	_, err = f.WriteAt([]byte(rec), pidOffset)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockPID reads the holder's PID, waiting a little for a holder that has
// just taken the lock; 0 means unknown.
func lockPID(path string) int {
	deadline := time.Now().Add(lockHolderWait)
	for {
		if pid, err := readPID(path); err == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, pidOffset)
	if n == 0 {
		return 0, err
	}
	fields := strings.Fields(string(buf[:n]))
	if len(fields) < 2 || fields[0] != "pid" {
		return 0, errors.New("no pid")
	}
	return strconv.Atoi(fields[1])
}
