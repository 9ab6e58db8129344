package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// fill stores keys of many types, some with TTLs, and returns how many.
func fill(e *env, store ...string) int {
	e.t.Helper()
	sets := [][]string{
		{"volume", "80"},
		{"play_mode_int", "3"},
		{"greeting", "héllo <world>"},
		{"ratio", "0.75"},
		{"flag", "false"},
		{"nothing", "null"},
		{"big", "18446744073709551615"},
		{"code", "007", "--type", "string"},
		{"small", "-3", "--type", "int16"},
		{"blob", "AAEC/w==", "--type", "bytes"},
		{"when", "2024-02-29T23:59:59.999999999+05:30", "--type", "time"},
		{"raw", `{ "kept" : true }`, "--type", "rawjson"},
		{"cur_user", `{"userId":123456789012345678,"nickname":"fox","vip":true}`},
		{"session:1", `{"user":1}`, "--ttl", "1h"},
		{"session:2", "token", "--ttl", "90m"},
		{"cache:x", "[1,2,3]", "--ttl", "2d"},
	}
	for _, s := range sets {
		args := append(append([]string{}, store...), "set", s[0])
		args = append(append(args, s[2:]...), "--", s[1])
		e.ok(args...)
	}
	return len(sets)
}

// records returns every record of a store, as find --json prints them.
func records(e *env, store ...string) []record {
	e.t.Helper()
	var recs []record
	e.okJSON(&recs, append(append([]string{}, store...), "find", "*")...)
	return recs
}

// sameRecords compares records without ttl_ms, which is measured at a
// different moment each time; expires_at must match to the millisecond.
func sameRecords(t *testing.T, got, want []record) {
	t.Helper()
	strip := func(rs []record) []record {
		out := make([]record, len(rs))
		for i, r := range rs {
			r.TTLms = 0
			out[i] = r
		}
		return out
	}
	if !reflect.DeepEqual(strip(got), strip(want)) {
		t.Errorf("records differ:\ngot  %s\nwant %s", show(got), show(want))
	}
}

func show(rs []record) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\n  " + r.Key + " " + r.Type + " " + string(r.Value) + " " + r.ExpiresAt)
	}
	return b.String()
}

func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := fill(e)
	orig := records(e)
	if len(orig) != n {
		t.Fatalf("the store holds %d records, want %d", len(orig), n)
	}

	dumpPath := e.path("dump.jsonl")
	var exp struct{ Count int }
	e.okJSON(&exp, "export", dumpPath)
	if exp.Count != n {
		t.Errorf("export --json count %d, want %d", exp.Count, n)
	}
	data, err := os.ReadFile(dumpPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dumpPath); fi.Mode().Perm() != 0o600 && os.PathSeparator == '/' {
		t.Errorf("dump mode %v, want 0600", fi.Mode().Perm())
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if !strings.HasPrefix(lines[0], `{"format":"foxstore-dump","version":1`) || lines[len(lines)-1] != `{"end":true,"count":16}` || len(lines) != n+2 {
		t.Errorf("dump layout:\n%s", data)
	}

	// Into another file store, from a file.
	other := []string{"--file", e.path("other.json")}
	out := e.ok(append(other, "import", dumpPath)...)
	if !hasRow(out, "written", "16") {
		t.Errorf("import table:\n%s", out)
	}
	sameRecords(t, records(e, other...), orig)

	// From standard input, exported to standard output.
	piped := e.ok("export")
	third := []string{"--file", e.path("third.json")}
	if r := e.runIn(piped, append(third, "import", "-")...); r.code != 0 {
		t.Fatalf("import -:\n%s", r)
	}
	sameRecords(t, records(e, third...), orig)

	// A pattern exports a subset.
	if out := e.ok("export", "--pattern", "session:*"); strings.Count(out, `"key"`) != 2 {
		t.Errorf("export --pattern session:* gave\n%s", out)
	}

	// --relative-ttl restarts each TTL from the import.
	time.Sleep(20 * time.Millisecond)
	rel := []string{"--file", e.path("rel.json")}
	e.ok(append(rel, "import", dumpPath, "--relative-ttl")...)
	got := records(e, rel...)
	for i := range got {
		if got[i].ExpiresAt == "" {
			continue
		}
		a, _ := time.Parse(time.RFC3339Nano, got[i].ExpiresAt)
		b, _ := time.Parse(time.RFC3339Nano, orig[i].ExpiresAt)
		if a.Before(b) {
			t.Errorf("%s: relative import expires at %v, before the original %v", got[i].Key, a, b)
		}
		got[i].ExpiresAt = orig[i].ExpiresAt
	}
	sameRecords(t, got, orig)

	// Already expired records are skipped and counted.
	old := `{"format":"foxstore-dump","version":1}
{"key":"gone","type":"int","value":1,"expires_at":"2001-01-01T00:00:00Z","ttl_ms":5}
{"key":"kept","type":"int","value":2}
`
	var imp struct {
		Report struct{ Read, Written, Expired int }
		Notes  []string
	}
	r := e.runIn(old, "--file", e.path("old.json"), "import", "-", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &imp) != nil {
		t.Fatalf("import of an old dump:\n%s", r)
	}
	if imp.Report.Read != 2 || imp.Report.Written != 1 || imp.Report.Expired != 1 || len(imp.Notes) != 1 {
		t.Errorf("import report %+v (a dump without an end line must be noted)", imp)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := fill(e)
	orig := records(e)

	sqlite := e.path("kv.db")
	r := e.run("migrate", "--to", "sqlite://"+filepath.ToSlash(sqlite), "--progress", "always", "--batch", "5")
	if r.code != 0 {
		t.Fatalf("migrate to SQLite:\n%s", r)
	}
	if !hasRow(r.stdout, "count", "check", "ok") || !hasRow(r.stdout, "written", "16", "(in", "4", "batches)") {
		t.Errorf("migrate table:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "migrate [") {
		t.Errorf("--progress always drew no bar: %q", r.stderr)
	}
	sameRecords(t, records(e, "--dsn", sqlite), orig)

	// The destination is not empty any more.
	e.expect(2, "--merge", "migrate", "--to", "sqlite://"+filepath.ToSlash(sqlite))
	var rep struct {
		Report struct {
			Written    int    `json:"written"`
			DestBefore int    `json:"dest_before"`
			DestAfter  int    `json:"dest_after"`
			Check      string `json:"check"`
		} `json:"report"`
	}
	e.okJSON(&rep, "migrate", "--to", "sqlite://"+filepath.ToSlash(sqlite), "--merge")
	if rep.Report.Written != n || rep.Report.DestBefore != n || rep.Report.DestAfter != n || rep.Report.Check != "ok" {
		t.Errorf("migrate --merge --json: %+v", rep)
	}

	// Back from SQLite into a new file store named by a YAML config.
	cfg := e.path("back.yaml")
	os.WriteFile(cfg, []byte("storage:\n  backend: file\n  file_path: "+filepath.ToSlash(e.path("back.json"))+"\n"), 0o600)
	e.ok("migrate", "--from", "sqlite://"+filepath.ToSlash(sqlite), "--to", cfg)
	sameRecords(t, records(e, "--config", cfg), orig)

	// An empty source copies nothing and checks fine.
	if out := e.ok("migrate", "--from", "memory://", "--to", "sqlite://"+filepath.ToSlash(e.path("empty.db"))); !hasRow(out, "count", "check", "ok") {
		t.Errorf("migrate from memory://:\n%s", out)
	}
}

// hasRow reports whether a table has a row of these words.
func hasRow(table string, words ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		if slices.Equal(strings.Fields(line), words) {
			return true
		}
	}
	return false
}

// unique returns a name no other test run uses.
func unique(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func TestMigrateServers(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"postgres", "mysql", "redis"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			envVar := "FOXSTORE_TEST_" + strings.ToUpper(name)
			v := os.Getenv(envVar)
			if v == "" {
				t.Skipf("set %s to migrate into a real %s server", envVar, name)
			}
			// A namespace of its own keeps the test apart from other users
			// of the server; the global flags reach the same keys as the URL.
			ns := unique("cli-test-")
			var u string
			var flags []string
			switch name {
			case "postgres":
				u, flags = withQuery(v, "namespace", ns), []string{"--dsn", v}
			case "mysql":
				u, flags = withQuery("mysql://"+v, "namespace", ns), []string{"--dsn", v}
			case "redis":
				addr := strings.Split(v, ",")[0]
				u, flags = withQuery("redis://"+addr, "namespace", ns), []string{"--redis", addr}
			}
			flags = append(flags, "--namespace", ns)
			e := newEnv(t)
			n := fill(e)
			orig := records(e)
			if r := e.run("migrate", "--to", u); r.code != 0 {
				t.Fatalf("migrate to %s:\n%s", name, r)
			}
			t.Cleanup(func() {
				var keys []string
				e.okJSON(&keys, append(flags, "keys")...)
				if len(keys) > 0 {
					e.ok(append(append(flags, "del"), keys...)...)
				}
			})
			sameRecords(t, records(e, flags...), orig)
			// And back, through a URL source, into a new file store.
			back := e.path("back.json")
			e.ok("migrate", "--from", u, "--to", "file://"+filepath.ToSlash(back))
			sameRecords(t, records(e, "--file", back), orig)
			if out := e.ok(append(flags, "count")...); out != fmt.Sprintf("%d\n", n) {
				t.Errorf("count on %s = %q, want %d", name, out, n)
			}
		})
	}
}

// withQuery adds name=value to the query of a URL or DSN.
func withQuery(u, name, value string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + name + "=" + url.QueryEscape(value)
}

func TestImportBolt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// go-musicfox keeps its settings in <data dir>/db/musicfox.db, bucket
	// default_bucket, each value written by json.Marshal.
	values := map[string]string{
		"cur_user":                `{"userId":1234567890123,"nickname":"fox","avatarUrl":"https://p1.music.126.net/a.jpg","vipType":11,"lastLoginTime":1714550400000}`,
		"playlist_snapshot":       `{"cur_song_index":1,"playlist":[{"id":1901371647,"name":"Song \u003cA\u003e","duration":215000000000,"artists":[{"id":12138269,"name":"Fox"}],"album":{"id":141390839,"name":"Album"}},{"id":347230,"name":"B","duration":180000000000,"artists":[],"album":{"id":1,"name":""}}],"playlist_update_at":"2024-05-01T10:00:00.123456789+08:00"}`,
		"play_mode_int":           `3`,
		"volume":                  `80`,
		"lastfm_user":             `{"id":"fox","name":"fox","real_name":"Fox","url":"https://www.last.fm/user/fox","session_key":"0123456789abcdef"}`,
		"lastfm_api_account":      `{"key":"k","secret":"s"}`,
		"lastfm_scrobble_list":    `[{"artist":"Fox","track":"A","album":"Album","duration":215000000000,"timestamp":1714550400,"playedtime":120000000000}]`,
		"last_sign_in":            `20240501`,
		"ext_info":                `{"storage_version":"4.4.0"}`,
		"changelog_seen":          `{"version":"v4.6.0"}`,
		"desktop_lyrics_position": `{"screen_id":1,"x":100.5,"y":-20}`,
	}
	db := filepath.Join(e.home, "go-musicfox", "db", "musicfox.db")
	os.MkdirAll(filepath.Dir(db), 0o700)
	writeBolt(t, db, values)

	var imp struct {
		Format string
		Report struct{ Read, Written int }
	}
	e.okJSON(&imp, "import", db)
	if imp.Format != "bbolt" || imp.Report.Read != len(values) || imp.Report.Written != len(values) {
		t.Errorf("import of musicfox.db: %+v", imp)
	}
	for k, v := range values {
		var rec record
		e.okJSON(&rec, "get", k)
		if rec.Type != "json" || string(rec.Value) != v || rec.ExpiresAt != "" {
			t.Errorf("%s: imported as %s %s, want json %s", k, rec.Type, rec.Value, v)
		}
	}
	if out := e.ok("get", "volume"); out != "80\n" {
		t.Errorf("get volume = %q", out)
	}

	// The same database through migrate, into SQLite.
	sqlite := e.path("mf.db")
	e.ok("migrate", "--from", "bbolt://"+filepath.ToSlash(db), "--to", "sqlite://"+filepath.ToSlash(sqlite))
	sameRecords(t, records(e, "--dsn", sqlite), records(e))

	e.expect(2, `no bucket "settings"`, "--file", e.path("x.json"), "import", db, "--bucket", "settings")

	// While go-musicfox runs it holds the database: say so.
	h, err := bbolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	e.expect(5, "go-musicfox running", "--file", e.path("y.json"), "import", db)
}

func writeBolt(t *testing.T, path string, values map[string]string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("default_bucket"))
		if err != nil {
			return err
		}
		for k, v := range values {
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// verifyReport is the part of verify --json that the tests read.
type verifyReport struct {
	Damaged bool
	Files   []struct {
		Path, Role, Status, Reason string
		At                         *struct{ Offset, Line int }
		Records, Keys              int
		FirstSeq                   uint64 `json:"first_seq"`
		LastSeq                    uint64 `json:"last_seq"`
	}
	Recovery struct {
		Opens    bool
		Error    string
		Snapshot string
		Keys     int
		LastSeq  uint64 `json:"last_seq"`
	}
	Lost []struct {
		FirstSeq uint64 `json:"first_seq"`
		LastSeq  uint64 `json:"last_seq"`
		Bytes    int64
	}
	Advice string
}

func TestBackupVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := fill(e)

	bk := e.path("backup.json")
	if out := e.ok("backup", bk); !strings.Contains(out, "written to "+bk) {
		t.Errorf("backup: %q", out)
	}
	sameRecords(t, records(e, "--file", bk), records(e))

	dir := filepath.Dir(e.defaultStore())
	before := dirStamp(t, dir)
	var rep verifyReport
	rep = verifyReport{}
	e.okJSON(&rep, "verify")
	if rep.Damaged || !rep.Recovery.Opens || rep.Recovery.Keys != n || len(rep.Files) != 2 ||
		rep.Files[0].Status != "ok" || rep.Files[1].Role != "log" || rep.Files[1].Records != n || rep.Advice == "" {
		t.Errorf("verify of a healthy store: %+v", rep)
	}
	if out := e.ok("verify"); !strings.Contains(out, "opens from: "+e.defaultStore()) || !strings.Contains(out, fmt.Sprintf("%d live keys", n)) {
		t.Errorf("verify table:\n%s", out)
	}
	if after := dirStamp(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("verify changed files:\n%v\n%v", before, after)
	}
	rep = verifyReport{}
	e.okJSON(&rep, "verify", bk)
	if rep.Damaged || rep.Recovery.Keys != n || rep.Recovery.Snapshot != bk {
		t.Errorf("verify of the backup: %+v", rep)
	}

	// A torn tail is what a crash leaves: reported, but no damage.
	torn := copyStore(t, dir, e.path("torn"))
	appendFile(t, torn+".log.0", `{"seq":99,"w":[{"k":"cut sh`)
	rep = verifyReport{}
	e.okJSON(&rep, "verify", torn)
	if rep.Damaged || rep.Files[1].Status != "torn" || len(rep.Lost) != 1 || rep.Lost[0].Bytes == 0 {
		t.Errorf("verify of a torn log: %+v", rep)
	}

	// A damaged record in the middle of the log: the records after it are lost.
	mid := copyStore(t, dir, e.path("mid"))
	damageLine(t, mid+".log.0", 4) // record 3
	rep = verifyReport{}
	r := e.run("verify", mid, "--json")
	if r.code != 4 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("verify of a damaged log:\n%s", r)
	}
	if f := rep.Files[1]; f.Status != "damaged" || f.At == nil || f.At.Line != 4 || rep.Recovery.LastSeq != 2 ||
		len(rep.Lost) != 2 || rep.Lost[0].FirstSeq != 3 || rep.Lost[1].LastSeq != uint64(n) {
		t.Errorf("verify of a damaged log: %+v", rep)
	}
	rep = verifyReport{}
	r = e.run("verify", mid)
	if r.code != 4 || !strings.Contains(r.stdout, "line 4 (offset") || !strings.Contains(r.stdout, fmt.Sprintf("lost: records 4-%d", n)) {
		t.Errorf("verify table of a damaged log:\n%s", r)
	}

	// Damage the snapshot: the store still opens from its log.
	damage(t, e.defaultStore())
	rep = verifyReport{}
	r = e.run("verify", "--json")
	if r.code != 4 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("verify of a damaged store:\n%s", r)
	}
	if !rep.Damaged || !rep.Recovery.Opens || rep.Files[0].Status != "damaged" || rep.Recovery.Keys != n || rep.Recovery.Snapshot != "" {
		t.Errorf("verify of a store with a damaged snapshot: %+v", rep)
	}
	if out := e.run("verify").stdout; !strings.Contains(out, "damaged") {
		t.Errorf("verify table does not show the damage:\n%s", out)
	}

	// A damaged backup with nothing else to fall back on cannot open.
	damage(t, bk)
	rep = verifyReport{}
	r = e.run("verify", bk, "--json")
	if r.code != 4 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Recovery.Opens || !rep.Damaged || rep.Recovery.Error == "" {
		t.Errorf("verify of a damaged backup:\n%s", r)
	}
	if out := e.run("verify", bk).stdout; !strings.Contains(out, "does not open") {
		t.Errorf("verify table of a store that does not open:\n%s", out)
	}
	e.expect(4, "[5003]", "--file", bk, "keys")
}

// dirStamp returns the name, size, time and bytes of every file in dir.
func dirStamp(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		fi, err := ent.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[ent.Name()] = fmt.Sprintf("%d %s %x", fi.Size(), fi.ModTime().Format(time.RFC3339Nano), b)
	}
	return out
}

// copyStore copies the store files of dir (not its lock) into a new
// directory to and returns the snapshot path there.
func copyStore(t *testing.T, dir, to string) string {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if strings.HasSuffix(ent.Name(), ".lock") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, ent.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(to, "storage.json")
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// damageLine flips a byte in line number line (from 1) of a file.
func damageLine(t *testing.T, path string, line int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := 1; i < line; i++ {
		off += strings.IndexByte(string(b[off:]), '\n') + 1
	}
	b[off+3] ^= 0x04
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// damage flips a byte in the middle of a file.
func damage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBench(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := fill(e)
	var res struct {
		Result struct {
			Ops []struct {
				Op    string
				Count int
			}
			Total struct {
				Count     int
				OpsPerSec float64 `json:"ops_per_sec"`
				P50       int64   `json:"p50_ns"`
				P99       int64   `json:"p99_ns"`
			}
		}
	}
	e.okJSON(&res, "bench", "--ops", "300", "--keys", "200", "--workers", "2")
	if len(res.Result.Ops) < 8 || res.Result.Total.Count == 0 || res.Result.Total.P50 <= 0 || res.Result.Total.P99 < res.Result.Total.P50 {
		t.Errorf("bench --json: %+v", res)
	}
	if out := e.ok("count"); out != "16\n" || n != 16 {
		t.Errorf("after bench the store counts %q, want its 16 keys untouched", out)
	}
	out := e.ok("--backend", "memory", "bench", "--duration", "200ms", "--keys", "100")
	for _, want := range []string{"OP", "OPS/S", "P50", "P99", "get-batch", "find", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench table lacks %q:\n%s", want, out)
		}
	}
}

func TestDefaultLocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("set", "k", "1")
	if _, err := os.Stat(e.defaultStore()); err != nil {
		t.Errorf("with XDG_DATA_HOME the store is not at %s: %v", e.defaultStore(), err)
	}

	mf := newEnv(t)
	root := mf.path("musicfox")
	mf.vars = append(mf.vars, "MUSICFOX_ROOT="+root)
	mf.ok("set", "k", "1")
	if _, err := os.Stat(filepath.Join(root, "foxstore", "storage.json")); err != nil {
		t.Errorf("with MUSICFOX_ROOT the store is not under it: %v", err)
	}
}
