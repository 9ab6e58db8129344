package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

const (
	envLockPath = "FOXSTORE_FILE_LOCK_PATH"
	envLockMode = "FOXSTORE_FILE_LOCK_MODE"
)

// TestLockChild is the other process of the lock tests. Mode "hold" opens
// the store and keeps it open; "open" and "readonly" open it once and
// report what happened.
func TestLockChild(t *testing.T) {
	path := os.Getenv(envLockPath)
	if path == "" {
		t.Skip("helper process of the lock tests")
	}
	cfg := testConfig(path, nil)
	mode := os.Getenv(envLockMode)
	cfg.ReadOnly = mode == "readonly"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		fmt.Printf("ERR %d %v\n", driver.CodeOf(err), err)
		os.Exit(0)
	}
	switch mode {
	case "hold":
		fmt.Println("HOLDING")
		select {}
	case "readonly":
		v, ok := getValue(t, s, "k")
		werr := s.Apply(context.Background(), []driver.Write{set("x", val(t, 1), 0)})
		fmt.Printf("READ %v %s %d\n", ok, v.JSON(), driver.CodeOf(werr))
	default:
		fmt.Println("OPENED")
	}
	s.Close(context.Background())
}

// startChild runs TestLockChild in mode on path and returns its first line.
func startChild(t *testing.T, path, mode string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envLockPath+"="+path, envLockMode+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatalf("child %s printed nothing", mode)
	}
	return cmd, sc.Text()
}

func TestSecondProcessGetsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	mustApply(t, s, set("k", val(t, "v"), 0))

	// Another process is refused at once, and told who holds the store.
	_, line := startChild(t, path, "open")
	want := fmt.Sprintf("ERR %d ", driver.CodeLocked)
	if !strings.HasPrefix(line, want) || !strings.Contains(line, "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second process: %q; want ErrStorageLocked naming PID %d", line, os.Getpid())
	}
	// A read-only opener is welcome, sees the data, and may not write.
	_, line = startChild(t, path, "readonly")
	if line != fmt.Sprintf(`READ true "v" %d`, driver.CodeLocked) {
		t.Fatalf("read-only process: %q", line)
	}
	mustClose(t, s)

	// Now the child holds the store, and this process is refused.
	cmd, line := startChild(t, path, "hold")
	if line != "HOLDING" {
		t.Fatalf("child could not open the store after Close: %q", line)
	}
	_, err := Open(context.Background(), testConfig(path, nil))
	if !errors.Is(err, driver.ErrStorageLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("Open while another process holds the store: %v; want ErrStorageLocked naming PID %d", err, cmd.Process.Pid)
	}
	// A holder that dies releases the lock with it.
	cmd.Process.Kill()
	cmd.Wait()
	s = mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	if v, ok := getValue(t, s, "k"); !ok || string(v.JSON()) != `"v"` {
		t.Fatalf("k = %s, %v after the holder died", v.JSON(), ok)
	}
}

func TestSameProcessGetsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	_, err := Open(context.Background(), testConfig(path, nil))
	if !errors.Is(err, driver.ErrStorageLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open: %v", err)
	}
	mustClose(t, s)
	mustClose(t, mustOpen(t, testConfig(path, nil)))
}

// TestReadOnlyViewsStayConsistent opens read-only views again and again
// while a writer writes pairs of keys atomically and compacts often: every
// view must see whole pairs, and never go back in time.
func TestReadOnlyViewsStayConsistent(t *testing.T) {
	old := compactMinBytes
	compactMinBytes = 8 << 10
	t.Cleanup(func() { compactMinBytes = old })
	path := filepath.Join(t.TempDir(), "storage.json")
	cfg := testConfig(path, nil)
	cfg.BackupCount = 1
	w := mustOpen(t, cfg)
	defer mustClose(t, w)
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pad := strings.Repeat("p", int(i%200))
			if err := w.Apply(context.Background(), sorted(
				set("a", val(t, i), 0), set("b", val(t, i), 0), set(fmt.Sprintf("pad%03d", i%50), val(t, pad), 0),
			)); err != nil {
				t.Error(err)
				return
			}
			acked.Store(i)
		}
	}()
	var logs logBuffer
	rcfg := testConfig(path, &logs)
	rcfg.ReadOnly = true
	last := int64(0)
	deadline := time.Now().Add(2 * time.Second)
	views := 0
	for ; views < 40 || time.Now().Before(deadline) && views < 400; views++ {
		before := acked.Load()
		r := mustOpen(t, rcfg)
		a, okA := getValue(t, r, "a")
		b, okB := getValue(t, r, "b")
		if okA != okB || okA && !a.Equal(b) {
			t.Fatalf("view %d: a=%s b=%s: half a batch", views, a.JSON(), b.JSON())
		}
		var n int64
		if okA {
			x, _ := a.Decode()
			n = x.(int64)
		}
		if n < before || n < last {
			t.Fatalf("view %d: sees write %d, but %d was acknowledged before it opened (last view saw %d)", views, n, before, last)
		}
		last = n
		if err := r.Apply(context.Background(), []driver.Write{set("x", val(t, 1), 0)}); !errors.Is(err, driver.ErrStorageLocked) {
			t.Fatalf("write to a read-only store: %v, want ErrStorageLocked", err)
		}
		mustClose(t, r)
	}
	close(stop)
	wg.Wait()
	if w := logs.warnings(); len(w) > 0 {
		t.Fatalf("read-only opens warned:\n%s", strings.Join(w, "\n"))
	}
	t.Logf("%d views, %d writes", views, acked.Load())
}

func TestReadOnlyChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	history(t, path)
	// Leave a torn tail and a leftover snapshot: a writer would tidy both.
	f, _ := os.OpenFile(path+".log.0", os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":99,"w":[{"k":"to`)
	f.Close()
	writeFile(t, path+".new", "partial")
	before := files(t, dir)
	cfg := testConfig(path, nil)
	cfg.ReadOnly = true
	r := mustOpen(t, cfg)
	if _, ok := getValue(t, r, "ttl"); !ok {
		t.Fatal("read-only view misses data")
	}
	if err := r.Compact(context.Background()); !errors.Is(err, driver.ErrStorageLocked) {
		t.Fatalf("Compact on a read-only store: %v", err)
	}
	mustClose(t, r)
	if after := files(t, dir); !mapsEqual(before, after) {
		t.Fatalf("a read-only store changed files: %v -> %v", keys(before), keys(after))
	}
	// A store that does not exist opens empty and stays nonexistent.
	cfg.FilePath = filepath.Join(dir, "none", "storage.json")
	r = mustOpen(t, cfg)
	mustClose(t, r)
	if _, err := os.Stat(filepath.Dir(cfg.FilePath)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only open created %s", filepath.Dir(cfg.FilePath))
	}
}
