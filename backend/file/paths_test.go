package file

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the Linux rules")
	}
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	got, err := DefaultPath()
	if want := filepath.Join(data, "foxstore", "storage.json"); err != nil || got != want {
		t.Fatalf("DefaultPath() = %q, %v; want %q", got, err, want)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	got, err = DefaultPath()
	if want := filepath.Join(home, ".local", "share", "foxstore", "storage.json"); err != nil || got != want {
		t.Fatalf("DefaultPath() with a relative XDG_DATA_HOME = %q, %v; want %q", got, err, want)
	}
	// An empty file_path opens the default store, creating its directories.
	s := mustOpen(t, testConfig("", nil))
	mustApply(t, s, set("k", val(t, 1), 0))
	mustClose(t, s)
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "foxstore", "storage.json")); err != nil {
		t.Fatal(err)
	}
}
