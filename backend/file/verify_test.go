package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// dirState is every file of a directory, the lock file included: its
// bytes, mode and modification time.
type dirState map[string]string

func snapDir(t *testing.T, dir string) dirState {
	t.Helper()
	out := dirState{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fmt.Sprintf("%v %s %x", fi.Mode(), fi.ModTime().Format(time.RFC3339Nano), data)
	}
	return out
}

// mustVerify runs Verify and checks that it changed nothing in the
// store's directory.
func mustVerify(t *testing.T, path string) Report {
	t.Helper()
	dir := filepath.Dir(path)
	before := snapDir(t, dir)
	rep, err := Verify(context.Background(), path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if after := snapDir(t, dir); !mapsEqual(before, after) {
		t.Fatalf("Verify changed files:\nbefore %v\nafter  %v", before, after)
	}
	return rep
}

func fileReport(t *testing.T, rep Report, name string) FileReport {
	t.Helper()
	for _, f := range rep.Files {
		if filepath.Base(f.Path) == name {
			return f
		}
	}
	t.Fatalf("no report on %s: %+v", name, rep.Files)
	return FileReport{}
}

// openedKeys opens a copy of the store (Verify's forecast must not depend
// on a store that Open already repaired) and returns its live keys and its
// contents.
func openedKeys(t *testing.T, path string) (int, string) {
	t.Helper()
	cp := filepath.Join(copyDir(t, filepath.Dir(path)), filepath.Base(path))
	s := mustOpen(t, testConfig(cp, nil))
	defer mustClose(t, s)
	d := dump(t, s)
	return strings.Count(d, "\n"), d
}

func TestVerifyHealthyStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	want := compacted(t, path, 3)
	rep := mustVerify(t, path)
	if rep.Damaged || len(rep.Lost) > 0 || len(rep.Recovery.Repairs) > 0 {
		t.Fatalf("healthy store reported damaged: %+v", rep)
	}
	keys, _ := openedKeys(t, path)
	rec := rep.Recovery
	if !rec.Opens || rec.Snapshot != path || rec.Keys != keys || keys != strings.Count(want, "\n") {
		t.Fatalf("recovery: %+v, want it to open from %s with %d keys", rec, path, keys)
	}
	roles := map[string]int{}
	for _, f := range rep.Files {
		roles[f.Role]++
		if f.Status != StatusOK || f.At != nil || f.Reason != "" {
			t.Errorf("%s: %s %q", f.Path, f.Status, f.Reason)
		}
		if f.Size == 0 || f.Modified.IsZero() {
			t.Errorf("%s: no size or time", f.Path)
		}
		if (f.Role == RoleSnapshot || f.Role == RoleBackup) && f.UpTo != rec.LastSeq {
			t.Errorf("%s (seq %d) reaches record %d with the log, want %d", f.Path, f.Seq, f.UpTo, rec.LastSeq)
		}
	}
	if roles[RoleSnapshot] != 1 || roles[RoleBackup] != 2 || roles[RoleLog] != 3 {
		t.Fatalf("files: %v", roles)
	}
	snap := fileReport(t, rep, "storage.json")
	if snap.Keys != 2 || snap.Seq != 2 {
		t.Errorf("snapshot: %d keys at seq %d, want 2 at 2", snap.Keys, snap.Seq)
	}
	if rec.SnapshotSeq != 2 || rec.FirstSeq != 3 || rec.LastSeq != 4 || len(rec.Segments) != 1 {
		t.Errorf("recovery replays records %d-%d from %v after %d; want 3-4 from one segment after 2",
			rec.FirstSeq, rec.LastSeq, rec.Segments, rec.SnapshotSeq)
	}
	seg := fileReport(t, rep, "storage.json.log.0")
	if seg.FirstSeq != 1 || seg.LastSeq != 1 || seg.Records != 1 || seg.Keys != 2 {
		t.Errorf("first segment: %+v", seg)
	}
}

func TestVerifyDamagedSnapshotRecoversFromBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	want := compacted(t, path, 3)
	// Damage an entry: the checksum fails and the line no longer parses.
	data, _ := os.ReadFile(path)
	second := bytes.IndexByte(data, '\n') + 1
	data[second+2] = '!'
	writeFile(t, path, string(data))

	rep := mustVerify(t, path)
	snap := fileReport(t, rep, "storage.json")
	if snap.Status != StatusDamaged || snap.At == nil || snap.At.Line != 2 || snap.At.Offset != int64(second) {
		t.Fatalf("damaged snapshot: %+v (at %+v), want damage at line 2, offset %d", snap, snap.At, second)
	}
	if !strings.Contains(snap.Reason, "checksum") {
		t.Errorf("reason %q does not name the checksum", snap.Reason)
	}
	keys, got := openedKeys(t, path)
	if got != want {
		t.Fatalf("the store did not open with its data:\n%s", got)
	}
	rec := rep.Recovery
	if !rep.Damaged || !rec.Opens || rec.Snapshot != path+".bak1" || rec.Keys != keys || rec.LastSeq != 4 {
		t.Fatalf("recovery: %+v, want it to open from bak1 with %d keys up to record 4", rec, keys)
	}
	if len(rep.Lost) > 0 {
		t.Errorf("lost: %+v; the backup keeps its log, nothing is lost", rep.Lost)
	}
	repairs := strings.Join(rec.Repairs, "\n")
	if !strings.Contains(repairs, "move "+path+" aside") || !strings.Contains(repairs, "new snapshot") {
		t.Errorf("repairs: %v", rec.Repairs)
	}

	// A bit flip inside a value still parses: the checksum alone tells.
	dir2 := t.TempDir()
	path2 := filepath.Join(dir2, "storage.json")
	compacted(t, path2, 3)
	data, _ = os.ReadFile(path2)
	i := bytes.Index(data, []byte(`"v":`)) + 4
	data[i] ^= 0x01 // the digit 1 becomes 0
	writeFile(t, path2, string(data))
	rep = mustVerify(t, path2)
	if snap := fileReport(t, rep, "storage.json"); snap.Status != StatusDamaged || snap.At != nil || !strings.Contains(snap.Reason, "every line parses") {
		t.Errorf("a value changed under the checksum: %+v", snap)
	}
	if rep.Recovery.Snapshot != path2+".bak1" {
		t.Errorf("recovers from %q", rep.Recovery.Snapshot)
	}
}

func TestVerifyDamagedLogTail(t *testing.T) {
	base := t.TempDir()
	states := history(t, filepath.Join(base, "storage.json"))
	log, _ := os.ReadFile(filepath.Join(base, "storage.json.log.0"))
	ends := lineEnds(log) // the header, then records 1 to 5

	t.Run("torn", func(t *testing.T) {
		dir := copyDir(t, base)
		path := filepath.Join(dir, "storage.json")
		cut := ends[4] + 10 // in the middle of record 5
		writeFile(t, path+".log.0", string(log[:cut]))
		rep := mustVerify(t, path)
		seg := fileReport(t, rep, "storage.json.log.0")
		if seg.Status != StatusTorn || seg.At == nil || seg.At.Offset != int64(ends[4]) || seg.At.Line != 6 || seg.LastSeq != 4 {
			t.Fatalf("torn segment: %+v at %+v", seg, seg.At)
		}
		if rep.Damaged {
			t.Errorf("a torn tail is what a crash leaves, not damage: %+v", rep)
		}
		if rep.Recovery.LastSeq != 4 || len(rep.Lost) != 1 || rep.Lost[0].Bytes != 10 || rep.Lost[0].FirstSeq != 0 {
			t.Errorf("recovery %+v, lost %+v", rep.Recovery, rep.Lost)
		}
		if keys, got := openedKeys(t, path); got != states[4] || rep.Recovery.Keys != keys {
			t.Errorf("opens with %d keys, Verify says %d", keys, rep.Recovery.Keys)
		}
	})

	t.Run("last record damaged", func(t *testing.T) {
		dir := copyDir(t, base)
		path := filepath.Join(dir, "storage.json")
		bad := bytes.Clone(log)
		bad[ends[4]+20] ^= 0x04
		writeFile(t, path+".log.0", string(bad))
		rep := mustVerify(t, path)
		seg := fileReport(t, rep, "storage.json.log.0")
		if seg.Status != StatusDamaged || seg.At == nil || seg.At.Line != 6 || seg.At.Offset != int64(ends[4]) {
			t.Fatalf("segment: %+v at %+v", seg, seg.At)
		}
		if !rep.Damaged || rep.Recovery.LastSeq != 4 || len(rep.Lost) != 1 || rep.Lost[0].Bytes != int64(len(log)-ends[4]) {
			t.Errorf("report: %+v", rep)
		}
		if !strings.Contains(strings.Join(rep.Recovery.Repairs, "\n"), "keeping a copy") {
			t.Errorf("repairs: %v", rep.Recovery.Repairs)
		}
		if keys, got := openedKeys(t, path); got != states[4] || rep.Recovery.Keys != keys {
			t.Errorf("opens with %d keys, Verify says %d", keys, rep.Recovery.Keys)
		}
	})

	t.Run("record in the middle damaged", func(t *testing.T) {
		dir := copyDir(t, base)
		path := filepath.Join(dir, "storage.json")
		bad := bytes.Clone(log)
		bad[ends[1]+5] ^= 0x04 // record 2
		writeFile(t, path+".log.0", string(bad))
		rep := mustVerify(t, path)
		seg := fileReport(t, rep, "storage.json.log.0")
		if seg.Status != StatusDamaged || seg.At == nil || seg.At.Line != 3 || seg.Records != 4 {
			t.Fatalf("segment: %+v at %+v", seg, seg.At)
		}
		rec := rep.Recovery
		if !rep.Damaged || !rec.Opens || rec.LastSeq != 1 {
			t.Fatalf("report: %+v", rep)
		}
		want := []Lost{
			{FirstSeq: 2, LastSeq: 2},
			{Path: path + ".log.0", FirstSeq: 3, LastSeq: 5},
		}
		if len(rep.Lost) != len(want) {
			t.Fatalf("lost: %+v, want %+v", rep.Lost, want)
		}
		for i, w := range want {
			if g := rep.Lost[i]; g.Path != w.Path || g.FirstSeq != w.FirstSeq || g.LastSeq != w.LastSeq {
				t.Errorf("lost[%d] = %+v, want %+v", i, g, w)
			}
		}
		if keys, got := openedKeys(t, path); got != states[1] || rec.Keys != keys {
			t.Errorf("opens with %d keys, Verify says %d", keys, rec.Keys)
		}
	})
}

func TestVerifyNothingValid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	compacted(t, path, 1)
	flip(t, path, 70)
	flip(t, path+".bak1", 70)
	rep := mustVerify(t, path)
	if !rep.Damaged || rep.Recovery.Opens || rep.Recovery.Error == "" || rep.Recovery.Keys != 0 {
		t.Fatalf("report: %+v", rep)
	}
	for _, name := range []string{"storage.json", "storage.json.bak1"} {
		if f := fileReport(t, rep, name); f.Status != StatusDamaged {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if _, err := Open(context.Background(), testConfig(path, nil)); !errors.Is(err, driver.ErrStorageCorrupted) {
		t.Fatalf("Open: %v; Verify said it fails", err)
	}

	// A newer format is no damage of a file, but the store does not open.
	dir = t.TempDir()
	path = filepath.Join(dir, "storage.json")
	body := []byte(`{"foxstore":"snapshot","version":2,"seq":0,"entries":[` + "\n" + `],"count":0`)
	writeFile(t, path, string(appendCRC(body, crc32.Checksum(body, castagnoli)))+"\n")
	rep = mustVerify(t, path)
	if f := fileReport(t, rep, "storage.json"); f.Status != StatusUnsupported || rep.Recovery.Opens || !rep.Damaged {
		t.Fatalf("newer format: %+v", rep)
	}
}

func TestVerifyMissingStore(t *testing.T) {
	dir := t.TempDir()
	_, err := Verify(context.Background(), filepath.Join(dir, "none", "storage.json"))
	if !errors.Is(err, driver.ErrStorageInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Verify of nothing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Verify created the directory")
	}
}

func TestVerifyListsEveryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	compacted(t, path, 2)
	writeFile(t, path+".new", `{"foxstore":"snapshot","version":1,"seq":9,"entries":[`+"\n"+`{"k":"half`)
	writeFile(t, path+".log.3.corrupt-20250101T000000Z", "old damage")
	rep := mustVerify(t, path)
	if f := fileReport(t, rep, "storage.json.new"); f.Status != StatusSkipped || f.Role != RoleNew {
		t.Errorf(".new: %+v", f)
	}
	if f := fileReport(t, rep, "storage.json.log.3.corrupt-20250101T000000Z"); f.Status != StatusSkipped || f.Role != RoleAside {
		t.Errorf("moved aside: %+v", f)
	}
	if rep.Damaged || !strings.Contains(strings.Join(rep.Recovery.Repairs, "\n"), "remove "+path+".new") {
		t.Errorf("report: %+v", rep)
	}

	// The snapshot missing, with storage.json.new cut short: Open
	// replays the backup and the log.
	os.Remove(path)
	rep = mustVerify(t, path)
	if f := fileReport(t, rep, "storage.json.new"); f.Status != StatusIncomplete {
		t.Errorf(".new: %+v", f)
	}
	if !rep.Damaged || rep.Recovery.Snapshot != path+".bak1" {
		t.Errorf("missing snapshot: %+v", rep)
	}
}

// TestVerifyWhileWriting runs Verify again and again while a writer writes
// and compacts: it never takes the lock, never fails but for a writer too
// busy to let it read, and never reports damage in a healthy store.
func TestVerifyWhileWriting(t *testing.T) {
	old := compactMinBytes
	compactMinBytes = 8 << 10
	t.Cleanup(func() { compactMinBytes = old })
	path := filepath.Join(t.TempDir(), "storage.json")
	cfg := testConfig(path, nil)
	cfg.BackupCount = 1
	w := mustOpen(t, cfg)
	defer mustClose(t, w)
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := w.Apply(context.Background(), sorted(
				set("a", val(t, i), 0), set(fmt.Sprintf("pad%03d", i%50), val(t, strings.Repeat("p", int(i%200))), 0),
			)); err != nil {
				t.Error(err)
				return
			}
			acked.Store(i)
		}
	}()
	ok, busy := 0, 0
	deadline := time.Now().Add(2 * time.Second)
	for runs := 0; runs < 20 || time.Now().Before(deadline) && runs < 200; runs++ {
		before := uint64(acked.Load())
		rep, err := Verify(context.Background(), path)
		if errors.Is(err, driver.ErrStorageReadFailed) {
			busy++
			continue
		}
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if rep.Damaged || !rep.Recovery.Opens || rep.Recovery.LastSeq < before {
			t.Fatalf("Verify of a store being written: %+v (write %d was acknowledged before)", rep, before)
		}
		for _, f := range rep.Files {
			if f.Status != StatusOK && f.Status != StatusTorn && f.Status != StatusSkipped {
				t.Fatalf("%s: %s: %s", f.Path, f.Status, f.Reason)
			}
		}
		ok++
	}
	close(stop)
	wg.Wait()
	if ok == 0 {
		t.Fatalf("no Verify succeeded (%d found the writer too busy)", busy)
	}
	t.Logf("%d reports, %d busy, %d writes", ok, busy, acked.Load())
}

// TestVerifyForecastsOpen damages a store byte by byte, in its log and in
// its snapshots, and checks Verify's forecast against what Open then does:
// the same keys, and damage reported whenever Open warns of some.
func TestVerifyForecastsOpen(t *testing.T) {
	base := t.TempDir()
	compacted(t, filepath.Join(base, "storage.json"), 2)
	for _, name := range []string{"storage.json.log.2", "storage.json", "storage.json.bak1"} {
		orig, err := os.ReadFile(filepath.Join(base, name))
		if err != nil {
			t.Fatal(err)
		}
		for off := range orig {
			if name != "storage.json.log.2" && off%7 != 0 {
				continue
			}
			dir := copyDir(t, base)
			path := filepath.Join(dir, "storage.json")
			bad := bytes.Clone(orig)
			bad[off] ^= 0x04
			writeFile(t, filepath.Join(dir, name), string(bad))
			rep := mustVerify(t, path)
			var logs logBuffer
			s, err := Open(context.Background(), testConfig(path, &logs))
			if err != nil {
				if rep.Recovery.Opens || !errors.Is(err, driver.ErrStorageCorrupted) {
					t.Fatalf("%s offset %d: Open: %v; Verify: %+v", name, off, err, rep.Recovery)
				}
				continue
			}
			got := strings.Count(dump(t, s), "\n")
			mustClose(t, s)
			if !rep.Recovery.Opens || rep.Recovery.Keys != got {
				t.Fatalf("%s offset %d: Open gives %d keys; Verify: %+v", name, off, got, rep.Recovery)
			}
			if len(logs.warnings()) > 0 && !rep.Damaged {
				t.Fatalf("%s offset %d: Open warned, Verify saw no damage:\n%s\n%+v", name, off, logs.String(), rep)
			}
			if !rep.Damaged && len(rep.Recovery.Repairs) > 0 && !strings.Contains(strings.Join(rep.Recovery.Repairs, ""), "torn tail") {
				t.Fatalf("%s offset %d: repairs %v without damage", name, off, rep.Recovery.Repairs)
			}
		}
	}
}
