package database_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/foxstore/foxstore"
)

// proxy is a loopback TCP proxy that a test can cut (connections are reset
// and new ones refused), stall (bytes stop flowing, connections stay open)
// and restore.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    *sync.Cond
	down    bool // guarded by mu
	stalled bool // guarded by mu
	closed  bool // guarded by mu
	conns   map[net.Conn]struct{}
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, s) {
			continue
		}
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down || p.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled && !p.down && !p.closed {
				p.cond.Wait()
			}
			gone := p.down || p.closed
			p.mu.Unlock()
			if gone {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut resets every connection and refuses new ones, like a server that
// went away.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.cond.Broadcast()
}

// stall stops all traffic without closing anything, like a network that
// drops packets.
func (p *proxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.stalled = false, false
	p.cond.Broadcast()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
}

// viaProxy returns tg's DSN pointed at a new proxy to its server, with a
// password in it where the server ignores it (PostgreSQL trust auth), so
// that the test can check no message shows it.
func viaProxy(t *testing.T, tg target) (dsn, secret string, p *proxy) {
	switch tg.driver {
	case "postgres":
		u, err := url.Parse(tg.dsn)
		if err != nil {
			t.Fatal(err)
		}
		p = newProxy(t, u.Host)
		u.Host = p.addr()
		secret = "Pr0xy-Secret-Pw"
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				secret = pw // the server checks it: keep it
			}
			u.User = url.UserPassword(u.User.Username(), secret)
		}
		return u.String(), secret, p
	case "mysql":
		mc, err := mysql.ParseDSN(tg.dsn)
		if err != nil {
			t.Fatal(err)
		}
		p = newProxy(t, mc.Addr)
		mc.Addr = p.addr()
		return mc.FormatDSN(), mc.Passwd, p
	}
	t.Fatalf("no proxy for %s", tg.driver)
	return
}

// TestServerGoesAway cuts the connection to the server in the middle of a
// stream of writes and reads: failed calls carry the read or write code
// and no password, no acknowledged write is lost, and the store works
// again by itself once the server is back.
func TestServerGoesAway(t *testing.T) {
	for _, drv := range []string{"postgres", "mysql"} {
		t.Run(drv, func(t *testing.T) {
			tg := serverTarget(t, drv)
			dsn, secret, p := viaProxy(t, tg)
			cfg := tg.config(t)
			cfg.Database.DSN = dsn
			st := openCfg(t, cfg)

			var (
				acked    sync.Map // key -> value of every Set that returned nil
				nAcked   atomic.Int64
				nFailed  atomic.Int64
				problems = make(chan string, 100)
			)
			report := func(format string, args ...any) {
				select {
				case problems <- fmt.Sprintf(format, args...):
				default:
				}
			}
			check := func(op string, err error, code int) {
				if err == nil {
					return
				}
				nFailed.Add(1)
				if c := foxstore.CodeOf(err); c != code {
					report("%s: code %d, want %d: %v", op, c, code, err)
				}
				if secret != "" && strings.Contains(err.Error(), secret) {
					report("%s: the error shows the password: %v", op, err)
				}
				if strings.Contains(err.Error(), dsn) {
					report("%s: the error shows the DSN: %v", op, err)
				}
			}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 3 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						k, v := fmt.Sprintf("w%d:%06d", w, i), fmt.Sprintf("value %d/%d", w, i)
						err := st.Set(ctx, k, v, 0)
						check("Set", err, foxstore.CodeWriteFailed)
						if err == nil {
							acked.Store(k, v)
							nAcked.Add(1)
						}
						_, err = st.Get(ctx, k)
						if err != nil && foxstore.CodeOf(err) != foxstore.CodeNotFound {
							check("Get", err, foxstore.CodeReadFailed)
						}
						_, err = st.Keys(ctx, fmt.Sprintf("w%d:*", w))
						check("Keys", err, foxstore.CodeReadFailed)
						cancel()
					}
				})
			}
			waitFor(t, "writes before the cut", func() bool { return nAcked.Load() >= 60 })
			p.cut()
			before := nFailed.Load()
			waitFor(t, "failures while the server is away", func() bool { return nFailed.Load() >= before+10 })
			p.restore()
			after := nAcked.Load()
			waitFor(t, "writes after the server came back", func() bool { return nAcked.Load() >= after+60 })
			close(stop)
			wg.Wait()
			close(problems)
			for pr := range problems {
				t.Error(pr)
			}

			// Every acknowledged write is there, seen through the proxy and
			// by a store that connects directly.
			direct := tg.config(t)
			direct.Database.Table = cfg.Database.Table
			st2 := openCfg(t, direct)
			for _, s := range []foxstore.StoragePlugin{st, st2} {
				n := 0
				acked.Range(func(k, v any) bool {
					n++
					got, err := s.Get(t.Context(), k.(string))
					if err != nil || got != v {
						t.Errorf("acknowledged write lost: Get(%s) = %v, %v; want %v", k, got, err, v)
						return false
					}
					return true
				})
				if n == 0 {
					t.Fatal("no write was acknowledged")
				}
			}
			t.Logf("%d writes acknowledged, %d calls failed while the server was away", nAcked.Load(), nFailed.Load())
			if h := st.HealthCheck(); !h.Healthy {
				t.Errorf("HealthCheck after recovery: %+v", h)
			}
		})
	}
}

// TestServerCutMidTransaction cuts the connection of an open transaction:
// its commit fails with a write error and applies nothing, and the next
// transaction works once the server is back.
func TestServerCutMidTransaction(t *testing.T) {
	for _, drv := range []string{"postgres", "mysql"} {
		t.Run(drv, func(t *testing.T) {
			tg := serverTarget(t, drv)
			dsn, _, p := viaProxy(t, tg)
			cfg := tg.config(t)
			cfg.Database.DSN = dsn
			st := openCfg(t, cfg)
			ctx := t.Context()
			if err := st.Set(ctx, "k", "old", 0); err != nil {
				t.Fatal(err)
			}
			tx, err := st.BeginTransaction(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Get("k"); err != nil {
				t.Fatal(err)
			}
			tx.Set("k", "new")
			tx.Set("other", 1)
			p.cut()
			err = tx.Commit()
			if c := foxstore.CodeOf(err); c != foxstore.CodeWriteFailed {
				t.Errorf("Commit over a cut connection = %v (code %d), want code %d", err, c, foxstore.CodeWriteFailed)
			}
			p.restore()
			err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
				v, err := tx.Get("k")
				if err != nil {
					return err
				}
				if v != "old" {
					return fmt.Errorf("k = %v after a failed commit, want old", v)
				}
				return tx.Set("k", "after")
			})
			if err != nil {
				t.Fatalf("Update after the server came back: %v", err)
			}
			if st.Exists(ctx, "other") {
				t.Error("a write of the failed commit was applied")
			}
		})
	}
}

// TestServerStalls stops all traffic without closing connections: calls
// return by their ctx's deadline, with the context error and their code,
// instead of hanging.
func TestServerStalls(t *testing.T) {
	for _, drv := range []string{"postgres", "mysql"} {
		t.Run(drv, func(t *testing.T) {
			tg := serverTarget(t, drv)
			dsn, _, p := viaProxy(t, tg)
			cfg := tg.config(t)
			cfg.Database.DSN = dsn
			st := openCfg(t, cfg)
			if err := st.Set(t.Context(), "k", "v", 0); err != nil {
				t.Fatal(err)
			}
			txCtx, txCancel := context.WithTimeout(t.Context(), time.Second)
			defer txCancel()
			tx, err := st.BeginTransaction(txCtx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Get("k"); err != nil {
				t.Fatal(err)
			}
			tx.Set("k", "from tx")
			p.stall()
			ops := []struct {
				name string
				code int
				run  func(ctx context.Context) error
			}{
				{"Get", foxstore.CodeReadFailed, func(ctx context.Context) error { _, err := st.Get(ctx, "k"); return err }},
				{"Set", foxstore.CodeWriteFailed, func(ctx context.Context) error { return st.Set(ctx, "k", "w", 0) }},
				{"Keys", foxstore.CodeReadFailed, func(ctx context.Context) error { _, err := st.Keys(ctx, "*"); return err }},
			}
			for _, op := range ops {
				done := make(chan error, 1)
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				go func() { done <- op.run(ctx) }()
				select {
				case err := <-done:
					if !errors.Is(err, context.DeadlineExceeded) || foxstore.CodeOf(err) != op.code {
						t.Errorf("%s on a stalled server = %v, want DeadlineExceeded with code %d", op.name, err, op.code)
					}
				case <-time.After(time.Minute):
					t.Fatalf("%s on a stalled server ignored its ctx", op.name)
				}
				cancel()
			}
			done := make(chan error, 1)
			go func() {
				err := tx.Commit()
				tx.Rollback()
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) || foxstore.CodeOf(err) != foxstore.CodeWriteFailed {
					t.Errorf("Commit on a stalled server = %v, want DeadlineExceeded with code %d", err, foxstore.CodeWriteFailed)
				}
			case <-time.After(time.Minute):
				t.Fatal("Commit or Rollback on a stalled server ignored the transaction's ctx")
			}
			p.restore()
			waitFor(t, "a Get once traffic flows again", func() bool {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				v, err := st.Get(ctx, "k")
				return err == nil && v == "v"
			})
		})
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// minute (a bound on a hang, not a timing claim).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	give := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(give) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPostgresStaleConnections cuts every pooled connection while the
// server stays reachable, as a server restart or a proxy would, and checks
// that BeginTransaction moves on to a new connection instead of failing on
// the dead ones the pool still holds. (A statement cannot be retried that
// way once it was sent, but a BEGIN that failed changed nothing.)
func TestPostgresStaleConnections(t *testing.T) {
	tg := serverTarget(t, "postgres")
	dsn, _, p := viaProxy(t, tg)
	cfg := tg.config(t)
	cfg.Database.DSN = dsn
	st := openCfg(t, cfg)
	ctx := t.Context()
	if err := st.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	// Open several transactions at once, twice, so that the pool holds as
	// many connections, all checked and used just now: pgx's adapter pings
	// an idle connection before reusing it only after a second.
	for range 2 {
		var txs []foxstore.Transaction
		for range 4 {
			tx, err := st.BeginTransaction(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Get("k"); err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
		for _, tx := range txs {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.cut()
	p.restore()
	tx, err := st.BeginTransaction(ctx)
	if err != nil {
		t.Fatalf("BeginTransaction after the pooled connections broke: %v", err)
	}
	if _, err := tx.Get("k"); err != nil {
		t.Fatalf("tx.Get: %v", err)
	}
	if err := tx.Set("k", "tx"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestPostgresRollbackOnStalledServer checks that Rollback of a transaction
// whose ctx never ends still returns when the server stops answering.
func TestPostgresRollbackOnStalledServer(t *testing.T) {
	tg := serverTarget(t, "postgres")
	dsn, _, p := viaProxy(t, tg)
	cfg := tg.config(t)
	cfg.Database.DSN = dsn
	st := openCfg(t, cfg)
	if err := st.Set(t.Context(), "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	tx, err := st.BeginTransaction(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get("k"); err != nil {
		t.Fatal(err)
	}
	p.stall()
	done := make(chan error, 1)
	go func() { done <- tx.Rollback() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Rollback on a stalled server did not return")
	}
	p.restore()
	waitFor(t, "a Get once traffic flows again", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		v, err := st.Get(ctx, "k")
		return err == nil && v == "v"
	})
}
