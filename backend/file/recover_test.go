package file

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/foxstore/foxstore/driver"
)

// history writes a few records to a new store at path (no compaction) and
// returns the store's contents after each: states[i] after i records.
func history(t *testing.T, path string) []string {
	t.Helper()
	s := mustOpen(t, testConfig(path, nil))
	states := []string{dump(t, s)}
	steps := [][]driver.Write{
		{set("user:1", val(t, "alice"), 0)},
		{set("a", val(t, 1), 0), set("b", val(t, []byte("two")), 0), set("c", val(t, 3.5), 0)},
		{del("a")},
		{set("\xffns\x00key", val(t, map[string]any{"x": []any{1.0, "y"}}), 0)},
		{set("ttl", val(t, true), 4102444800000), set("user:1", val(t, "bob"), 0)},
	}
	for _, ws := range steps {
		mustApply(t, s, ws...)
		states = append(states, dump(t, s))
	}
	mustClose(t, s)
	return states
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// lineEnds returns the offset just after each line of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	return ends
}

// files maps the name of every file in dir but the lock file to its bytes.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func asideFiles(t *testing.T, dir string) []string {
	var out []string
	for name := range files(t, dir) {
		if strings.Contains(name, ".corrupt-") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// reopenCheck opens the store at path, checks its contents, writes to it,
// and opens it once more: a recovered store must stay recovered.
func reopenCheck(t *testing.T, path, want string, logs *logBuffer) {
	t.Helper()
	s := mustOpen(t, testConfig(path, logs))
	if got := dump(t, s); got != want {
		t.Fatalf("contents:\n%s\nwant:\n%s", got, want)
	}
	mustApply(t, s, set("zz-after", val(t, "new"), 0))
	want2 := dump(t, s)
	mustClose(t, s)
	s = mustOpen(t, testConfig(path, logs))
	defer mustClose(t, s)
	if got := dump(t, s); got != want2 {
		t.Fatalf("contents after a second open:\n%s\nwant:\n%s", got, want2)
	}
}

func TestLogTruncatedAtEveryOffset(t *testing.T) {
	base := t.TempDir()
	states := history(t, filepath.Join(base, "storage.json"))
	seg := filepath.Join(base, "storage.json.log.0")
	log, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	ends := lineEnds(log) // ends[0] is the header's
	if len(ends) != len(states) {
		t.Fatalf("%d lines in the log, want a header and %d records", len(ends), len(states)-1)
	}
	for off := 0; off <= len(log); off++ {
		dir := copyDir(t, base)
		if err := os.WriteFile(filepath.Join(dir, "storage.json.log.0"), log[:off], 0o600); err != nil {
			t.Fatal(err)
		}
		complete := 0
		for _, e := range ends[1:] {
			if e <= off {
				complete++
			}
		}
		var logs logBuffer
		path := filepath.Join(dir, "storage.json")
		if nearLineEnd(ends, off) || off%16 == 0 {
			reopenCheck(t, path, states[complete], &logs)
		} else {
			s := mustOpen(t, testConfig(path, &logs))
			if got := dump(t, s); got != states[complete] {
				t.Fatalf("offset %d: contents:\n%s\nwant:\n%s", off, got, states[complete])
			}
			mustClose(t, s)
		}
		if w := logs.warnings(); len(w) > 0 {
			t.Fatalf("offset %d: a torn tail is no damage, but got warnings:\n%s", off, strings.Join(w, "\n"))
		}
		if a := asideFiles(t, dir); len(a) > 0 {
			t.Fatalf("offset %d: files moved aside: %v", off, a)
		}
		if t.Failed() {
			return
		}
	}
}

func TestLogBitFlips(t *testing.T) {
	base := t.TempDir()
	states := history(t, filepath.Join(base, "storage.json"))
	log, err := os.ReadFile(filepath.Join(base, "storage.json.log.0"))
	if err != nil {
		t.Fatal(err)
	}
	ends := lineEnds(log)
	full := len(states) - 1
	for off := range log {
		line := 0
		for ends[line] <= off {
			line++
		}
		// What survives: the records before the damaged line. A damaged
		// header loses no record, unless its newline went and took the
		// first record with it.
		survive := line - 1
		if line == 0 {
			survive = full
			if off == ends[0]-1 {
				survive = 0
			}
		}
		dir := copyDir(t, base)
		bad := bytes.Clone(log)
		bad[off] ^= 0x04
		if err := os.WriteFile(filepath.Join(dir, "storage.json.log.0"), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		var logs logBuffer
		path := filepath.Join(dir, "storage.json")
		s, err := Open(context.Background(), testConfig(path, &logs))
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		if got := dump(t, s); got != states[survive] {
			t.Fatalf("offset %d (line %d): contents:\n%s\nwant:\n%s", off, line, got, states[survive])
		}
		mustClose(t, s)
		lastNewline := off == len(log)-1
		if len(logs.warnings()) == 0 && !lastNewline {
			t.Fatalf("offset %d: damage without a warning; log:\n%s", off, logs.String())
		}
		if line < len(ends)-1 && len(asideFiles(t, dir)) == 0 {
			t.Fatalf("offset %d: damaged segment not moved aside", off)
		}
		if nearLineEnd(ends, off) || off%16 == 0 {
			reopenCheck(t, path, states[survive], nil)
		}
	}
}

// compacted builds a store with two compactions and a log tail, so that it
// has storage.json, bak1, bak2 and three segments, and returns its final
// contents.
func compacted(t *testing.T, path string, backups int) string {
	t.Helper()
	cfg := testConfig(path, nil)
	cfg.BackupCount = backups
	s := mustOpen(t, cfg)
	mustApply(t, s, set("one", val(t, 1), 0), set("gone", val(t, "soon"), 0))
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, set("two", val(t, 2), 0), del("gone"))
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, set("three", val(t, 3), 0))
	mustApply(t, s, set("one", val(t, "uno"), 0))
	want := dump(t, s)
	mustClose(t, s)
	return want
}

func TestDamagedSnapshotRecoversFromBackupAndLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		aside  int
	}{
		{"bit flip", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "storage.json"), 100) }, 1},
		{"empty", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "storage.json"), "") }, 1},
		{"garbage", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "storage.json"), "\x00\x01garbage\n{}\n")
		}, 1},
		{"truncated", func(t *testing.T, dir string) { truncateFile(t, filepath.Join(dir, "storage.json"), 60) }, 1},
		{"missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "storage.json")) }, 0},
		{"snapshot and bak1 damaged", func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, "storage.json"), 70)
			flip(t, filepath.Join(dir, "storage.json.bak1"), 70)
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "storage.json")
			want := compacted(t, path, 3)
			before := files(t, dir)
			tc.damage(t, dir)
			var logs logBuffer
			s := mustOpen(t, testConfig(path, &logs))
			if got := dump(t, s); got != want {
				t.Errorf("contents:\n%s\nwant (nothing lost: the backups keep their log):\n%s", got, want)
			}
			mustClose(t, s)
			warns := logs.warnings()
			if len(warns) == 0 {
				t.Fatalf("no warning; log:\n%s", logs.String())
			}
			aside := asideFiles(t, dir)
			if len(aside) != tc.aside {
				t.Fatalf("moved aside: %v, want %d files", aside, tc.aside)
			}
			after := files(t, dir)
			for _, name := range aside {
				orig := strings.Split(name, ".corrupt-")[0]
				if !strings.Contains(strings.Join(warns, "\n"), name) || !strings.Contains(strings.Join(warns, "\n"), orig) {
					t.Errorf("the warnings do not name %s and %s:\n%s", orig, name, strings.Join(warns, "\n"))
				}
				if before[orig] == after[name] && tc.name != "missing" {
					// The damaged bytes are what was moved, not the original.
					t.Errorf("%s holds the undamaged file", name)
				}
			}
			reopenCheck(t, path, want, nil)
		})
	}
}

func TestNothingValidFailsAndTouchesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"empty file", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "storage.json"), "") }},
		{"garbage file", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "storage.json"), "this is not a foxstore file\n")
		}},
		{"JSON of someone else", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "storage.json"), `{"user:1":"alice"}`+"\n")
		}},
		{"snapshot and only backup damaged", func(t *testing.T, dir string) {
			compacted(t, filepath.Join(dir, "storage.json"), 1)
			flip(t, filepath.Join(dir, "storage.json"), 70)
			flip(t, filepath.Join(dir, "storage.json.bak1"), 70)
		}},
		{"log without snapshot", func(t *testing.T, dir string) {
			compacted(t, filepath.Join(dir, "storage.json"), driver.NoBackups)
			os.Remove(filepath.Join(dir, "storage.json"))
		}},
		{"newer format", func(t *testing.T, dir string) {
			body := []byte(`{"foxstore":"snapshot","version":2,"seq":0,"entries":[` + "\n" + `],"count":0`)
			writeFile(t, filepath.Join(dir, "storage.json"), string(appendCRC(body, crc32.Checksum(body, castagnoli)))+"\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			before := files(t, dir)
			var logs logBuffer
			s, err := Open(context.Background(), testConfig(filepath.Join(dir, "storage.json"), &logs))
			if err == nil {
				s.Close(context.Background())
				t.Fatal("Open succeeded over data it could not read")
			}
			if !errors.Is(err, driver.ErrStorageCorrupted) {
				t.Fatalf("Open: %v, want ErrStorageCorrupted", err)
			}
			if after := files(t, dir); !mapsEqual(before, after) {
				t.Fatalf("files changed:\nbefore %v\nafter  %v", keys(before), keys(after))
			}
			// The files are still there for a person to rescue, and a
			// second attempt gives the same answer.
			if _, err := Open(context.Background(), testConfig(filepath.Join(dir, "storage.json"), nil)); !errors.Is(err, driver.ErrStorageCorrupted) {
				t.Fatalf("second Open: %v", err)
			}
		})
	}
}

func TestInterruptedInstallIsFinished(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	want := compacted(t, path, 2)
	// The state between the two renames of install: the old snapshot is
	// already bak1, the new one still storage.json.new.
	if err := os.Rename(path, path+".new"); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	reopenCheck(t, path, want, &logs)
	if w := logs.warnings(); len(w) > 0 {
		t.Fatalf("an interrupted install is no damage: %v", w)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("storage.json.new still there: %v", err)
	}
}

func TestLeftoverNewIsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	want := compacted(t, path, 2)
	writeFile(t, path+".new", `{"foxstore":"snapshot","version":1,"seq":9,"entries":[`+"\n"+`{"k":"half`)
	var logs logBuffer
	reopenCheck(t, path, want, &logs)
	if w := logs.warnings(); len(w) > 0 {
		t.Fatalf("an unfinished compaction is no damage: %v", w)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("storage.json.new still there: %v", err)
	}
}

func TestGapInLogStopsReplay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	states := history(t, path)
	log, _ := os.ReadFile(path + ".log.0")
	ends := lineEnds(log)
	// Drop record 2 (the third line) entirely: records 3 to 5 then follow a gap.
	cut := append(bytes.Clone(log[:ends[1]]), log[ends[2]:]...)
	writeFile(t, path+".log.0", string(cut))
	var logs logBuffer
	s := mustOpen(t, testConfig(path, &logs))
	if got := dump(t, s); got != states[1] {
		t.Fatalf("contents:\n%s\nwant the state before the gap:\n%s", got, states[1])
	}
	mustClose(t, s)
	if !strings.Contains(logs.String(), "missing") || len(asideFiles(t, dir)) != 1 {
		t.Fatalf("the gap was not reported and the segment not kept aside:\n%s", logs.String())
	}
}

// nearLineEnd reports whether off is within two bytes of a line's end, where
// recovery has the most edge cases; tests check more there.
func nearLineEnd(ends []int, off int) bool {
	for _, e := range ends {
		if off >= e-3 && off <= e+2 {
			return true
		}
	}
	return false
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off%len(data)] ^= 0x10
	writeFile(t, path, string(data))
}

func truncateFile(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
