package database

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foxstore/foxstore/driver"
)

// Notices of other processes' writes (driver.Watcher), on PostgreSQL.
//
// Every store on PostgreSQL announces the keys it writes, once the write has
// returned, with pg_notify on a channel named after its table
// ("foxstore:schema.table"), and the stores whose front keeps a read cache
// LISTEN on that channel and drop those keys. Both go through one connection
// per store, outside the pool (the notifier), so the write path only hands
// the keys over under a mutex: no round trip, no statement inside the
// write's transaction. Writes that follow one another within notifyEvery
// share one announcement.
//
// Why not triggers that NOTIFY from the writing transaction, which would
// also see writers other than foxstore: PostgreSQL makes every transaction
// that notifies take one lock, for the whole cluster, from just before its
// commit until after it (so that the queue holds notifications in commit
// order), WAL flush included. Writes to the table would then commit one at
// a time instead of sharing flushes: on the test server, 8 goroutines
// doing Sets ran at about a sixth of their rate with a statement-level
// trigger that notified, and 8 pgbench clients upserting at 0.4 times.
// The notifier commits its own transactions with synchronous_commit off (a
// notification is not durable anyway), so it holds that lock for
// microseconds, and writers never take it.
//
// What is not announced, and so shows in other stores' caches only when
// cache_ttl runs out: writes by other programs and by foxstore versions
// that do not announce, and a write whose process died between its commit
// and its announcement. Sweeps are not announced either, and need not be:
// a cached entry keeps its deadline, and the front hides it from then on.
//
// The payload is the written keys in standard base64 (stored keys are bytes
// that need not be valid text), comma separated, in as many notifications
// as the server's payload limit (7,999 bytes by default) requires, up to
// maxNotifyPayloads; more keys than that are announced as "*". A listener
// takes "*", an empty payload and anything it cannot decode to mean that
// any key may have changed, and drops its whole cache: a bare NOTIFY on the
// channel clears the caches of every store on the table.

const (
	// maxNotifyPayloads bounds the notifications one announcement sends;
	// more keys than fit in them are announced as "*".
	maxNotifyPayloads = 16
	// maxPendingBytes bounds the keys a store holds for announcement
	// (encoded, separators included) before it gives up naming them.
	maxPendingBytes = maxNotifyPayloads * 8000
	// notifyIdle is how long a notifier connection that only announces
	// stays open without anything to announce.
	notifyIdle = 5 * time.Minute
	// notifySendTimeout bounds one announcement; notifyFlushTimeout bounds
	// the last one, which Close waits for.
	notifySendTimeout  = 30 * time.Second
	notifyFlushTimeout = 2 * time.Second
	// notifyEvery spaces announcements: a write after a quiet spell is
	// announced at once, and the writes that follow within notifyEvery
	// wait and share the next announcement, so that a busy store sends at
	// most a couple of hundred a second, not one per write. (At one per
	// write, the notifier's transactions cost the writers on the test
	// server up to a fifth of their rate; spaced by 5 ms, nothing
	// measurable: BenchmarkAnnounce.)
	notifyEvery = 5 * time.Millisecond
	// A failed connection is tried again after a pause that grows from
	// notifyBackoffMin to notifyBackoffMax.
	notifyBackoffMin = 100 * time.Millisecond
	notifyBackoffMax = 30 * time.Second
)

// purgeAll is the payload that stands for "any key may have changed".
const purgeAll = "*"

// notifier owns a store's notification connection: it announces the keys
// the store writes and, while the front watches, listens for other stores'
// announcements. One goroutine (run) uses the connection; the others hand
// it work under mu and wake it.
type notifier struct {
	base   *pgx.ConnConfig // the pool's connection settings; copied, never changed
	table  string
	log    *slog.Logger
	redact func(error) error

	ctx    context.Context // ends when the store closes
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	done     chan struct{}       // closed when run returns; nil until run starts
	pending  map[string]struct{} // keys written since the last announcement
	pendSize int                 // their encoded size, separators included
	overflow bool                // too many keys to name: announce purgeAll
	watch    *watch              // nil when the front does not watch
	// listening says whether run's connection is LISTENing. Set by run.
	listening bool
	// lastErr is why the connection last failed; nil once a round on it
	// went through.
	lastErr error
	// wake interrupts run's wait; nil when run is not waiting.
	wake context.CancelFunc
}

// watch is one driver.Watcher.Watch call.
type watch struct {
	fn   func(keys []string)
	stop <-chan struct{}
	// ready gets the outcome of the first LISTEN attempt; reported says
	// it was sent. Once reported, a LISTEN that succeeds again (after the
	// connection was lost, or failed first) calls fn(nil).
	ready    chan error
	reported bool
}

func newNotifier(base *pgx.ConnConfig, table string, log *slog.Logger, redact func(error) error) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{
		base: base, table: table, log: log, redact: redact,
		ctx: ctx, cancel: cancel,
		pending: map[string]struct{}{},
	}
}

// Watch implements driver.Watcher. On PostgreSQL it LISTENs for the keys
// other stores on the same table write and returns once the first LISTEN
// went through. If it could not connect, it returns the error, so that the
// front warns, and keeps trying in the background: once it is listening, it
// calls fn(nil) (anything may have changed meanwhile) and reports from then
// on. It does the same after a lost connection.
//
// SQLite and MySQL/MariaDB have nothing to watch with: Watch returns nil
// and does nothing, and cache_ttl alone bounds how long another process's
// write can stay hidden behind a cached value.
func (s *Store) Watch(stop <-chan struct{}, fn func(keys []string)) error {
	if s.notify == nil {
		return nil
	}
	if s.closed.Load() {
		return errClosed
	}
	return s.notify.startWatch(stop, fn)
}

func (n *notifier) startWatch(stop <-chan struct{}, fn func([]string)) error {
	w := &watch{fn: fn, stop: stop, ready: make(chan error, 1)}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return errClosed
	}
	n.watch = w
	go n.unwatchOnStop(w)
	switch {
	case n.listening:
		// The connection already listens for a watch that just stopped.
		w.reported = true
		n.mu.Unlock()
		return nil
	case n.lastErr != nil:
		// run is waiting to connect again: do not wait for it.
		w.reported = true
		err := n.lastErr
		n.startLocked()
		n.mu.Unlock()
		return err
	}
	n.startLocked()
	n.wakeLocked()
	n.mu.Unlock()
	select {
	case err := <-w.ready:
		return err
	case <-n.ctx.Done():
		return errClosed
	}
}

// unwatchOnStop ends w when the front closes its stop channel.
func (n *notifier) unwatchOnStop(w *watch) {
	select {
	case <-w.stop:
	case <-n.ctx.Done():
		return
	}
	n.mu.Lock()
	if n.watch == w {
		n.watch = nil
		n.wakeLocked()
	}
	n.mu.Unlock()
}

// announce hands the keys of ws to run, to be announced to other stores.
// It runs after every write, whether it succeeded or not (a write that
// failed may still have committed), and never waits for the server.
func (n *notifier) announce(ws []driver.Write) {
	if n == nil || len(ws) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if !n.overflow {
		for _, w := range ws {
			if _, dup := n.pending[w.Key]; dup {
				continue
			}
			n.pending[w.Key] = struct{}{}
			n.pendSize += base64.StdEncoding.EncodedLen(len(w.Key)) + 1
		}
		if n.pendSize > maxPendingBytes {
			n.overflowLocked()
		}
	}
	n.startLocked()
	n.wakeLocked()
}

// overflowLocked gives up naming the pending keys: the next announcement
// is purgeAll.
func (n *notifier) overflowLocked() {
	n.overflow = true
	clear(n.pending)
	n.pendSize = 0
}

func (n *notifier) startLocked() {
	if n.done == nil {
		n.done = make(chan struct{})
		go n.run(n.done)
	}
}

func (n *notifier) wakeLocked() {
	if n.wake != nil {
		n.wake()
		n.wake = nil
	}
}

// close stops run, which first sends what is pending if it is connected
// (bounded by notifyFlushTimeout), and waits for it.
func (n *notifier) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.closed = true
	done := n.done
	n.mu.Unlock()
	n.cancel()
	if done != nil {
		<-done
	}
}

// conn is run's connection and what it learnt when it connected.
type notifyConn struct {
	*pgx.Conn
	channel string
	limit   int       // longest payload the server takes, in bytes
	pid     uint32    // its server process, whose own notifications it ignores
	sent    time.Time // when it last announced
}

// run owns the connection: it connects when there is something to
// announce or a watch, sends announcements, keeps the LISTEN in step with
// the watch, and waits for notifications or work. After a failure it
// connects again with growing pauses, until a round goes through.
func (n *notifier) run(done chan<- struct{}) {
	defer close(done)
	var (
		c       *notifyConn
		backoff time.Duration // pause before the next connection; 0 while all is well
	)
	defer func() {
		if c != nil {
			n.send(c) // what was written just before Close
			n.closeConn(c)
		}
		n.mu.Lock()
		n.listening = false
		n.mu.Unlock()
	}()
	for n.ctx.Err() == nil {
		if c == nil {
			if !n.needConn() {
				n.wait(nil, 0)
				continue
			}
			if backoff > 0 {
				n.pause(backoff/2 + rand.N(backoff/2+1))
				if n.ctx.Err() != nil {
					return
				}
			}
			var err error
			if c, err = n.connect(n.ctx); err != nil {
				if n.ctx.Err() == nil {
					n.failed(err, backoff == 0)
				}
				backoff = min(max(2*backoff, notifyBackoffMin), notifyBackoffMax)
				continue
			}
		}
		idle, err := n.step(c)
		if err == nil {
			if backoff > 0 {
				n.log.Info("foxstore: the PostgreSQL notification connection works again", "table", n.table)
				backoff = 0
			}
			n.mu.Lock()
			n.lastErr = nil
			n.mu.Unlock()
			if !idle {
				continue
			}
		}
		n.closeConn(c)
		c = nil
		n.mu.Lock()
		n.listening = false
		n.mu.Unlock()
		if err != nil && n.ctx.Err() == nil {
			// The watch gets fn(nil) once the next connection listens:
			// what other stores announced meanwhile is lost.
			n.failed(n.redact(err), backoff == 0)
			backoff = min(max(2*backoff, notifyBackoffMin), notifyBackoffMax)
		}
	}
}

func (n *notifier) hasPending() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.overflow || len(n.pending) > 0
}

// needConn says whether run has anything to do with a connection.
func (n *notifier) needConn() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.watch != nil || n.overflow || len(n.pending) > 0
}

// failed records err for Watch, answers a Watch that waits for its first
// LISTEN, and logs the first failure after things worked.
func (n *notifier) failed(err error, first bool) {
	n.mu.Lock()
	n.lastErr = err
	if w := n.watch; w != nil && !w.reported {
		w.reported = true
		w.ready <- err
	}
	n.mu.Unlock()
	if first {
		n.log.Warn("foxstore: the PostgreSQL notification connection failed; retrying (meanwhile cached values may be stale for up to cache_ttl)",
			"table", n.table, "err", err)
	}
}

// step does one round on c: LISTEN or UNLISTEN as the watch requires,
// send what is pending, then wait for a notification or for work. idle
// reports a connection that has had nothing to do for notifyIdle.
func (n *notifier) step(c *notifyConn) (idle bool, err error) {
	if err := n.syncListen(c); err != nil {
		return false, err
	}
	if err := n.send(c); err != nil {
		return false, err
	}
	n.mu.Lock()
	listening := n.listening
	n.mu.Unlock()
	if !listening {
		return n.wait(nil, notifyIdle)
	}
	return n.wait(c, 0)
}

// syncListen LISTENs when there is a watch and UNLISTENs when there is
// none. After a LISTEN it tells the watch: its first outcome, or fn(nil)
// when it had been listening before (notices may have been missed).
func (n *notifier) syncListen(c *notifyConn) error {
	n.mu.Lock()
	w, listening := n.watch, n.listening
	n.mu.Unlock()
	switch {
	case w != nil && !listening:
		if _, err := c.Exec(n.ctx, "LISTEN "+pgx.Identifier{c.channel}.Sanitize()); err != nil {
			return err
		}
		n.mu.Lock()
		n.listening = true
		w = n.watch // it may have changed meanwhile; the LISTEN serves any
		purge := false
		if w != nil {
			if w.reported {
				purge = true
			} else {
				w.reported = true
				w.ready <- nil
			}
		}
		n.mu.Unlock()
		if purge {
			n.report(w, nil)
		}
	case w == nil && listening:
		if _, err := c.Exec(n.ctx, "UNLISTEN *"); err != nil {
			return err
		}
		n.mu.Lock()
		n.listening = false
		n.mu.Unlock()
	}
	return nil
}

// send announces the pending keys in as few notifications as the payload
// limit allows. If that fails, they stay pending: announcing a key twice
// costs nothing.
//
// A send that Close interrupts still has notifyFlushTimeout to finish.
func (n *notifier) send(c *notifyConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifySendTimeout)
	defer cancel()
	stop := context.AfterFunc(n.ctx, func() { time.AfterFunc(notifyFlushTimeout, cancel) })
	defer stop()
	if wait := notifyEvery - time.Since(c.sent); wait > 0 && n.ctx.Err() == nil && n.hasPending() {
		// Sent a moment ago: let more writes join this announcement.
		n.pause(wait)
	}
	n.mu.Lock()
	keys, overflow := n.pending, n.overflow
	if !overflow && len(keys) == 0 {
		n.mu.Unlock()
		return nil
	}
	n.pending, n.pendSize, n.overflow = map[string]struct{}{}, 0, false
	n.mu.Unlock()
	var payloads []string
	if !overflow {
		payloads = pack(keys, c.limit)
	}
	if payloads == nil {
		payloads = []string{purgeAll}
	}
	c.sent = time.Now()
	_, err := c.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", c.channel, payloads)
	if err != nil {
		n.mu.Lock()
		if overflow {
			n.overflow = true
		} else if !n.overflow {
			for k := range keys {
				if _, dup := n.pending[k]; !dup {
					n.pending[k] = struct{}{}
					n.pendSize += base64.StdEncoding.EncodedLen(len(k)) + 1
				}
			}
			if n.pendSize > maxPendingBytes {
				n.overflowLocked()
			}
		}
		n.mu.Unlock()
	}
	return err
}

// wait blocks until there is work for run (or the store closes). With c, it
// also returns when a notification arrives, and reports it, or when c
// fails; without, with idle > 0, it reports whether idle passed without
// work.
func (n *notifier) wait(c *notifyConn, idle time.Duration) (bool, error) {
	n.mu.Lock()
	if n.ctx.Err() != nil || n.overflow || len(n.pending) > 0 || (n.watch != nil) != n.listening {
		n.mu.Unlock()
		return false, nil
	}
	ctx, cancel := context.WithCancel(n.ctx)
	defer cancel()
	n.wake = cancel
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.wake = nil
		n.mu.Unlock()
	}()
	if c == nil {
		var timeout <-chan time.Time
		if idle > 0 {
			t := time.NewTimer(idle)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-timeout:
			return true, nil
		}
	}
	// The wait ends with ctx; pgx then interrupts the read with a deadline
	// and leaves the connection usable.
	note, err := c.WaitForNotification(ctx)
	if err != nil {
		if ctx.Err() != nil && !c.IsClosed() {
			return false, nil
		}
		return false, err
	}
	if note.PID == c.pid || note.Channel != c.channel {
		return false, nil // this store's own announcement
	}
	n.mu.Lock()
	w := n.watch
	n.mu.Unlock()
	if w != nil {
		n.report(w, decodePayload(note.Payload))
	}
	return false, nil
}

// report calls w.fn unless w has stopped. Only run calls it, so fn is
// called from one goroutine at a time.
func (n *notifier) report(w *watch, keys []string) {
	select {
	case <-w.stop:
	default:
		w.fn(keys)
	}
}

// pause sleeps for d or until the store closes.
func (n *notifier) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.ctx.Done():
	}
}

// connect opens the notification connection with the pool's settings and
// learns the channel and the payload limit. It also turns synchronous
// commit off for the connection: notifications are not durable anyway, and
// a committing notifier must not hold PostgreSQL's notification lock for
// the length of a WAL flush.
func (n *notifier) connect(ctx context.Context) (*notifyConn, error) {
	cfg := n.base.Copy()
	if cfg.RuntimeParams["application_name"] == "foxstore" {
		cfg.RuntimeParams["application_name"] = "foxstore notify"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, n.redact(err)
	}
	var (
		schema       string
		block, ident int
	)
	err = conn.QueryRow(ctx, `SELECT ns.nspname, current_setting('block_size')::int, current_setting('max_identifier_length')::int,
		set_config('synchronous_commit', 'off', false)
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE c.oid = $1::regclass`,
		pgx.Identifier{n.table}.Sanitize()).Scan(&schema, &block, &ident, nil)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		conn.Close(cctx)
		cancel()
		return nil, n.redact(fmt.Errorf("prepare the notification connection: %w", err))
	}
	return &notifyConn{
		Conn:    conn,
		channel: channelName(schema, n.table, ident),
		// PostgreSQL's limit: BLCKSZ - NAMEDATALEN - 128 bytes, terminating
		// NUL included (async.c, NOTIFY_PAYLOAD_MAX_LENGTH).
		limit: block - (ident + 1) - 128 - 1,
		pid:   conn.PgConn().PID(),
	}, nil
}

func (n *notifier) closeConn(c *notifyConn) {
	ctx, cancel := cleanupContext(context.Background())
	defer cancel()
	c.Close(ctx)
}

// channelName is the notification channel of table in schema:
// foxstore:schema.table, or a hash of it when that is longer than the
// server's identifiers (63 bytes by default).
func channelName(schema, table string, maxLen int) string {
	name := schema + "." + table
	if len("foxstore:"+name) <= maxLen {
		return "foxstore:" + name
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("foxstore:%016x", h.Sum64())
}

// pack encodes keys as payloads of at most limit bytes each; nil when that
// takes more than maxNotifyPayloads of them.
func pack(keys map[string]struct{}, limit int) []string {
	var (
		out []string
		cur []byte
	)
	for k := range keys {
		size := base64.StdEncoding.EncodedLen(len(k))
		if size > limit {
			return nil
		}
		if len(cur) > 0 && len(cur)+1+size > limit {
			if len(out) == maxNotifyPayloads-1 {
				return nil
			}
			out = append(out, string(cur))
			cur = cur[:0]
		}
		if len(cur) > 0 {
			cur = append(cur, ',')
		}
		cur = base64.StdEncoding.AppendEncode(cur, []byte(k))
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// decodePayload returns the keys a notification names, or nil (every key)
// for purgeAll, an empty payload or one it cannot read.
func decodePayload(p string) []string {
	if p == "" || p == purgeAll {
		return nil
	}
	keys := make([]string, 0, strings.Count(p, ",")+1)
	for enc := range strings.SplitSeq(p, ",") {
		k, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(k) == 0 {
			return nil
		}
		keys = append(keys, string(k))
	}
	return keys
}
