package file

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	seq        uint64
	entries    []byte // the entry lines, "\n"-separated, each but the last ending in ','
	entriesOff int64  // where entries starts in the file
	count      int
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
	if err := snapshotShape(data); err != nil {
		return snapshot{}, err
	}
	// A version newer than ours is reported as such only on a file whose
	// checksum verifies; otherwise the version digit may be the damage.
	if _, err := checkCRC(data[:len(data)-1]); err != nil {
		return snapshot{}, err
	}
	return parseSnapshotLines(data)
}

// snapshotShape checks that data is made of lines, at least two.
func snapshotShape(data []byte) error {
	if len(data) == 0 {
		return &atError{0, errors.New("empty file")}
	}
	if data[len(data)-1] != '\n' {
		return &atError{int64(len(data)), errors.New("truncated: no final newline")}
	}
	if bytes.IndexByte(data[:len(data)-1], '\n') < 0 {
		return &atError{0, errors.New("not a foxstore snapshot")}
	}
	return nil
}

// parseSnapshotLines parses the header and footer of a snapshot of the
// right shape, whatever its checksum says, so that the damage of a file
// whose checksum fails can be located too.
func parseSnapshotLines(data []byte) (snapshot, error) {
	var sn snapshot
	body := data[:len(data)-1]
	first := bytes.IndexByte(body, '\n')
	last := bytes.LastIndexByte(body, '\n')
	var err error
	if sn.seq, err = parseSnapHeader(body[:first]); err != nil {
		var ve *versionError
		if errors.As(err, &ve) {
			return sn, err
		}
		return sn, &atError{0, err}
	}
	footerAt := &atError{int64(last + 1), nil}
	if len(body)-last-1 < crcSuffixLen {
		footerAt.err = errors.New("bad footer")
		return sn, footerAt
	}
	footer := body[last+1 : len(body)-crcSuffixLen]
	const countOpen = `],"count":`
	if !bytes.HasPrefix(footer, []byte(countOpen)) {
		footerAt.err = errors.New("bad footer")
		return sn, footerAt
	}
	n, err := parseUint(footer[len(countOpen):])
	if err != nil || n > uint64(len(data)) {
		footerAt.err = errors.New("bad entry count")
		return sn, footerAt
	}
	sn.count = int(n)
	if first < last {
		sn.entries, sn.entriesOff = body[first+1:last], int64(first+1)
	}
	if (sn.count == 0) != (len(sn.entries) == 0) {
		footerAt.err = errors.New("entry count does not match")
		return sn, footerAt
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
// last line must not end in ','. An error is an *atError, located from the
// start of region.
func entryLines(region []byte, lastInFile bool, fn func(obj []byte) error) error {
	off := 0
	for off < len(region) {
		line := region[off:]
		next := len(region)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], off+i+1
		}
		var err error
		if next == len(region) && lastInFile {
			if bytes.HasSuffix(line, []byte{','}) {
				err = errors.New("comma after the last entry")
			}
		} else {
			if !bytes.HasSuffix(line, []byte{','}) {
				err = errors.New("missing comma between entries")
			}
			line = line[:max(len(line)-1, 0)]
		}
		if err == nil {
			err = fn(line)
		}
		if err != nil {
			return &atError{int64(off), err}
		}
		off = next
	}
	return nil
}

// loadChunk is the size of the pieces of a snapshot that loadEntries
// parses in parallel.
const loadChunk = 256 << 10

// loadEntries decodes the snapshot's entries and loads them into mem,
// which must be empty, leaving out entries expired at nowMs; it returns
// how many it kept. It checks that keys are strictly ascending and that
// the count matches. With mem nil it only checks. An error that concerns
// one entry is an *atError located in the file.
//
// Every core parses pieces of the file in order, a few pieces ahead of
// the one loading them into mem, so that the parsed entries never pile up.
func loadEntries(sn snapshot, mem *memory.Store, nowMs int64) (int, error) {
	if sn.count == 0 {
		return 0, nil
	}
	chunks := splitLines(sn.entries, max(len(sn.entries)/loadChunk, 1))
	type result struct {
		first, last string
		n, live     int
		kept        []keptEntry // its live entries, when loading
		err         error
		done        chan struct{}
	}
	res := make([]result, len(chunks))
	for i := range res {
		res[i].done = make(chan struct{})
	}
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	// A worker takes a slot before it parses a piece; the loader frees
	// one for each piece it has loaded.
	slots := make(chan struct{}, 2*workers)
	stop := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				select {
				case slots <- struct{}{}:
				case <-stop:
					return
				}
				ci := int(next.Add(1) - 1)
				if ci >= len(chunks) {
					return
				}
				r, c := &res[ci], chunks[ci]
				if mem != nil {
					r.kept = make([]keptEntry, 0, int(int64(sn.count)*int64(len(c.b))/int64(len(sn.entries)))+16)
				}
				var blocks strBlocks
				r.err = entryLines(c.b, ci == len(chunks)-1, func(obj []byte) error {
					w, ok := parseSnapEntry(obj, &blocks)
					if !ok {
						var err error
						if w, err = parseEntry(obj); err != nil {
							return err
						}
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
					r.live++
					if mem != nil {
						r.kept = append(r.kept, keptEntry{w.Key, w.Entry})
					}
					return nil
				})
				close(r.done)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	total, live := 0, 0
	var last string
	var err error
	entries := func(yield func(string, driver.Entry) bool) {
		for i := range res {
			r := &res[i]
			<-r.done
			if r.err != nil {
				var ae *atError
				if errors.As(r.err, &ae) {
					err = &atError{sn.entriesOff + chunks[i].off + ae.off, ae.err}
				} else {
					err = r.err
				}
				return
			}
			if total > 0 && r.n > 0 && r.first <= last {
				err = &atError{sn.entriesOff + chunks[i].off, errors.New("keys out of order")}
				return
			}
			if r.n > 0 {
				last = r.last
			}
			total += r.n
			live += r.live
			for _, w := range r.kept {
				if !yield(w.key, w.e) {
					return
				}
			}
			r.kept = nil
			<-slots
		}
	}
	if mem != nil {
		if lerr := mem.Load(sn.count, entries); err == nil {
			err = lerr
		}
	} else {
		entries(func(string, driver.Entry) bool { return true })
	}
	if err != nil {
		return 0, err
	}
	if total != sn.count {
		return 0, &atError{sn.entriesOff + int64(len(sn.entries)) + 1, fmt.Errorf("%d entries, footer says %d", total, sn.count)}
	}
	return live, nil
}

// keptEntry is an entry parsed from a snapshot, waiting to be loaded.
type keptEntry struct {
	key string
	e   driver.Entry
}

// chunk is a piece of a snapshot's entry lines and its offset among them.
type chunk struct {
	b   []byte
	off int64
}

// splitLines cuts b into at most n pieces at line boundaries.
func splitLines(b []byte, n int) []chunk {
	var out []chunk
	off := int64(0)
	for n > 1 && len(b) > 0 {
		cut := len(b) / n
		i := bytes.IndexByte(b[cut:], '\n')
		if i < 0 {
			break
		}
		out = append(out, chunk{b[:cut+i], off})
		b = b[cut+i+1:]
		off += int64(cut + i + 1)
		n--
	}
	if len(b) > 0 {
		out = append(out, chunk{b, off})
	}
	return out
}

// parseSnapEntry parses an entry line in the form that appendEntry writes
// for a string value, {"k":"...","t":"string","v":"..."} with an optional
// ,"exp":N, when both strings need no unescaping, and gives what
// parseEntry gives for it, without its allocations: the key and the value
// are carved from blocks. ok is false for anything else (other types,
// escapes, keys that are not UTF-8, damage), which parseEntry handles.
func parseSnapEntry(obj []byte, blocks *strBlocks) (w driver.Write, ok bool) {
	const keyOpen, valOpen, expOpen = `{"k":"`, `","t":"string","v":"`, `,"exp":`
	rest, ok := bytes.CutPrefix(obj, []byte(keyOpen))
	if !ok {
		return w, false
	}
	k := plainQuote(rest)
	if k <= 0 || k > driver.MaxStoredKeyLen {
		return w, false
	}
	key := rest[:k]
	if rest, ok = bytes.CutPrefix(rest[k:], []byte(valOpen)); !ok {
		return w, false
	}
	v := plainQuote(rest)
	if v < 0 {
		return w, false
	}
	val, rest := rest[:v], rest[v+1:]
	if len(rest) != 1 || rest[0] != '}' {
		num, ok := bytes.CutPrefix(rest, []byte(expOpen))
		if !ok || len(num) < 2 || num[len(num)-1] != '}' {
			return w, false
		}
		n, err := parseUint(num[:len(num)-1])
		if err != nil || n > 1<<62 {
			return w, false
		}
		w.Entry.Expires = int64(n)
	}
	value, err := driver.EncodeValue(blocks.str(val))
	if err != nil {
		return w, false
	}
	w.Key, w.Entry.Value = blocks.str(key), value
	return w, true
}

// plainQuote returns the index of the first '"' in b when the bytes before
// it are a JSON string's content that needs no unescaping (no backslash,
// no control character) and is valid UTF-8, so that it is the string
// itself; otherwise -1.
func plainQuote(b []byte) int {
	for i, c := range b {
		if c == '"' {
			if !utf8.Valid(b[:i]) {
				return -1
			}
			return i
		}
		if c < 0x20 || c == '\\' {
			return -1
		}
	}
	return -1
}

// strBlocks makes strings out of shared blocks of strBlockSize bytes, so
// that loading a snapshot allocates once per block rather than once per key
// and per value: fewer, pointer-free objects for the allocator and the
// garbage collector. A block is freed once none of its strings is in use,
// so a key deleted (or a value replaced) after the load may keep up to a
// block of its neighbours' bytes alive; strings longer than strBlockMax get
// their own allocation, so that no large value outlives its entry that way.
type strBlocks struct {
	sb strings.Builder // the current block; a Builder never changes bytes it has handed out
}

const (
	strBlockSize = 8 << 10
	strBlockMax  = 256
)

func (bl *strBlocks) str(b []byte) string {
	if len(b) > strBlockMax {
		return string(b)
	}
	if bl.sb.Len()+len(b) > bl.sb.Cap() {
		bl.sb = strings.Builder{}
		bl.sb.Grow(strBlockSize)
	}
	start := bl.sb.Len()
	bl.sb.Write(b)
	return bl.sb.String()[start:]
}
