package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// bin is the foxstore binary, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foxstore-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "foxstore")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building foxstore: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a user's environment with a home directory of its own, so that
// nothing touches the real user data directory.
type env struct {
	t    *testing.T
	home string
	vars []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	e := &env{t: t, home: home}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HOME", "XDG_DATA_HOME", "MUSICFOX_ROOT", "LOCALAPPDATA", "USERPROFILE":
			continue
		}
		e.vars = append(e.vars, kv)
	}
	e.vars = append(e.vars, "HOME="+home, "USERPROFILE="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "LocalAppData="+filepath.Join(home, "appdata"))
	return e
}

// defaultStore is where the tool keeps its store in this environment.
func (e *env) defaultStore() string {
	return filepath.Join(e.home, "data", "foxstore", "storage.json")
}

func (e *env) path(name string) string { return filepath.Join(e.home, name) }

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// runIn runs foxstore with args and stdin and waits for it.
func (e *env) runIn(stdin string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = e.vars
	cmd.Dir = e.home
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("foxstore %q: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runIn("", args...)
}

// ok runs foxstore and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("foxstore %q:\n%s", args, r)
	}
	return r.stdout
}

// okJSON runs foxstore with --json and decodes its output into v.
func (e *env) okJSON(v any, args ...string) {
	e.t.Helper()
	out := e.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("foxstore %q --json printed %q: %v", args, out, err)
	}
}

// expect runs foxstore and checks its exit status and a piece of stderr.
func (e *env) expect(code int, stderr string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code || !strings.Contains(r.stderr, stderr) {
		e.t.Errorf("foxstore %q: want exit %d and stderr containing %q, got\n%s", args, code, stderr, r)
	}
	return r
}

// record is a dump line, as get --json and find --json print it.
type record struct {
	Key       string          `json:"key"`
	Type      string          `json:"type"`
	Value     json.RawMessage `json:"value"`
	ExpiresAt string          `json:"expires_at"`
	TTLms     int64           `json:"ttl_ms"`
}

var commands = []string{"get", "set", "del", "exists", "keys", "find", "count", "ttl", "expire",
	"stats", "export", "import", "migrate", "backup", "verify", "bench"}

func TestHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("--help")
	for _, c := range commands {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("foxstore --help does not list %s", c)
		}
	}
	if !strings.Contains(out, "Exit status:") {
		t.Error("foxstore --help does not explain the exit statuses")
	}
	for _, c := range commands {
		out := e.ok(c, "--help")
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "Usage:") {
			t.Errorf("foxstore %s --help has no usage or examples:\n%s", c, out)
		}
	}
	if _, err := os.Stat(e.defaultStore()); err == nil {
		t.Error("help created a store")
	}
}

func TestKeyCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.expect(2, "no store at "+e.defaultStore(), "get", "volume")
	e.ok("set", "volume", "55")
	if _, err := os.Stat(e.defaultStore()); err != nil {
		t.Fatalf("set did not create the default store: %v", err)
	}
	if out := e.ok("get", "volume"); out != "55\n" {
		t.Errorf("get volume = %q, want 55", out)
	}
	e.ok("set", "greeting", "hello", "--ttl", "1h")
	var rec record
	e.okJSON(&rec, "get", "greeting")
	if rec.Key != "greeting" || rec.Type != "string" || string(rec.Value) != `"hello"` {
		t.Errorf("get greeting --json = %+v", rec)
	}
	if rec.TTLms <= 0 || rec.TTLms > 3600_000 {
		t.Errorf("ttl_ms %d, want (0, 3600000]", rec.TTLms)
	}
	if exp, err := time.Parse(time.RFC3339Nano, rec.ExpiresAt); err != nil || time.Until(exp) > time.Hour || time.Until(exp) < 50*time.Minute {
		t.Errorf("expires_at %q (%v)", rec.ExpiresAt, err)
	}
	if out := e.ok("get", "greeting", "--raw"); out != "hello\n" {
		t.Errorf("get --raw = %q", out)
	}

	if out := e.ok("exists", "greeting"); out != "true\n" {
		t.Errorf("exists greeting = %q", out)
	}
	if r := e.run("exists", "nope"); r.code != 1 || r.stdout != "false\n" || r.stderr != "" {
		t.Errorf("exists nope: want false, exit 1 and no message, got\n%s", r)
	}
	var ex struct {
		Exists bool `json:"exists"`
	}
	if r := e.run("exists", "nope", "--json"); r.code != 1 || json.Unmarshal([]byte(r.stdout), &ex) != nil || ex.Exists {
		t.Errorf("exists nope --json:\n%s", r)
	}

	if out := e.ok("ttl", "volume"); out != "none\n" {
		t.Errorf("ttl volume = %q, want none", out)
	}
	if out := e.ok("ttl", "greeting"); out == "none\n" || !strings.Contains(out, "m") {
		t.Errorf("ttl greeting = %q, want about an hour", out)
	}
	var ttl struct {
		Expires   bool   `json:"expires"`
		TTLms     int64  `json:"ttl_ms"`
		ExpiresAt string `json:"expires_at"`
	}
	e.ok("expire", "volume", "30m")
	e.okJSON(&ttl, "ttl", "volume")
	if !ttl.Expires || ttl.TTLms <= 0 || ttl.TTLms > 30*60*1000 || ttl.ExpiresAt == "" {
		t.Errorf("ttl volume after expire 30m: %+v", ttl)
	}
	e.ok("expire", "volume", "0")
	ttl.Expires = true
	e.okJSON(&ttl, "ttl", "volume")
	if ttl.Expires {
		t.Errorf("expire 0 did not remove the TTL: %+v", ttl)
	}
	e.expect(1, "[5004]", "expire", "nope", "1h")
	e.expect(1, "[5004]", "ttl", "nope")

	e.ok("set", "session:1", `{"user": 1}`)
	e.ok("set", "session:2", `{"user": 2}`, "--ttl", "10m")
	if out := e.ok("keys"); out != "greeting\nsession:1\nsession:2\nvolume\n" {
		t.Errorf("keys = %q", out)
	}
	var keys []string
	e.okJSON(&keys, "keys", "session:*")
	if !slices.Equal(keys, []string{"session:1", "session:2"}) {
		t.Errorf("keys session:* --json = %q", keys)
	}
	if out := e.ok("count"); out != "4\n" {
		t.Errorf("count = %q", out)
	}
	var cnt struct{ Count int }
	e.okJSON(&cnt, "count", "session:?")
	if cnt.Count != 2 {
		t.Errorf("count session:? = %d", cnt.Count)
	}
	var found []record
	e.okJSON(&found, "find", "session:*")
	if len(found) != 2 || found[0].Type != "json" || string(found[0].Value) != `{"user":1}` || found[1].ExpiresAt == "" || found[0].ExpiresAt != "" {
		t.Errorf("find session:* --json = %+v", found)
	}
	table := e.ok("find", "*")
	if !strings.HasPrefix(table, "KEY ") || !strings.Contains(table, "session:1  json") {
		t.Errorf("find table:\n%s", table)
	}

	var del struct{ Deleted, Keys int }
	e.okJSON(&del, "del", "session:1", "session:2", "nope")
	if del.Deleted != 2 || del.Keys != 3 {
		t.Errorf("del --json = %+v", del)
	}
	if out := e.ok("del", "greeting"); out != "deleted 1 of 1 keys\n" {
		t.Errorf("del = %q", out)
	}

	var stats struct {
		Backend string `json:"backend"`
		Store   string `json:"store"`
		Keys    int    `json:"keys"`
		Healthy bool   `json:"healthy"`
	}
	e.okJSON(&stats, "stats")
	if stats.Backend != "file" || stats.Keys != 1 || !stats.Healthy || !strings.Contains(stats.Store, e.defaultStore()) {
		t.Errorf("stats --json = %+v", stats)
	}
	if out := e.ok("stats"); !strings.Contains(out, "hit rate") || !strings.Contains(out, "keys") {
		t.Errorf("stats table:\n%s", out)
	}

	if r := e.runIn("{\"from\": \"stdin\"}\n", "set", "piped", "--stdin"); r.code != 0 {
		t.Fatalf("set --stdin:\n%s", r)
	}
	if out := e.ok("get", "piped"); out != `{"from":"stdin"}`+"\n" {
		t.Errorf("get piped = %q", out)
	}

	e.ok("--namespace", "app", "set", "hidden", "1")
	if out := e.ok("--namespace", "app", "keys"); out != "hidden\n" {
		t.Errorf("keys in namespace app = %q", out)
	}
	if out := e.ok("keys"); strings.Contains(out, "hidden") {
		t.Errorf("the base store sees a namespaced key: %q", out)
	}
}

func TestSetTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		args      []string
		typ, want string
	}{
		{[]string{"42"}, "int", "42"},
		{[]string{"--", "-5"}, "int", "-5"},
		{[]string{"4.5"}, "float64", "4.5"},
		{[]string{"true"}, "bool", "true"},
		{[]string{"null"}, "null", "null"},
		{[]string{"hello world"}, "string", `"hello world"`},
		{[]string{`"42"`}, "string", `"42"`},
		{[]string{"[1, 2, 3]"}, "json", "[1,2,3]"},
		{[]string{"007", "--type", "string"}, "string", `"007"`},
		{[]string{"7", "--type", "uint16"}, "uint16", "7"},
		{[]string{"1.25", "--type", "float32"}, "float32", "1.25"},
		{[]string{"aGVsbG8=", "--type", "bytes"}, "bytes", `"aGVsbG8="`},
		{[]string{"2026-05-01T10:00:00.5+02:00", "--type", "time"}, "time", `"2026-05-01T10:00:00.5+02:00"`},
		{[]string{`{"b": 1}`, "--type", "rawjson"}, "rawjson", `"{\"b\": 1}"`},
	}
	for i, tc := range tests {
		key := fmt.Sprintf("k%d", i)
		e.ok(append([]string{"set", key}, tc.args...)...)
		var rec record
		e.okJSON(&rec, "get", key)
		if rec.Type != tc.typ || string(rec.Value) != tc.want {
			t.Errorf("set %s %q: stored %s %s, want %s %s", key, tc.args, rec.Type, rec.Value, tc.typ, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("set", "k", "v")
	badYAML := e.path("bad.yaml")
	os.WriteFile(badYAML, []byte("storage:\n  backend: file\n  cache_sise: 3\n"), 0o600)
	garbage := e.path("garbage.jsonl")
	os.WriteFile(garbage, []byte(`{"format":"foxstore-dump","version":1}`+"\n"+`{"key":"a","type":"int","value":"x"}`+"\n"), 0o600)
	notDump := e.path("not-a-dump.db")
	os.WriteFile(notDump, bytes.Repeat([]byte{0}, 4096), 0o600)

	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"get", "--bogus", "k"}, 2, "unknown flag: --bogus"},
		{[]string{"get"}, 2, "needs 1 argument"},
		{[]string{"get", "a", "b"}, 2, "at most 1 argument"},
		{[]string{"set", "k"}, 2, "needs a VALUE"},
		{[]string{"set", "k", "v", "--ttl", "soon"}, 2, "[5006]"},
		{[]string{"set", "k", "v", "--ttl", "-1s"}, 2, "negative"},
		{[]string{"set", "k", "v", "--ttl", "60"}, 2, "no unit"},
		{[]string{"expire", "k", "1 hour"}, 2, "[5006]"},
		{[]string{"set", "k", "300", "--type", "int8"}, 2, "int8"},
		{[]string{"set", "k", "1", "--type", "complex"}, 2, "unknown type"},
		{[]string{"set", "", "v"}, 2, "empty key"},
		{[]string{"keys", "[abc"}, 2, "[5006]"},
		{[]string{"get", "missing"}, 1, `get "missing": not found [5004]`},
		{[]string{"--config", e.path("missing.yaml"), "keys"}, 2, "[5006]"},
		{[]string{"--config", badYAML, "keys"}, 2, "cache_sise"},
		{[]string{"--file", e.path("none.json"), "get", "k"}, 2, "no store at"},
		{[]string{"--file", "a.json", "--dsn", "b.db", "keys"}, 2, "give one"},
		{[]string{"--backend", "nosuch", "keys"}, 2, "nosuch"},
		{[]string{"import", e.path("missing.jsonl")}, 2, "[5006]"},
		{[]string{"import", e.home}, 2, "is a directory"},
		{[]string{"import", garbage}, 4, "dump line 2"},
		{[]string{"import", notDump}, 2, "not a readable bbolt database"},
		{[]string{"import", "x", "--format", "csv"}, 2, "--format"},
		{[]string{"migrate"}, 2, "needs --to"},
		{[]string{"migrate", "--to", "memory://", "--progress", "sometimes"}, 2, "--progress"},
		{[]string{"migrate", "--to", "ftp://host/x"}, 2, "unknown scheme"},
		{[]string{"migrate", "--to", "bbolt:///x.db"}, 2, "only be a source"},
		{[]string{"migrate", "--to", "file://" + filepath.ToSlash(e.defaultStore())}, 2, "same store"},
		{[]string{"--backend", "memory", "backup", e.path("b.json")}, 2, "use Export"},
		{[]string{"--backend", "memory", "verify"}, 2, "file stores"},
		{[]string{"verify", e.path("none.json")}, 2, "no store at"},
	}
	for _, tc := range tests {
		r := e.expect(tc.code, tc.stderr, tc.args...)
		if tc.code == 2 && r.stdout != "" && !strings.Contains(r.stderr, "[5006]") && !strings.Contains(r.stderr, "--help") {
			t.Errorf("foxstore %q printed %q on stdout", tc.args, r.stdout)
		}
	}

	// --json errors are JSON on stderr.
	r := e.run("get", "missing", "--json")
	var je struct {
		Error string `json:"error"`
		Code  int    `json:"code"`
		Exit  int    `json:"exit"`
	}
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil || je.Code != 5004 || je.Exit != 1 || r.code != 1 {
		t.Errorf("get missing --json: %v\n%s", err, r)
	}

	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		unreadable := e.path("unreadable.jsonl")
		os.WriteFile(unreadable, []byte("{}"), 0o000)
		e.expect(2, "permission denied", "import", unreadable)
	}
}

func TestLockedStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("set", "k", "v")
	// Another writer, such as a running go-musicfox, holds the store.
	s, err := foxstore.Open(t.Context(), foxstore.Config{Backend: "file", FilePath: e.defaultStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.(foxstore.Store).Close()
	e.expect(5, "[5009]", "set", "k2", "v")
	// Reads still work: the tool opens the store read-only.
	if out := e.ok("get", "k"); out != `"v"`+"\n" {
		t.Errorf("get while locked = %q", out)
	}
}
