package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

// A snapshot is one JSON document, one entry per line, sorted by key:
//
//	{"foxstore":"snapshot","version":1,"seq":42,"created":"2025-06-01T10:00:00Z","entries":[
//	{"k":"a","t":"string","v":"x"},
//	{"k":"b","t":"int","v":7,"exp":1767225600000}
//	],"count":2,"crc32c":"89abcdef"}
//
// The checksum covers every byte before `,"crc32c"`.

const entriesOpen = `,"entries":[`

// snapWriter streams a snapshot to w, computing its checksum.
type snapWriter struct {
	w   io.Writer
	crc uint32
	n   int
	err error
}

func newSnapWriter(w io.Writer, seq uint64, created time.Time) *snapWriter {
	sw := &snapWriter{w: w}
	h := make([]byte, 0, 128)
	h = append(h, `{"foxstore":"snapshot","version":`...)
	h = strconv.AppendInt(h, formatVersion, 10)
	h = append(h, `,"seq":`...)
	h = strconv.AppendUint(h, seq, 10)
	h = append(h, `,"created":"`...)
	h = created.UTC().AppendFormat(h, time.RFC3339)
	h = append(h, '"')
	h = append(h, entriesOpen...)
	sw.put(h)
	return sw
}

func (sw *snapWriter) put(b []byte) {
	if sw.err != nil {
		return
	}
	sw.crc = crc32.Update(sw.crc, castagnoli, b)
	_, sw.err = sw.w.Write(b)
}

var (
	firstSep = []byte("\n")
	nextSep  = []byte(",\n")
)

// entry adds one entry object (see appendEntry); entries come in key order.
func (sw *snapWriter) entry(obj []byte) {
	if sw.n == 0 {
		sw.put(firstSep)
	} else {
		sw.put(nextSep)
	}
	sw.put(obj)
	sw.n++
}

// finish writes the count and the checksum.
func (sw *snapWriter) finish() error {
	tail := append([]byte("\n]"), `,"count":`...)
	sw.put(strconv.AppendInt(tail, int64(sw.n), 10))
	if sw.err != nil {
		return sw.err
	}
	_, sw.err = sw.w.Write(append(appendCRC(nil, sw.crc), '\n'))
	return sw.err
}

// snapshot is a checked snapshot file held in memory.
type snapshot struct {
	seq     uint64
	entries []byte // the entry lines, "\n"-separated, each but the last ending in ','
	count   int
}

// versionError reports a file written by a newer format version. It is not
// corruption: recovery must neither fall back to an older file nor move it.
type versionError struct{ version uint64 }

func (e *versionError) Error() string {
	return fmt.Sprintf("format version %d is newer than this foxstore supports (%d)", e.version, formatVersion)
}

// parseSnapshot checks a snapshot's structure and checksum. Entries are
// parsed later, by loadEntries.
func parseSnapshot(data []byte) (snapshot, error) {
	var sn snapshot
	if len(data) == 0 {
		return sn, errors.New("empty file")
	}
	if data[len(data)-1] != '\n' {
		return sn, errors.New("truncated: no final newline")
	}
	body := data[:len(data)-1]
	first := bytes.IndexByte(body, '\n')
	last := bytes.LastIndexByte(body, '\n')
	if first < 0 {
		return sn, errors.New("not a foxstore snapshot")
	}
	// A version newer than ours is reported as such only on a file whose
	// checksum verifies; otherwise the version digit may be the damage.
	_, crcErr := checkCRC(body)
	var err error
	sn.seq, err = parseSnapHeader(body[:first])
	if crcErr != nil {
		return sn, crcErr
	}
	if err != nil {
		return sn, err
	}
	footer := body[last+1 : len(body)-crcSuffixLen]
	const countOpen = `],"count":`
	if !bytes.HasPrefix(footer, []byte(countOpen)) {
		return sn, errors.New("bad footer")
	}
	n, err := parseUint(footer[len(countOpen):])
	if err != nil || n > uint64(len(data)) {
		return sn, errors.New("bad entry count")
	}
	sn.count = int(n)
	if first < last {
		sn.entries = body[first+1 : last]
	}
	if (sn.count == 0) != (len(sn.entries) == 0) {
		return sn, errors.New("entry count does not match")
	}
	return sn, nil
}

// parseSnapHeader parses a snapshot's first line (without its newline) and
// returns the snapshot's seq.
func parseSnapHeader(header []byte) (uint64, error) {
	if !bytes.HasSuffix(header, []byte(entriesOpen)) {
		return 0, errors.New("not a foxstore snapshot")
	}
	obj := append(bytes.Clone(header[:len(header)-len(entriesOpen)]), '}')
	var kind string
	var version, seq uint64
	var hasSeq bool
	err := members(obj, func(name, v []byte) error {
		var err error
		switch string(name) {
		case "foxstore":
			kind, err = parseString(v)
		case "version":
			version, err = parseUint(v)
		case "seq":
			seq, err = parseUint(v)
			hasSeq = true
		}
		return err
	})
	if err != nil || kind != "snapshot" || !hasSeq {
		return 0, errors.New("not a foxstore snapshot")
	}
	if version > formatVersion {
		return 0, &versionError{version}
	}
	if version != formatVersion {
		return 0, fmt.Errorf("bad format version %d", version)
	}
	return seq, nil
}

// entryLines calls fn with each entry object of region, a run of entry
// lines; lastInFile says whether region ends the snapshot's entries, so its
// last line must not end in ','.
func entryLines(region []byte, lastInFile bool, fn func(obj []byte) error) error {
	for len(region) > 0 {
		line := region
		rest := []byte(nil)
		if i := bytes.IndexByte(region, '\n'); i >= 0 {
			line, rest = region[:i], region[i+1:]
		}
		final := len(rest) == 0 && lastInFile
		if final {
			if bytes.HasSuffix(line, []byte{','}) {
				return errors.New("comma after the last entry")
			}
		} else {
			if !bytes.HasSuffix(line, []byte{','}) {
				return errors.New("missing comma between entries")
			}
			line = line[:len(line)-1]
		}
		if err := fn(line); err != nil {
			return err
		}
		region = rest
	}
	return nil
}

// loadEntries decodes the snapshot's entries into mem, in parallel chunks,
// leaving out entries expired at nowMs. It checks that keys are strictly
// ascending and that the count matches.
func loadEntries(sn snapshot, mem *memory.Store, nowMs int64) error {
	if sn.count == 0 {
		return nil
	}
	parts := runtime.GOMAXPROCS(0)
	if len(sn.entries) < 1<<20 {
		parts = 1
	}
	chunks := splitLines(sn.entries, parts)
	type result struct {
		first, last string
		n           int
		err         error
	}
	res := make([]result, len(chunks))
	// Parsing runs on every core; one goroutine inserts, since inserts of
	// many keys take all the memory store's shard locks anyway.
	const batchLen = 1024
	batches := make(chan []driver.Write, 2*len(chunks))
	free := make(chan []driver.Write, 4*len(chunks))
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for b := range batches {
			_ = mem.Apply(context.Background(), b)
			clear(b)
			select {
			case free <- b[:0]:
			default:
			}
		}
	}()
	newBatch := func() []driver.Write {
		select {
		case b := <-free:
			return b
		default:
			return make([]driver.Write, 0, batchLen)
		}
	}
	var wg sync.WaitGroup
	for ci, chunk := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &res[ci]
			batch := newBatch()
			r.err = entryLines(chunk, ci == len(chunks)-1, func(obj []byte) error {
				w, err := parseEntry(obj)
				if err != nil {
					return err
				}
				if w.Delete {
					return errors.New("deletion in a snapshot")
				}
				if r.n > 0 && w.Key <= r.last {
					return errors.New("keys out of order")
				}
				if r.n == 0 {
					r.first = w.Key
				}
				r.last = w.Key
				r.n++
				if w.Entry.Expires != 0 && w.Entry.Expires <= nowMs {
					return nil
				}
				batch = append(batch, w)
				if len(batch) == batchLen {
					batches <- batch
					batch = newBatch()
				}
				return nil
			})
			if len(batch) > 0 {
				batches <- batch
			}
		}()
	}
	wg.Wait()
	close(batches)
	<-applied
	total := 0
	for i, r := range res {
		if r.err != nil {
			return r.err
		}
		if i > 0 && r.n > 0 && res[i-1].n > 0 && r.first <= res[i-1].last {
			return errors.New("keys out of order")
		}
		total += r.n
	}
	if total != sn.count {
		return fmt.Errorf("%d entries, footer says %d", total, sn.count)
	}
	return nil
}

// splitLines cuts b into at most n pieces at line boundaries.
func splitLines(b []byte, n int) [][]byte {
	var out [][]byte
	for n > 1 && len(b) > 0 {
		cut := len(b) / n
		i := bytes.IndexByte(b[cut:], '\n')
		if i < 0 {
			break
		}
		out = append(out, b[:cut+i])
		b = b[cut+i+1:]
		n--
	}
	if len(b) > 0 {
		out = append(out, b)
	}
	return out
}
