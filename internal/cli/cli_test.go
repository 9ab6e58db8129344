package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want func(Target) bool
		desc string
	}{
		{"memory://", func(t Target) bool { return t.Config.Backend == "memory" }, "memory"},
		{"file:///tmp/s.json", func(t Target) bool { return t.Config.Backend == "file" && t.Config.FilePath == "/tmp/s.json" }, "file /tmp/s.json"},
		{"file:///C:/data/s.json", func(t Target) bool { return t.Config.FilePath == "C:/data/s.json" }, "file C:/data/s.json"},
		{"sqlite:///tmp/x.db?namespace=app", func(t Target) bool {
			return t.Config.Backend == "database" && t.Config.Database.Driver == "sqlite" && t.Config.Database.DSN == "/tmp/x.db" && t.Config.Namespace == "app"
		}, `sqlite /tmp/x.db namespace "app"`},
		{"postgres://u:secret@db:5432/prod?sslmode=disable&table=kv", func(t Target) bool {
			return t.Config.Database.Driver == "postgres" && t.Config.Database.DSN == "postgres://u:secret@db:5432/prod?sslmode=disable" && t.Config.Database.Table == "kv"
		}, "postgres postgres://db:5432/prod?sslmode=disable"},
		{"mysql://root:pw@tcp(127.0.0.1:3306)/test", func(t Target) bool {
			return t.Config.Database.Driver == "mysql" && t.Config.Database.DSN == "root:pw@tcp(127.0.0.1:3306)/test"
		}, "mysql tcp(127.0.0.1:3306)/test"},
		{"redis://me:pw@cache:6380/2?addr=cache2:6380", func(t Target) bool {
			r := t.Config.Redis
			return t.Config.Backend == "redis" && r.Username == "me" && r.Password == "pw" && r.DB == 2 &&
				len(r.Addrs) == 2 && r.Addrs[0] == "cache:6380" && r.Addrs[1] == "cache2:6380"
		}, "redis cache:6380,cache2:6380 db 2"},
		{"bbolt:///home/me/musicfox.db?bucket=b", func(t Target) bool { return t.Bolt == "/home/me/musicfox.db" && t.Bucket == "b" }, "bbolt /home/me/musicfox.db"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(got) {
				t.Errorf("ParseTarget(%q) = %+v", tc.in, got)
			}
			if d := got.Describe(); d != tc.desc {
				t.Errorf("Describe() = %q, want %q", d, tc.desc)
			}
			if strings.Contains(got.Describe(), "secret") || strings.Contains(got.Describe(), "pw") {
				t.Errorf("Describe() shows a password: %q", got.Describe())
			}
		})
	}
	for _, bad := range []string{"ftp://x", "file://", "redis://", "redis://h:1/x", "memory://?color=red", "bbolt:///x?namespace=a", filepath.Join(t.TempDir(), "missing.yaml")} {
		if _, err := ParseTarget(bad); foxstore.CodeOf(err) != foxstore.CodeInvalid {
			t.Errorf("ParseTarget(%q): %v, want code %d", bad, err, foxstore.CodeInvalid)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MUSICFOX_ROOT", "")
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv("LocalAppData", dir)

	def, err := Location{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !def.Default || def.Config.Backend != "file" {
		t.Errorf("default target %+v, want the file backend", def)
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if want := filepath.Join(dir, "foxstore", "storage.json"); def.Config.FilePath != want {
			t.Errorf("default path %q, want %q", def.Config.FilePath, want)
		}
	}
	t.Setenv("MUSICFOX_ROOT", filepath.Join(dir, "mf"))
	def, _ = Location{}.Resolve()
	if want := filepath.Join(dir, "mf", "foxstore", "storage.json"); def.Config.FilePath != want {
		t.Errorf("with MUSICFOX_ROOT: path %q, want %q", def.Config.FilePath, want)
	}

	dsn, err := Location{DSN: "me@tcp(h:3306)/db"}.Resolve()
	if err != nil || dsn.Config.Backend != "database" || dsn.Config.Database.Driver != "mysql" || dsn.Default {
		t.Errorf("--dsn for MySQL: %+v, %v", dsn, err)
	}
	pg, _ := Location{DSN: "postgres://h/db"}.Resolve()
	if pg.Config.Database.Driver != "postgres" {
		t.Errorf("--dsn postgres:// chose driver %q", pg.Config.Database.Driver)
	}
	rd, err := Location{Redis: "a:1,b:2", Namespace: "ns"}.Resolve()
	if err != nil || rd.Config.Backend != "redis" || len(rd.Config.Redis.Addrs) != 2 || rd.Config.Namespace != "ns" {
		t.Errorf("--redis: %+v, %v", rd, err)
	}
	for _, bad := range []Location{
		{File: "x", DSN: "y"},
		{Backend: "redis", File: "x"},
		{Driver: "sqlite"},
		{Redis: "memory://"},
	} {
		if _, err := bad.Resolve(); foxstore.CodeOf(err) != foxstore.CodeInvalid {
			t.Errorf("%+v: %v, want code %d", bad, err, foxstore.CodeInvalid)
		}
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct{ text, typ, wantType, wantJSON string }{
		{"hello", "", "string", `"hello"`},
		{`"42"`, "", "string", `"42"`},
		{"42", "", "int", "42"},
		{"-7", "", "int", "-7"},
		{"18446744073709551615", "", "uint64", "18446744073709551615"},
		{"4.5", "", "float64", "4.5"},
		{"true", "", "bool", "true"},
		{"null", "", "null", "null"},
		{`{ "a" : [1, 2] }`, "", "json", `{"a":[1,2]}`},
		{"[1, 2", "", "string", `"[1, 2"`},
		{"", "", "string", `""`},
		{"007", "string", "string", `"007"`},
		{"42", "string", "string", `"42"`},
		{"-5", "int8", "int8", "-5"},
		{"2026-05-01T10:00:00Z", "time", "time", `"2026-05-01T10:00:00Z"`},
		{"aGk=", "bytes", "bytes", `"aGk="`},
		{`{"a": 1}`, "rawjson", "rawjson", `"{\"a\": 1}"`},
		{`{"a": 1}`, "json", "json", `{"a":1}`},
		{"1.5", "float32", "float32", "1.5"},
		{"null", "null", "null", "null"},
	}
	for _, tc := range tests {
		v, err := ParseValue(tc.text, tc.typ)
		if err != nil {
			t.Errorf("ParseValue(%q, %q): %v", tc.text, tc.typ, err)
			continue
		}
		if v.Type() != tc.wantType || string(v.JSON()) != tc.wantJSON {
			t.Errorf("ParseValue(%q, %q) = %s %s, want %s %s", tc.text, tc.typ, v.Type(), v.JSON(), tc.wantType, tc.wantJSON)
		}
	}
	for _, bad := range [][2]string{{"300", "int8"}, {"x", "int"}, {"yes", "bool"}, {"now", "time"}, {"{", "json"}, {"1", "complex"}, {"1e999", ""}} {
		if _, err := ParseValue(bad[0], bad[1]); foxstore.CodeOf(err) != foxstore.CodeInvalid {
			t.Errorf("ParseValue(%q, %q): %v, want code %d", bad[0], bad[1], err, foxstore.CodeInvalid)
		}
	}
}

func TestGoValueKeepsTypes(t *testing.T) {
	ctx := t.Context()
	s, err := foxstore.Open(ctx, foxstore.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.(foxstore.Store).Close()
	for _, in := range [][2]string{{"42", ""}, {`{"id":123456789012345678}`, ""}, {"aGk=", "bytes"}, {"x", "rawjson"}, {"2026-05-01T10:00:00.5+02:00", "time"}} {
		if in[1] == "rawjson" {
			in[0] = `[1, 2]`
		}
		v, err := ParseValue(in[0], in[1])
		if err != nil {
			t.Fatal(err)
		}
		x, err := GoValue(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "k", x, 0); err != nil {
			t.Fatal(err)
		}
		rec, err := Lookup(ctx, s, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Value.Equal(v) {
			t.Errorf("%q as %q: stored %s %s, want %s %s", in[0], in[1], rec.Value.Type(), rec.Value.JSON(), v.Type(), v.JSON())
		}
	}
}

func TestLookup(t *testing.T) {
	ctx := t.Context()
	s, err := foxstore.Open(ctx, foxstore.Config{Backend: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.(foxstore.Store).Close()
	key := `a*b?[c]\d^-e`
	if err := s.Set(ctx, key, 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "aXb", 2, 0); err != nil {
		t.Fatal(err)
	}
	rec, err := Lookup(ctx, s, key)
	if err != nil || rec.Key != key || rec.Expires.IsZero() {
		t.Errorf("Lookup(%q) = %+v, %v", key, rec, err)
	}
	if _, err := Lookup(ctx, s, "a*"); foxstore.CodeOf(err) != foxstore.CodeNotFound {
		t.Errorf(`Lookup("a*"): %v, want not found (a key, not a pattern)`, err)
	}
	if _, err := Lookup(ctx, s, ""); foxstore.CodeOf(err) != foxstore.CodeInvalid {
		t.Errorf(`Lookup(""): %v, want invalid`, err)
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond, "7d": 7 * 24 * time.Hour} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "60", "-1s", "soon", "1.5d", "-2d"} {
		if _, err := ParseTTL(bad); foxstore.CodeOf(err) != foxstore.CodeInvalid {
			t.Errorf("ParseTTL(%q): %v, want code %d", bad, err, foxstore.CodeInvalid)
		}
	}
}

func TestExitCode(t *testing.T) {
	code := func(c int) error { return &foxstore.Error{Op: "x", Code: c} }
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{code(foxstore.CodeNotFound), ExitNotFound},
		{Quiet(code(foxstore.CodeNotFound)), ExitNotFound},
		{code(foxstore.CodeInvalid), ExitUsage},
		{&UsageError{Err: errors.New("unknown flag")}, ExitUsage},
		{code(foxstore.CodeReadFailed), ExitFailure},
		{code(foxstore.CodeWriteFailed), ExitFailure},
		{code(foxstore.CodeConflict), ExitFailure},
		{code(foxstore.CodeClosed), ExitFailure},
		{code(foxstore.CodeCorrupted), ExitCorrupted},
		{code(foxstore.CodeLocked), ExitLocked},
		{fmt.Errorf("wrapped: %w", code(foxstore.CodeLocked)), ExitLocked},
		{&Failure{Msg: "count check"}, ExitFailure},
		{context.Canceled, ExitInterrupt},
		{errors.New("plain"), ExitFailure},
	}
	for _, tc := range tests {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h/db?sslmode=disable&password=pw": "postgres://h/db?sslmode=disable&password=xxx",
		"u:pw@tcp(h:3306)/db":                              "tcp(h:3306)/db",
		"/tmp/x.db":                                        "/tmp/x.db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMigrateAndBench(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	from := Target{Config: foxstore.Config{Backend: "file", FilePath: filepath.Join(dir, "a.json")}}
	to := Target{Config: foxstore.Config{Backend: "file", FilePath: filepath.Join(dir, "b.json")}}
	s, err := Open(ctx, from, Write, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1200 {
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = time.Hour
		}
		if err := s.Set(ctx, fmt.Sprintf("k%04d", i), i, ttl); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Bench(ctx, s, BenchOptions{Ops: 300, Keys: 300, Workers: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Count == 0 || res.Total.Errors != 0 || len(res.Ops) != len(benchMix) || res.CleanupError != "" {
		t.Errorf("bench result %+v", res)
	}
	if n, _ := s.Count(ctx, "*"); n != 1200 {
		t.Errorf("after bench the store holds %d keys, want the 1200 it had", n)
	}
	s.Close()

	var calls int
	rep, err := Migrate(ctx, from, to, MigrateOptions{Batch: 500, Progress: func(done, total int) {
		calls++
		if total != 1200 {
			t.Errorf("progress total %d, want 1200", total)
		}
	}})
	if err != nil {
		t.Fatalf("%v\n%s", err, rep.ErrorReport(err))
	}
	if rep.Written != 1200 || rep.Batches != 3 || rep.DestAfter != 1200 || rep.Check != "ok" || calls != 3 {
		t.Errorf("report %+v, %d progress calls", rep, calls)
	}
	if _, err := Migrate(ctx, from, to, MigrateOptions{}); foxstore.CodeOf(err) != foxstore.CodeInvalid {
		t.Errorf("into a non-empty store without Merge: %v, want invalid", err)
	}
	if rep, err := Migrate(ctx, from, to, MigrateOptions{Merge: true, Pattern: "k00*"}); err != nil || rep.Written != 100 {
		t.Errorf("merge: %+v, %v", rep, err)
	}
	if _, err := Migrate(ctx, from, from, MigrateOptions{}); foxstore.CodeOf(err) != foxstore.CodeInvalid {
		t.Errorf("into itself: %v, want invalid", err)
	}
}
