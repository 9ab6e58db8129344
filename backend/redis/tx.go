package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/foxstore/foxstore/driver"
)

// unwatchTimeout bounds the UNWATCH that hands a transaction's connection
// back to the pool clean.
const unwatchTimeout = time.Second

// Begin implements driver.Backend. It sends nothing: the transaction takes a
// connection at its first read. When ctx ends, the connection goes back to
// the pool even if nobody rolls the transaction back.
func (s *Store) Begin(ctx context.Context) (driver.Tx, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	t := &tx{s: s, slot: -1, watched: map[string]struct{}{}}
	t.mu.Lock() // the release may run at once, and must see stop set
	defer t.mu.Unlock()
	t.stop = context.AfterFunc(ctx, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.finish()
	})
	return t, nil
}

// tx is an optimistic transaction over WATCH and MULTI/EXEC.
type tx struct {
	s *Store

	mu      sync.Mutex          // guards everything below
	stop    func() bool         // cancels the release at the end of the Begin ctx
	conn    *goredis.Conn       // the connection WATCH runs on; nil until the first Get
	slot    int                 // on a cluster, the hash slot of every key; -1 until known
	watched map[string]struct{} // keys already WATCHed
	armed   bool                // a WATCH may still be active on conn
	broken  bool                // conn failed below the Redis protocol: the pool drops it
	done    bool
}

var (
	errTxEnded  = errors.New("redis transaction already ended")
	errTxBroken = errors.New("the transaction's connection failed and its WATCHes are lost; run the transaction again")
)

// Get implements driver.Tx: WATCH key, then GET it, in one round trip on the
// transaction's own connection, so any change after the read fails the
// commit.
func (t *tx) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return driver.Entry{}, false, errTxEnded
	}
	if t.broken {
		return driver.Entry{}, false, errTxBroken
	}
	if err := t.sameSlot(key); err != nil {
		return driver.Entry{}, false, err
	}
	if t.conn == nil {
		c, err := t.s.txConn(ctx, key)
		if err != nil {
			return driver.Entry{}, false, t.s.txErr(ctx, err)
		}
		t.conn = c
	}
	_, seen := t.watched[key]
	var (
		watch *goredis.Cmd
		get   *goredis.StringCmd
	)
	_, err := t.conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if !seen {
			watch = p.Do(ctx, "watch", key)
		}
		get = p.Get(ctx, key)
		return nil
	})
	if watch != nil {
		// Even a failed WATCH may have reached the server: unwatch on release.
		t.armed = true
		if watch.Err() == nil {
			t.watched[key] = struct{}{}
		}
	}
	if errors.Is(err, goredis.Nil) && (watch == nil || watch.Err() == nil) {
		return driver.Entry{}, false, nil
	}
	if err != nil {
		t.noteBroken(err)
		return driver.Entry{}, false, t.s.txErr(ctx, err)
	}
	e, err := decodeEntry([]byte(get.Val()))
	if err != nil {
		return driver.Entry{}, false, err
	}
	return e, true, nil
}

// sameSlot enforces the cluster rule: one hash slot per transaction.
func (t *tx) sameSlot(key string) error {
	if t.s.cluster == nil {
		return nil
	}
	slot := slotOf(key)
	if t.slot >= 0 && slot != t.slot {
		return crossSlot()
	}
	t.slot = slot
	return nil
}

// Commit implements driver.Tx: MULTI, the writes, EXEC on the connection of
// the WATCHes. A transaction that read nothing has nothing to check and is
// a plain atomic Apply; one that wrote nothing still runs MULTI/EXEC (with a
// PING inside) to check that its reads were one snapshot.
func (t *tx) Commit(ctx context.Context, ws []driver.Write) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errTxEnded
	}
	defer t.finish()
	if t.broken {
		return errTxBroken
	}
	if t.s.cluster != nil && len(ws) > 0 {
		slot, err := writeSlot(ws)
		if err != nil {
			return err
		}
		if t.slot >= 0 && slot != t.slot {
			return crossSlot()
		}
	}
	if t.conn == nil {
		return t.s.Apply(ctx, ws)
	}
	cmds, err := t.conn.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		if len(ws) == 0 {
			p.Ping(ctx)
		}
		groupWrites(ws).queue(ctx, p)
		return nil
	})
	if err == nil || errors.Is(err, goredis.TxFailedErr) || goredis.IsExecAbortError(err) {
		t.armed = false // EXEC ran, and dropped the WATCHes
	}
	if errors.Is(err, goredis.TxFailedErr) {
		return driver.NewError(driver.CodeConflict, "", "",
			errors.New("a key read by the transaction changed before commit"))
	}
	if err != nil {
		t.noteBroken(err)
		for _, c := range cmds {
			if isRedirect(c.Err()) {
				err = c.Err()
				break
			}
		}
		return t.s.txErr(ctx, err)
	}
	return nil
}

// Rollback implements driver.Tx.
func (t *tx) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finish()
	return nil
}

// finish ends the transaction and hands its connection back, without WATCHes
// left on it: UNWATCH, unless the connection is broken anyway. If UNWATCH
// fails, the connection is broken too, and the pool drops it rather than
// reuse it. The caller holds t.mu.
func (t *tx) finish() {
	if t.done {
		return
	}
	t.done = true
	t.stop()
	if t.conn == nil {
		return
	}
	if t.armed && !t.broken {
		ctx, cancel := context.WithTimeout(context.Background(), unwatchTimeout)
		t.conn.Do(ctx, "unwatch")
		cancel()
	}
	t.conn.Close()
	t.conn = nil
}

// noteBroken records an error that did not come from the server: a network
// failure or a timeout, after which the client closes the connection. The
// WATCHes went with it, so the transaction cannot go on.
func (t *tx) noteBroken(err error) {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		t.broken = true
	}
}

// txConn returns a connection of the transaction pool to the server that
// holds key.
func (s *Store) txConn(ctx context.Context, key string) (*goredis.Conn, error) {
	if s.txCluster == nil {
		return s.txSingle.Conn(), nil
	}
	node, err := s.txCluster.MasterForKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return node.Conn(), nil
}

// txErr turns a cluster redirect (the slot moved while the transaction ran)
// into ErrStorageConflict, so that foxstore.Update retries on the new
// master, and wraps anything else.
func (s *Store) txErr(ctx context.Context, err error) error {
	if s.txCluster != nil && isRedirect(err) {
		s.txCluster.ReloadState(context.WithoutCancel(ctx))
		return driver.NewError(driver.CodeConflict, "", "", fmt.Errorf("redis cluster: the hash slot moved during the transaction: %w", err))
	}
	return s.readErr(ctx, err)
}

// isRedirect reports a Redis Cluster error that says to try elsewhere or later.
func isRedirect(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
