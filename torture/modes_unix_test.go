//go:build unix

package torture_test

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/foxstore/foxstore"
)

// TestSecurityFileModes checks CONTRACT §10: files 0600, directories 0700,
// under a umask of 0, so that the store itself must ask for those modes.
// It drives the file backend through compactions, backup rotation and a
// recovery that moves a damaged file aside, and SQLite through its WAL, and
// checks every file and directory they made.
func TestSecurityFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := t.Context()

	t.Run("file", func(t *testing.T) {
		root := t.TempDir()
		cfg := foxstore.Config{Backend: "file", FilePath: filepath.Join(root, "made", "by", "store", "store.json"), BackupCount: 3}
		big := strings.Repeat("m", 1<<20)
		for round := range 2 {
			s := openCfg(t, cfg)
			// Over 4 MiB of log, more than the snapshot: compactions and
			// backups.
			for i := range 5 {
				if err := s.Set(ctx, "big", big[:len(big)-round-i], 0); err != nil {
					t.Fatal(err)
				}
			}
			checkModes(t, root, "file store, open")
			s.(io.Closer).Close()
		}
		// Damage the snapshot: recovery moves it aside.
		snap := cfg.FilePath
		b, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x01
		if err := os.WriteFile(snap, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := foxstore.Open(ctx, cfg); err == nil {
			s.(io.Closer).Close()
		}
		checkModes(t, root, "file store, after recovery")
	})

	t.Run("sqlite", func(t *testing.T) {
		root := t.TempDir()
		cfg := sqliteConfig(filepath.Join(root, "made", "by", "sqlite"))
		s := openCfg(t, cfg)
		for i := range 50 {
			if err := s.Set(ctx, "k", i, 0); err != nil {
				t.Fatal(err)
			}
		}
		checkModes(t, root, "SQLite store, open (WAL and shm files)")
		s.(io.Closer).Close()
		checkModes(t, root, "SQLite store, closed")
	})
}

// checkModes reports every file under root (root excluded) whose mode is
// not 0600 and every directory not 0700.
func checkModes(t *testing.T, root, when string) {
	t.Helper()
	var seen []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		rel, _ := filepath.Rel(root, path)
		seen = append(seen, rel)
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: %s has mode %04o, want %04o", when, rel, got, want)
		}
		return nil
	})
	if len(seen) == 0 {
		t.Errorf("%s: no file was made", when)
	}
	t.Logf("%s: checked %s", when, strings.Join(seen, ", "))
}
