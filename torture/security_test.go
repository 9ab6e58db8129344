package torture_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/pattern"
	"github.com/foxstore/foxstore/torture"
)

// Security review (issue 7 §5). Each test goes beyond what storagetest and
// the backends' own tests check: random attacks instead of fixed cases, and
// errors, logs and health reports gathered while faults are injected.

// pieces are what hostile keys, namespace names and patterns are made of:
// the separators a naive prefix encoding would confuse, glob, LIKE and SQL
// metacharacters, and characters at the edges of UTF-8.
var pieces = []string{
	"a", "b", ":", "/", "\\", "*", "?", "[", "]", "^", "-", "!", "%", "_", "'", "\"", "`", ";", " ",
	"é", "\u00ff", "\uffff", "\U0010ffff", "{", "}",
}

func hostile(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range 1 + rng.IntN(n) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// seedOf returns -torture.seed, or a fresh seed, and logs it.
func seedOf(t *testing.T) uint64 {
	s, _ := strconv.ParseUint(flag.Lookup("torture.seed").Value.String(), 10, 64)
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (-torture.seed=%d replays it)", s, s)
	return s
}

// nsView is one namespace view and the keys it must hold.
type nsView struct {
	name string
	s    foxstore.StoragePlugin
	keys map[string]string // key → value
}

// TestSecurityNamespaceEscape builds views with random hostile names, some
// nested, writes random hostile keys into each, and checks that no method of
// any view, with any key or pattern, sees or touches another view's keys
// (CONTRACT §13), on every backend.
func TestSecurityNamespaceEscape(t *testing.T) {
	eachBackend(t, func(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin) {
		rng := rand.New(rand.NewPCG(seedOf(t), 1))
		ctx := t.Context()
		base := newStore(t)
		views := []*nsView{{name: "(base)", s: base}}
		names := []string{"a", "a:", "a:b", "ab", "a\\", "*", "a*"}
		for range 4 {
			names = append(names, hostile(rng, 4))
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			views = append(views, &nsView{name: n, s: foxstore.WithNamespace(base, n)})
		}
		for range 4 {
			parent := views[1+rng.IntN(len(views)-1)]
			n := hostile(rng, 3)
			name := parent.name + "/" + n
			if seen[name] {
				continue // two views of one namespace share their keys
			}
			seen[name] = true
			views = append(views, &nsView{name: name, s: foxstore.WithNamespace(parent.s, n)})
		}
		// The same names as keys: a view's key must never be another view.
		union := map[string]bool{}
		for i, v := range views {
			v.keys = map[string]string{}
			ks := slices.Clone(names)
			for range 6 {
				ks = append(ks, hostile(rng, 5))
			}
			batch := map[string]any{}
			for j, k := range ks {
				val := fmt.Sprintf("%d|%s", i, k)
				var err error
				switch j % 3 {
				case 0:
					err = v.s.Set(ctx, k, val, 0)
				case 1:
					batch[k] = val
				case 2:
					err = foxstore.Update(ctx, v.s, func(tx foxstore.Transaction) error { return tx.Set(k, val) })
				}
				if err != nil {
					t.Fatalf("view %q: write %q: %v", v.name, k, err)
				}
				v.keys[k] = val
				union[k] = true
			}
			if err := v.s.SetBatch(ctx, batch); err != nil {
				t.Fatalf("view %q: SetBatch: %v", v.name, err)
			}
		}
		all := slices.Sorted(maps.Keys(union))
		var patterns []string
		for range 12 {
			patterns = append(patterns, hostile(rng, 6))
		}
		patterns = append(patterns, "*", "?*", "*:*", "*/*", "\\**", "[^a]*", "[\u0000-\U0010ffff]*", "*\uffff*", "[!-~]*")

		check := func(when string) {
			t.Helper()
			for _, v := range views {
				for _, p := range patterns {
					checkPattern(t, when, v, p)
				}
				m, err := v.s.GetBatch(ctx, all)
				if err != nil {
					t.Errorf("%s: view %q: GetBatch: %v", when, v.name, err)
				}
				if !maps.Equal(toStrings(m), v.keys) {
					t.Errorf("%s: view %q: GetBatch of every key of every view = %q, want its own %q", when, v.name, m, v.keys)
				}
				tx, err := v.s.BeginTransaction(ctx)
				if err != nil {
					t.Fatalf("%s: view %q: BeginTransaction: %v", when, v.name, err)
				}
				// A sample keeps the round trips few on server backends.
				for _, i := range rng.Perm(len(all))[:min(len(all), 20)] {
					k := all[i]
					got, err := tx.Get(k)
					want, own := v.keys[k]
					if own && got != want || !own && !errors.Is(err, foxstore.ErrStorageNotFound) {
						t.Errorf("%s: view %q: tx.Get(%q) = %v, %v; own key: %v", when, v.name, k, got, err, own)
					}
					if v.s.Exists(ctx, k) != own {
						t.Errorf("%s: view %q: Exists(%q) = %v, want %v", when, v.name, k, !own, own)
					}
				}
				tx.Rollback()
			}
		}
		check("after the writes")

		// Every view deletes every key it does not hold, one way or
		// another: nothing of the others may go.
		for i, v := range views {
			var foreign []string
			for _, k := range all {
				if _, own := v.keys[k]; !own {
					foreign = append(foreign, k)
				}
			}
			var err error
			switch i % 3 {
			case 0:
				err = v.s.DeleteBatch(ctx, foreign)
			case 1:
				for _, k := range foreign {
					if err = v.s.Delete(ctx, k); err != nil {
						break
					}
				}
			case 2:
				err = foxstore.Update(ctx, v.s, func(tx foxstore.Transaction) error {
					for _, k := range foreign {
						if err := tx.Delete(k); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err != nil {
				t.Fatalf("view %q: deleting foreign keys: %v", v.name, err)
			}
		}
		check("after each view deleted every key it does not hold")
	})
}

// checkPattern compares Keys, Count and Find of pattern p in view v with the
// view's own keys filtered by the same pattern.
func checkPattern(t *testing.T, when string, v *nsView, p string) {
	t.Helper()
	ctx := t.Context()
	cp, cerr := pattern.Compile(p)
	got, err := v.s.Keys(ctx, p)
	if cerr != nil {
		if !errors.Is(err, foxstore.ErrStorageInvalid) {
			t.Errorf("%s: view %q: Keys(%q) of a malformed pattern = %q, %v; want ErrStorageInvalid", when, v.name, p, got, err)
		}
		return
	}
	var want []string
	for k := range v.keys {
		if cp.Match(k) {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) && len(got)+len(want) > 0 {
		t.Errorf("%s: view %q: Keys(%q) = %q, %v; want %q", when, v.name, p, got, err, want)
	}
	if n, err := v.s.Count(ctx, p); err != nil || n != len(want) {
		t.Errorf("%s: view %q: Count(%q) = %d, %v; want %d", when, v.name, p, n, err, len(want))
	}
	m, err := v.s.Find(ctx, p)
	if err != nil || len(m) != len(want) {
		t.Errorf("%s: view %q: Find(%q) = %d keys, %v; want %d", when, v.name, p, len(m), err, len(want))
	}
	for k, val := range m {
		if v.keys[k] != val {
			t.Errorf("%s: view %q: Find(%q) gives %q = %v, which is not this view's", when, v.name, p, k, val)
		}
	}
}

func toStrings(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// logSink collects every log record, attributes included, as text.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// captureLogs sends the default logger and the returned one to a sink for
// the rest of the test.
func captureLogs(t *testing.T) (*slog.Logger, *logSink) {
	sink := &logSink{}
	l := slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	old := slog.Default()
	slog.SetDefault(l)
	t.Cleanup(func() { slog.SetDefault(old) })
	return l, sink
}

// secretChecker gathers every text a store shows (errors, health reports,
// logs) and reports those that contain a secret.
type secretChecker struct {
	t       *testing.T
	secrets []string
	texts   int
}

func (c *secretChecker) text(where, s string) {
	c.t.Helper()
	c.texts++
	for _, sec := range c.secrets {
		if strings.Contains(s, sec) {
			c.t.Errorf("%s shows a secret (%q): %s", where, sec, s)
		}
	}
}

func (c *secretChecker) err(where string, err error) {
	c.t.Helper()
	if err != nil {
		c.text(where, err.Error())
		c.text(where+" (%+v)", fmt.Sprintf("%+v", err))
	}
}

func (c *secretChecker) health(where string, s foxstore.StoragePlugin) {
	c.t.Helper()
	h := s.HealthCheck()
	c.text(where+": HealthCheck", fmt.Sprintf("%s %v", h.Message, h.Details))
}

// secretValue is a value no message may repeat.
const secretValue = "value-secret-7d1e4b"

// exercise runs operations with secret values on s, and reports every
// error and health report to c.
func exercise(ctx context.Context, c *secretChecker, name string, s foxstore.StoragePlugin) {
	c.err(name+": Set", s.Set(ctx, "k", secretValue, 0))
	_, err := s.Get(ctx, "k")
	c.err(name+": Get", err)
	c.err(name+": SetBatch", s.SetBatch(ctx, map[string]any{"a": secretValue, "b": []byte(secretValue)}))
	c.err(name+": SetBatch with an oversized value", s.SetBatch(ctx, map[string]any{"a": secretValue, "big": strings.Repeat("s", 17<<20)}))
	c.err(name+": Set of an unencodable value", s.Set(ctx, "bad", map[string]any{secretValue: make(chan int)}, 0))
	_, err = foxstore.GetAs[int](ctx, s, "k")
	c.err(name+": GetAs[int] of a string", err)
	c.err(name+": Update", foxstore.Update(ctx, s, func(tx foxstore.Transaction) error {
		if _, err := tx.Get("k"); err != nil {
			return err
		}
		return tx.Set("k", secretValue+"2")
	}))
	_, err = s.Find(ctx, "*")
	c.err(name+": Find", err)
	c.health(name, s)
}

// TestSecuritySecretsDatabase gives PostgreSQL and MariaDB stores a DSN with
// a password and secret values, cuts their connections, stops their server
// (the proxy) and runs operations through all of it: no error message, log
// record or health report may show the password, the DSN or a value.
func TestSecuritySecretsDatabase(t *testing.T) {
	for _, c := range []struct {
		drv, env string
		through  func(*testing.T, string, string) (string, string)
		withPass func(dsn, pass string) string
	}{
		{"postgres", envPostgres, pgThrough, func(dsn, pass string) string {
			// postgres://user@host/db → postgres://user:pass@host/db
			return strings.Replace(dsn, "@", ":"+pass+"@", 1)
		}},
		{"mysql", envMySQL, mysqlThrough, func(dsn, pass string) string {
			// user@tcp(...)/db → user:pass@tcp(...)/db
			return strings.Replace(dsn, "@", ":"+pass+"@", 1)
		}},
	} {
		t.Run(c.drv, func(t *testing.T) {
			dsn := serverEnv(t, c.env, "a "+c.drv+" DSN")
			user, _, found := strings.Cut(dsn, "@")
			user = strings.TrimPrefix(user, "postgres://")
			if !found || strings.Count(dsn, "@") != 1 || strings.Contains(user, ":") {
				t.Skipf("%s has a password already or no user@: cannot add one", c.env)
			}
			const pass = "Pw-secret-3c9a!"
			logger, sink := captureLogs(t)
			chk := &secretChecker{t: t, secrets: []string{pass, secretValue}}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()

			// A wrong password against the real server.
			cfg := serverConfig(t, c.drv, dsn)
			cfg.Logger = logger
			cfg.Database.DSN = c.withPass(dsn, pass)
			chk.secrets = append(chk.secrets, cfg.Database.DSN)
			s, err := foxstore.Open(ctx, cfg)
			chk.err("Open with a password", err)
			if err == nil {
				// The server trusts this user whatever the password: use
				// the store to go on.
				exercise(ctx, chk, "with a password", s)
				s.(io.Closer).Close()
			}

			// Through a proxy that cuts, then vanishes.
			target, _ := c.through(t, dsn, "")
			p := torture.NewProxy(t, target)
			_, proxied := c.through(t, dsn, p.Addr())
			cfg.Database.DSN = c.withPass(proxied, pass)
			chk.secrets = append(chk.secrets, cfg.Database.DSN)
			s, err = foxstore.Open(ctx, cfg)
			chk.err("Open through the proxy", err)
			if err == nil {
				defer s.(io.Closer).Close()
				exercise(ctx, chk, "through the proxy", s)
				p.Cut()
				exercise(ctx, chk, "after a cut", s)
				p.Close()
				opCtx, opCancel := context.WithTimeout(ctx, 20*time.Second)
				exercise(opCtx, chk, "with the server gone", s)
				opCancel()
			}
			chk.text("the logs", sink.String())
			t.Logf("%d texts checked, %d bytes of logs", chk.texts, len(sink.String()))
		})
	}
}

// TestSecuritySecretsRedis does the same for a Redis password, which the
// server refuses (it has none, or another).
func TestSecuritySecretsRedis(t *testing.T) {
	addr := serverEnv(t, envRedis, "a Redis address")
	const pass = "Pw-secret-redis-51f0"
	logger, sink := captureLogs(t)
	chk := &secretChecker{t: t, secrets: []string{pass, secretValue}}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for _, user := range []string{"", "fox"} {
		cfg := redisConfig(addr)
		cfg.Logger = logger
		cfg.Redis.Username, cfg.Redis.Password = user, pass
		s, err := foxstore.Open(ctx, cfg)
		chk.err("Open with a password (user "+user+")", err)
		if err == nil {
			exercise(ctx, chk, "with a password", s)
			s.(io.Closer).Close()
		}
	}
	// Through a proxy that cuts and vanishes, with secret values.
	p := torture.NewProxy(t, addr)
	cfg := redisConfig(p.Addr())
	cfg.Logger = logger
	s := openCfg(t, cfg)
	direct := cfg
	direct.Redis.Addrs = []string{addr}
	t.Cleanup(func() { cleanRedis(t, direct) })
	exercise(ctx, chk, "through the proxy", s)
	p.Cut()
	exercise(ctx, chk, "after a cut", s)
	p.Close()
	opCtx, opCancel := context.WithTimeout(ctx, 20*time.Second)
	exercise(opCtx, chk, "with the server gone", s)
	opCancel()
	chk.text("the logs", sink.String())
	t.Logf("%d texts checked, %d bytes of logs", chk.texts, len(sink.String()))
}

// TestSecuritySecretsFile damages a file store that holds secret values in
// every way recovery handles (a torn log, a flipped byte in the log and in
// the snapshot): the warnings and errors name files, never values.
func TestSecuritySecretsFile(t *testing.T) {
	logger, sink := captureLogs(t)
	chk := &secretChecker{t: t, secrets: []string{secretValue}}
	ctx := t.Context()
	for _, damage := range []string{"torn log", "log byte", "snapshot byte", "everything"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			cfg := fileConfig(dir, false)
			cfg.Logger = logger
			s := openCfg(t, cfg)
			exercise(ctx, chk, "file store", s)
			for i := range 20 {
				s.Set(ctx, fmt.Sprintf("s%d", i), fmt.Sprintf("%s-%d", secretValue, i), 0)
			}
			s.(io.Closer).Close()
			s = openCfg(t, cfg) // a snapshot now holds the values
			for i := range 5 {
				s.Set(ctx, fmt.Sprintf("t%d", i), fmt.Sprintf("%s-log-%d", secretValue, i), 0)
			}
			s.(io.Closer).Close()
			files, _ := os.ReadDir(dir)
			for _, f := range files {
				path := dir + "/" + f.Name()
				b, err := os.ReadFile(path)
				if err != nil || len(b) < 10 || !bytes.Contains(b, []byte(secretValue)) {
					continue
				}
				isLog := strings.Contains(f.Name(), ".log")
				switch {
				case damage == "torn log" && isLog:
					b = b[:len(b)-7]
				case damage == "log byte" && isLog, damage == "snapshot byte" && !isLog, damage == "everything":
					i := bytes.Index(b, []byte(secretValue))
					b[i+3] ^= 0x20
				default:
					continue
				}
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s2, err := foxstore.Open(ctx, cfg)
			chk.err("Open after damage ("+damage+")", err)
			if err == nil {
				exercise(ctx, chk, "recovered file store", s2)
				s2.(io.Closer).Close()
			}
		})
	}
	chk.text("the logs", sink.String())
	t.Logf("%d texts checked, %d bytes of logs", chk.texts, len(sink.String()))
}
