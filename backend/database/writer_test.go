package database

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// openSQLiteFile opens the backend on a SQLite file in a temp dir.
func openSQLiteFile(t *testing.T) (*Store, string) {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "w.db")
	cfg := driver.DefaultConfig()
	cfg.Backend = "database"
	cfg.Database = driver.DatabaseConfig{Driver: "sqlite", DSN: dsn, Table: "kv"}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, dsn
}

func putW(t *testing.T, key, val string) driver.Write {
	t.Helper()
	v, err := driver.EncodeValue(val)
	if err != nil {
		t.Fatal(err)
	}
	return driver.Write{Key: key, Entry: driver.Entry{Value: v}}
}

func batchW(t *testing.T, val string, keys ...string) []driver.Write {
	ws := make([]driver.Write, len(keys))
	for i, k := range keys {
		ws[i] = putW(t, k, val)
	}
	return ws
}

// wantValues checks that every key holds val (or, val "", is absent).
func wantValues(t *testing.T, s *Store, val string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		e, ok, err := s.Get(t.Context(), k)
		switch {
		case err != nil:
			t.Fatalf("Get(%s): %v", k, err)
		case val == "" && ok:
			t.Errorf("Get(%s) found a value, want none", k)
		case val != "" && !ok:
			t.Errorf("Get(%s) found nothing, want %q", k, val)
		case val != "":
			if x, _ := e.Value.Decode(); x != val {
				t.Errorf("Get(%s) = %v, want %q", k, x, val)
			}
		}
	}
}

// writerOf returns the store's writer connection, read under the slot.
func writerOf(t *testing.T, s *Store) *writerConn {
	t.Helper()
	release, err := s.lockWriter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	return s.wc
}

// TestWriterConnFailedBatch makes one row of a batch fail inside SQLite (a
// trigger refuses it): nothing of the batch may be applied, and the writer
// connection must not be left inside the failed transaction.
func TestWriterConnFailedBatch(t *testing.T) {
	s, dsn := openSQLiteFile(t)
	ctx := t.Context()
	raw, err := OpenSQL("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON "kv" WHEN NEW.k = CAST('bad' AS BLOB) BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	w := writerOf(t, s)
	if err := s.Apply(ctx, batchW(t, "x", "a", "b", "bad", "c")); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a batch with a refused row = %v, want the trigger's error", err)
	}
	wantValues(t, s, "", "a", "b", "bad", "c")
	if err := s.Apply(ctx, batchW(t, "x", "bad")); err == nil {
		t.Fatal("a refused single write succeeded")
	}
	if err := s.Apply(ctx, batchW(t, "y", "a", "b", "c")); err != nil {
		t.Fatalf("batch after a failed one: %v", err)
	}
	if err := s.Apply(ctx, batchW(t, "z", "d")); err != nil {
		t.Fatalf("write after a failed one: %v", err)
	}
	wantValues(t, s, "y", "a", "b", "c")
	wantValues(t, s, "z", "d")
	if writerOf(t, s) != w {
		t.Error("a failed statement replaced the writer connection; only a broken one should be")
	}
}

// TestWriterConnLockedByOtherProcess holds SQLite's write lock from another
// connection, as another process would: writes wait for it, bounded by
// their ctx, and work again once it is released, on the same connection.
func TestWriterConnLockedByOtherProcess(t *testing.T) {
	s, dsn := openSQLiteFile(t)
	ctx := t.Context()
	w := writerOf(t, s)
	raw, err := OpenSQL("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	other, err := raw.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	for name, ws := range map[string][]driver.Write{
		"single": batchW(t, "x", "a"),
		"batch":  batchW(t, "x", "b", "c"),
	} {
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := s.Apply(wctx, ws)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s write while another connection holds the lock = %v, want the ctx's deadline", name, err)
		}
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, batchW(t, "y", "a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, batchW(t, "z", "d")); err != nil {
		t.Fatal(err)
	}
	wantValues(t, s, "y", "a", "b", "c")
	wantValues(t, s, "z", "d")
	if writerOf(t, s) != w {
		t.Error("waiting for a lock replaced the writer connection")
	}
}

// TestWriterConnReplaced drops the writer connection, as when it breaks:
// the next write takes another from the pool, and the pool does not grow
// past max_open_conns plus the writer.
func TestWriterConnReplaced(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := t.Context()
	if err := s.Apply(ctx, batchW(t, "x", "a", "b")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		release, err := s.lockWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		old := s.wc
		s.dropWriter(old)
		release()
		if err := s.Apply(ctx, batchW(t, "y", "a", "b")); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(ctx, batchW(t, "z", "c")); err != nil {
			t.Fatal(err)
		}
		if w := writerOf(t, s); w == nil || w == old {
			t.Fatal("no new writer connection after the old one was dropped")
		}
	}
	wantValues(t, s, "y", "a", "b")
	wantValues(t, s, "z", "c")
	if st := s.db.Stats(); st.OpenConnections > s.maxConns+1 {
		t.Errorf("%d connections open, want at most %d", st.OpenConnections, s.maxConns+1)
	}
}

// TestWriterConnClose: writes after Close fail with ErrStorageClosed,
// also when the writer connection was dropped before.
func TestWriterConnClose(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := t.Context()
	release, err := s.lockWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.dropWriter(s.wc)
	release()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, batchW(t, "x", "a")); !errors.Is(err, driver.ErrStorageClosed) {
		t.Errorf("Apply after Close = %v, want ErrStorageClosed", err)
	}
	if _, _, err := s.lockWriterConn(ctx); !errors.Is(err, driver.ErrStorageClosed) {
		t.Errorf("lockWriterConn after Close = %v, want ErrStorageClosed", err)
	}
}

// TestSQLiteCommitValidatesReads: SQLite refuses a transaction once
// anything was committed since its snapshot; the store then commits it if
// nothing it read has changed, and only then.
func TestSQLiteCommitValidatesReads(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := t.Context()
	if err := s.Apply(ctx, batchW(t, "0", "x", "y", "gone")); err != nil {
		t.Fatal(err)
	}
	// begin starts a transaction that reads keys.
	begin := func(keys ...string) driver.Tx {
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		for _, k := range keys {
			if _, _, err := tx.Get(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		return tx
	}
	for _, c := range []struct {
		name     string
		read     []string
		other    []driver.Write // committed after the transaction's reads
		conflict bool
	}{
		{"another key written", []string{"x"}, batchW(t, "1", "other"), false},
		{"the key read written", []string{"x", "y"}, batchW(t, "1", "y"), true},
		{"the key read rewritten with its value", []string{"x"}, batchW(t, "0", "x"), false},
		{"an absent key read, then written", []string{"absent"}, batchW(t, "1", "absent"), true},
		{"the key read deleted", []string{"gone"}, []driver.Write{{Key: "gone", Delete: true}}, true},
		{"nothing read", nil, batchW(t, "1", "other"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "w:" + c.name
			tx := begin(c.read...)
			if err := s.Apply(ctx, c.other); err != nil {
				t.Fatal(err)
			}
			err := tx.Commit(ctx, batchW(t, "tx", key))
			switch {
			case c.conflict && !errors.Is(err, driver.ErrStorageConflict):
				t.Errorf("Commit = %v, want a conflict", err)
			case !c.conflict && err != nil:
				t.Errorf("Commit = %v, want nil", err)
			}
			if c.conflict {
				wantValues(t, s, "", key)
			} else {
				wantValues(t, s, "tx", key)
			}
		})
	}

	// Write skew: each reads both keys and writes one; the second to
	// commit must fail.
	t1, t2 := begin("x", "y"), begin("x", "y")
	if err := t1.Commit(ctx, batchW(t, "t1", "x")); err != nil {
		t.Fatal(err)
	}
	if err := t2.Commit(ctx, batchW(t, "t2", "y")); !errors.Is(err, driver.ErrStorageConflict) {
		t.Errorf("second of two transactions in write skew: Commit = %v, want a conflict", err)
	}
	wantValues(t, s, "t1", "x")
	wantValues(t, s, "1", "y")

	// A transaction whose Begin ctx ended is not committed by the check.
	bctx, cancel := context.WithCancel(ctx)
	tx, err := s.Begin(bctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tx.Get(bctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, batchW(t, "2", "other")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(ctx, batchW(t, "tx", "late")); err == nil {
		t.Error("Commit after Begin's ctx ended = nil, want an error")
	}
	wantValues(t, s, "", "late")
}
