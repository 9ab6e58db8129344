package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// stallLog makes the next log write wait, inside the flush and holding
// smu like a disk that does not answer, until the returned function is
// called. stalled is closed once a flush is waiting there.
func stallLog(s *Store) (stalled <-chan struct{}, release func()) {
	wait, stalled, release := stallFirst()
	s.smu.Lock()
	s.writeHook = func([]byte) error { wait(); return nil }
	s.smu.Unlock()
	return stalled, release
}

// stallFirst returns a wait function whose first call closes stalled and
// blocks until release is called; later calls return at once.
func stallFirst() (wait func(), stalled <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	var once sync.Once
	wait = func() {
		first := false
		once.Do(func() { first = true })
		if first {
			close(in)
			<-out
		}
	}
	return wait, in, sync.OnceFunc(func() { close(out) })
}

// TestAsyncStalledLogHoldsWriters is the regression test of the async
// durability bug that the torture suite found (TestBug_FileAsyncLosesOldWrites):
// the async queue was bounded by bytes only, so while a flush hung on a slow
// disk, writers kept being acknowledged for as long as it took to queue
// 8 MiB, seconds of writes that a crash then lost. CONTRACT §10 allows a
// crash to lose only writes younger than flush_interval: once the oldest
// write that is not on disk has waited flush_interval, no further write may
// be acknowledged until it is.
//
// The log is stalled (its next write waits until released) while one
// writer sets a key about every millisecond. The writer must stop being
// acknowledged within flush_interval of the oldest write the stalled
// flush has not made durable; it is allowed a second more for a slow
// machine, and the old code kept acknowledging for as long as the test
// let it. Once the disk answers again, the held write completes and every
// acknowledged write is in the files.
func TestAsyncStalledLogHoldsWriters(t *testing.T) {
	const fi = 50 * time.Millisecond
	const slack = time.Second
	path := filepath.Join(t.TempDir(), "storage.json")
	cfg := testConfig(path, nil)
	cfg.AsyncWrite = true
	cfg.FlushInterval = fi
	s := mustOpen(t, cfg)
	ctx := context.Background()

	stalled, release := stallLog(s)
	defer release()
	type ack struct {
		key string
		at  time.Time
	}
	acks := make(chan ack, 1<<16)
	stop := make(chan struct{})
	halt := sync.OnceFunc(func() { close(stop) })
	defer halt()
	writerDone := make(chan error, 1)
	go func() {
		defer close(acks)
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			k := fmt.Sprintf("k%06d", i)
			if err := s.Apply(ctx, sorted(set(k, val(t, i), 0))); err != nil {
				writerDone <- fmt.Errorf("Apply(%s): %w", k, err)
				return
			}
			acks <- ack{k, time.Now()}
			time.Sleep(time.Millisecond)
		}
	}()

	select {
	case <-stalled:
	case <-time.After(time.Minute):
		t.Fatal("no flush reached the log in a minute")
	}
	// Every write acknowledged from now on waits behind the stalled flush;
	// the first of them is the oldest write not on disk.
	var acked []string
	var first time.Time
	held := false
	for !held {
		select {
		case a, ok := <-acks:
			if !ok {
				t.Fatalf("the writer stopped: %v", <-writerDone)
			}
			acked = append(acked, a.key)
			if first.IsZero() {
				first = a.at
			} else if age := a.at.Sub(first); age > fi+slack {
				t.Fatalf("with the log stalled, %s was acknowledged %v after the first write the stalled flush left undone "+
					"(flush_interval %v): writes older than flush_interval would be lost by a crash", a.key, age.Round(time.Millisecond), fi)
			}
		case <-time.After(slack):
			held = true // no write acknowledged for a second: the writer waits for the disk
		}
	}
	t.Logf("%d writes acknowledged after the log stalled, then the writer waited", len(acked))
	release()
	halt()
	for a := range acks {
		acked = append(acked, a.key)
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	for _, k := range acked {
		if _, ok := getValue(t, s, k); !ok {
			t.Fatalf("acknowledged %s is not in the files", k)
		}
	}
}

// TestAsyncSlowSyncStillWritesToOS: while an fsync of the log hangs, the
// async flusher goes on handing acknowledged records to the OS, so that a
// crash of the process (SIGKILL), which the OS outlives, does not lose
// them. Before the fix the flusher wrote and synced in turn, and every
// write acknowledged during a slow fsync waited in memory for it to end.
// A copy of the files is what a SIGKILL at that moment would leave.
func TestAsyncSlowSyncStillWritesToOS(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	cfg := testConfig(path, nil)
	cfg.AsyncWrite = true
	cfg.FlushInterval = time.Second
	s := mustOpen(t, cfg)
	defer mustClose(t, s)

	wait, in, release := stallFirst()
	defer release()
	s.smu.Lock()
	s.syncHook = func() error { wait(); return nil }
	s.smu.Unlock()

	mustApply(t, s, set("first", val(t, 1), 0))
	select {
	case <-in:
	case <-time.After(time.Minute):
		t.Fatal("no fsync of the log in a minute")
	}
	// The fsync of "first" hangs; "second" is acknowledged meanwhile.
	mustApply(t, s, set("second", val(t, 2), 0))
	seg := s.n.segment(s.segAfter)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(`"second"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(`"second" was acknowledged but did not reach the log file while an fsync hung`)
		}
	}
	crashed := mustOpen(t, testConfig(filepath.Join(copyDir(t, dir), "storage.json"), nil))
	for _, k := range []string{"first", "second"} {
		if _, ok := getValue(t, crashed, k); !ok {
			t.Errorf("%s is not in a copy of the files taken while an fsync hung", k)
		}
	}
	mustClose(t, crashed)
	release()
}
