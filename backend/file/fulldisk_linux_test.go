package file_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/foxstore/foxstore"
)

// TestFullDisk fills a 1 MiB tmpfs: the write that does not fit fails with
// ErrStorageWriteFailed, every write acknowledged before it survives a
// reopen on the still-full disk, and writing works again once space is
// freed. Mounting needs root; without it the test skips, and
// TestSyncWriteFailureUndoesAndKeepsDurable covers the same path with an
// injected failure.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := foxstore.Config{
		Backend:     "file",
		FilePath:    filepath.Join(dir, "storage.json"),
		BackupCount: 1,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s, err := foxstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]string{}
	var werr error
	var failed string
	for i := 0; i < 10000; i++ {
		k, v := fmt.Sprintf("k%05d", i), strings.Repeat(string(rune('a'+i%26)), 3000)
		if werr = s.Set(ctx, k, v, 0); werr != nil {
			failed = k
			break
		}
		acked[k] = v
	}
	if !errors.Is(werr, foxstore.ErrStorageWriteFailed) || !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("after %d writes: %v; want ErrStorageWriteFailed caused by ENOSPC", len(acked), werr)
	}
	t.Logf("%d writes fitted; then: %v", len(acked), werr)
	check := func(s foxstore.StoragePlugin) {
		t.Helper()
		for k, v := range acked {
			got, err := s.Get(ctx, k)
			if err != nil || got != v {
				t.Fatalf("acknowledged %s: %v", k, err)
			}
		}
		if s.Exists(ctx, failed) {
			t.Fatalf("the failed write of %s is visible", failed)
		}
	}
	check(s)
	if err := s.(io.Closer).Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = foxstore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopening on a full disk: %v", err)
	}
	check(s)
	os.Remove(filler)
	if err := s.Set(ctx, failed, "fits now", 0); err != nil {
		t.Fatalf("Set after freeing space: %v", err)
	}
	if err := s.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	s, err = foxstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.(io.Closer).Close()
	acked[failed] = "fits now"
	failed = "none"
	check(s)
}
