package file

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// FuzzLoad feeds arbitrary bytes to the loader as a snapshot and a log
// segment, once as they are and once with their checksums made right, so
// that mutations reach the parsers behind the checksums. Opening must never
// panic: it succeeds, or fails with ErrStorageCorrupted, as Verify said
// beforehand. A store that opens opens again with the same contents. The seed corpus (testdata/fuzz) holds
// real stores.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"foxstore":"snapshot","version":1,"seq":0,"created":"2025-01-01T00:00:00Z","entries":[`+"\n"+`],"count":0,"crc32c":"00000000"}`+"\n"), []byte(nil))
	f.Fuzz(func(t *testing.T, snap, log []byte) {
		for _, fix := range []bool{false, true} {
			if fix {
				snap, log = fixSnapshotCRC(snap), fixLogCRCs(log)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "storage.json")
			if err := os.WriteFile(path, snap, 0o600); err != nil {
				t.Fatal(err)
			}
			if len(log) > 0 {
				// Name the segment as its header says, when it says.
				seg := newNames(path).segment(0)
				if i := bytes.IndexByte(log, '\n'); i > 0 {
					if after, err := parseSegHeader(log[:i]); err == nil {
						seg = newNames(path).segment(after)
					}
				}
				if err := os.WriteFile(seg, log, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			rep, verr := Verify(context.Background(), path)
			s, err := Open(context.Background(), testConfig(path, nil))
			if verr != nil {
				t.Fatalf("Verify: %v", verr)
			}
			if err != nil {
				if !errors.Is(err, driver.ErrStorageCorrupted) {
					t.Fatalf("Open: %v; want success or ErrStorageCorrupted", err)
				}
				if rep.Recovery.Opens {
					t.Fatalf("Open: %v; Verify said it opens: %+v", err, rep.Recovery)
				}
				continue
			}
			want := dump(t, s)
			if keys := strings.Count(want, "\n"); !rep.Recovery.Opens || rep.Recovery.Keys != keys {
				t.Fatalf("Open gives %d keys; Verify said %+v", keys, rep.Recovery)
			}
			mustClose(t, s)
			s, err = Open(context.Background(), testConfig(path, nil))
			if err != nil {
				t.Fatalf("a store that opened once does not open again: %v", err)
			}
			if got := dump(t, s); got != want {
				t.Fatalf("contents changed between opens:\n%s\nthen:\n%s", want, got)
			}
			mustClose(t, s)
		}
	})
}

// fixSnapshotCRC rewrites the checksum at the end of a snapshot, if it has one.
func fixSnapshotCRC(data []byte) []byte {
	if len(data) < crcSuffixLen+1 || data[len(data)-1] != '\n' {
		return data
	}
	body := data[:len(data)-1]
	cut := len(body) - crcSuffixLen
	if !bytes.HasPrefix(body[cut:], []byte(`,"crc32c":"`)) {
		return data
	}
	out := appendCRC(bytes.Clone(body[:cut]), crc32.Checksum(body[:cut], castagnoli))
	return append(out, '\n')
}

// fixLogCRCs rewrites the checksum of every log line that has one.
func fixLogCRCs(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		line := data
		rest := []byte(nil)
		nl := false
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, rest, nl = data[:i], data[i+1:], true
		}
		if cut := len(line) - crcSuffixLen; cut > 0 && bytes.HasPrefix(line[cut:], []byte(`,"crc32c":"`)) {
			out = appendCRC(append(out, line[:cut]...), crc32.Checksum(line[:cut], castagnoli))
		} else {
			out = append(out, line...)
		}
		if nl {
			out = append(out, '\n')
		}
		data = rest
	}
	return out
}

// TestWriteFuzzCorpus regenerates the seed corpus of FuzzLoad from real
// stores: go test -run TestWriteFuzzCorpus -file.writecorpus
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -file.writecorpus to regenerate testdata/fuzz/FuzzLoad")
	}
	out := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	add := func(name string, snap, log []byte) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		b.WriteString("[]byte(" + goQuote(snap) + ")\n")
		b.WriteString("[]byte(" + goQuote(log) + ")\n")
		if err := os.WriteFile(filepath.Join(out, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	history(t, path)
	snap, _ := os.ReadFile(path)
	log, _ := os.ReadFile(path + ".log.0")
	add("history", snap, log)
	add("torn-tail", snap, log[:len(log)-9])
	add("empty-log", snap, nil)

	dir = t.TempDir()
	path = filepath.Join(dir, "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	mustApply(t, s, set("a", val(t, "x"), 0), set("\xffns\x00k", val(t, []byte{0, 255}), 0),
		set("t", val(t, time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)), 4102444800000),
		set("j", val(t, map[string]any{"list": []any{1.0, "two", nil}}), 0))
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, del("a"), set("u", val(t, uint64(1<<63)), 0))
	mustClose(t, s)
	snap, _ = os.ReadFile(path)
	l, _ := newNames(path).list()
	log, _ = os.ReadFile(newNames(path).segment(l.segments[len(l.segments)-1]))
	add("compacted", snap, log)
	add("garbage", []byte("not json at all\n"), []byte("{\n"))
}

var writeCorpus = flag.Bool("file.writecorpus", false, "regenerate the seed corpus of FuzzLoad")

func goQuote(b []byte) string { return strconv.Quote(string(b)) }
