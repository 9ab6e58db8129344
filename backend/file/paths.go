package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultPath returns where a store lives when file_path is not set: the
// user data directory plus foxstore/storage.json. The data directory is
// $XDG_DATA_HOME or ~/.local/share on Linux and other Unix systems,
// ~/Library/Application Support on macOS and %LocalAppData% on Windows.
func DefaultPath() (string, error) {
	var dir string
	switch runtime.GOOS {
	case "windows":
		dir = os.Getenv("LocalAppData")
		if dir == "" {
			return "", errors.New("%LocalAppData% is not set")
		}
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, "Library", "Application Support")
	default:
		// The XDG spec ignores relative values.
		if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
			dir = d
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			dir = filepath.Join(home, ".local", "share")
		}
	}
	return filepath.Join(dir, "foxstore", "storage.json"), nil
}

// names derives every file of a store from the snapshot's path. All of them
// live in the snapshot's directory and start with its name:
//
//	storage.json            the snapshot
//	storage.json.log.<seq>  a log segment holding the records after seq
//	storage.json.bak<n>     rotated snapshots, bak1 the newest
//	storage.json.new        a snapshot being written
//	storage.json.lock       the writer's lock; holds its PID
//	storage.json.*.corrupt-<time>  damaged files moved aside by recovery
type names struct {
	path string // the snapshot
	dir  string
	base string
}

func newNames(path string) names {
	path = filepath.Clean(path)
	return names{path: path, dir: filepath.Dir(path), base: filepath.Base(path)}
}

func (n names) newSnap() string             { return n.path + ".new" }
func (n names) lock() string                { return n.path + ".lock" }
func (n names) backup(i int) string         { return n.path + ".bak" + strconv.Itoa(i) }
func (n names) segment(after uint64) string { return n.path + ".log." + strconv.FormatUint(after, 10) }

// listing is what a directory holds of a store.
type listing struct {
	snapshot, newSnap bool
	backups           []int    // numbers, ascending (newest first)
	segments          []uint64 // afters, ascending
	aside             []string // names of files moved aside by recovery, sorted
}

func (n names) list() (listing, error) {
	var l listing
	ents, err := os.ReadDir(n.dir)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, err
	}
	prefix := n.base + "."
	for _, e := range ents {
		name := e.Name()
		if name == n.base {
			l.snapshot = true
			continue
		}
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "corrupt-") || strings.Contains(rest, ".corrupt-"):
			l.aside = append(l.aside, name)
		case rest == "new":
			l.newSnap = true
		case strings.HasPrefix(rest, "bak"):
			if i, ok := decimal(rest[3:]); ok && i > 0 && i < 1<<20 {
				l.backups = append(l.backups, int(i))
			}
		case strings.HasPrefix(rest, "log."):
			if after, ok := decimal(rest[4:]); ok {
				l.segments = append(l.segments, after)
			}
		}
	}
	slices.Sort(l.backups)
	slices.Sort(l.segments)
	slices.Sort(l.aside)
	return l, nil
}

// decimal parses a canonical unsigned decimal number.
func decimal(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// moveAside renames a damaged file to a free name next to it, never
// overwriting anything, and returns the new name.
func moveAside(path string) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for i := 0; i < 100; i++ {
		to := path + ".corrupt-" + stamp
		if i > 0 {
			to += "-" + strconv.Itoa(i)
		}
		if _, err := os.Lstat(to); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if err := rename(path, to); err != nil {
			return "", err
		}
		return to, nil
	}
	return "", fmt.Errorf("no free name to move %s aside", path)
}
