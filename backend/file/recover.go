package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

// state is what recovery made of the files: the data, and what must change
// on disk before the store can take writes. Finding it touches no file.
type state struct {
	mem       *memory.Store
	snapSeq   uint64 // the loaded snapshot's seq
	snapFrom  string // the file it came from; "" for none
	snapSize  int64
	snapCount int
	last      uint64 // seq of the last record applied (snapSeq if none)
	logBytes  int64  // log bytes replayed on top of the snapshot

	fresh       bool       // no file of the store exists
	rollForward bool       // the snapshot is storage.json.new, whose install was interrupted
	leftoverNew bool       // storage.json.new beside a valid snapshot: a compaction that did not finish
	badSnaps    []badFile  // snapshots newer than the loaded one that failed to verify
	badSegs     []badFile  // segments that are damaged, or hold records beyond a gap
	keptSegs    []uint64   // segments left in place, ascending
	active      *activeSeg // the segment new records follow, if any
	torn        *activeSeg // the newest segment, when a torn tail must be cut from it
	lost        error      // set when records known to exist could not be applied
	mainPath    string     // the store's snapshot path
}

type badFile struct {
	path string
	why  error
}

// activeSeg is the last segment when new records can follow it.
type activeSeg struct {
	after    uint64
	end      int64 // end of its last valid record: the torn tail starts here
	size     int64
	tornLine bool // the torn tail holds a complete line: damage rather than a cut-short write
}

// needSnapshot reports whether the recovered data must be written out as a
// new snapshot: it did not come from the current snapshot, or files it
// depends on are about to be moved aside.
func (st *state) needSnapshot() bool {
	if st.fresh {
		return false
	}
	return st.snapFrom != st.mainPath && !st.rollForward || len(st.badSnaps) > 0 || len(st.badSegs) > 0
}

// suspect reports what a read-only opener should retry: anything that a
// writer's compaction running at the same moment can explain.
func (st *state) suspect() bool {
	return len(st.badSnaps) > 0 || len(st.badSegs) > 0 || st.rollForward || st.lost != nil
}

// corrupted builds the error of a store with nothing valid left.
func corrupted(format string, args ...any) error {
	return driver.NewError(driver.CodeCorrupted, "open", "", fmt.Errorf(format, args...))
}

// errVanished marks a file that disappeared while being read: a writer
// replaced it. Read-only openers retry.
var errVanished = errors.New("a file of the store vanished while it was read")

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", errVanished, err)
	}
	return data, err
}

// recoverState reads the store's files into memory, following CONTRACT
// §10: the newest snapshot that verifies, then every log record that
// follows it without a gap. It changes no file.
func recoverState(n names, nowMs int64) (*state, error) {
	l, err := n.list()
	if err != nil {
		return nil, err
	}
	return recoverFrom(n, l, nowMs, readFile)
}

// recoverFrom is recoverState over the files of l, read with read.
func recoverFrom(n names, l listing, nowMs int64, read func(string) ([]byte, error)) (*state, error) {
	st := &state{mainPath: n.path}
	var cands []string
	if l.snapshot {
		cands = append(cands, n.path)
	} else if l.newSnap {
		cands = append(cands, n.newSnap())
	}
	for _, b := range l.backups {
		cands = append(cands, n.backup(b))
	}
	for _, c := range cands {
		data, err := read(c)
		if err != nil {
			return nil, err
		}
		sn, err := parseSnapshot(data)
		mem := memory.New()
		if err == nil {
			_, err = loadEntries(sn, mem, nowMs)
		}
		var ve *versionError
		if errors.As(err, &ve) {
			return nil, corrupted("%s: %v", c, err)
		}
		if err != nil {
			if c == n.newSnap() {
				// With the snapshot missing, a bad storage.json.new is
				// one whose writing was cut short (the first snapshot of
				// a new store, or one replacing a damaged snapshot): the
				// data it was to hold is still in the other files.
				st.leftoverNew = true
				continue
			}
			st.badSnaps = append(st.badSnaps, badFile{c, err})
			continue
		}
		st.mem, st.snapSeq, st.snapFrom = mem, sn.seq, c
		st.snapSize, st.snapCount = int64(len(data)), sn.count
		break
	}
	st.rollForward = st.snapFrom == n.newSnap()
	if l.snapshot && l.newSnap {
		st.leftoverNew = true
	}
	if st.mem == nil {
		switch {
		case len(cands) == 0 && len(l.segments) == 0:
			st.fresh = true
		case len(l.segments) > 0 && l.segments[0] == 0:
			// The log holds the whole history: replay it from nothing.
		case len(cands) == 0:
			return nil, corrupted("%s is missing and the log does not start at the beginning (%s)", n.path, n.segment(l.segments[0]))
		case len(st.badSnaps) == 0:
			return nil, corrupted("%s is missing and %s is incomplete", n.path, n.newSnap())
		default:
			return nil, corrupted("no valid snapshot: %s", describe(st.badSnaps))
		}
		st.mem = memory.New()
	}
	st.last = st.snapSeq
	if err := st.replay(n, l.segments, read); err != nil {
		return nil, err
	}
	return st, nil
}

// replay applies the records after the snapshot, segment by segment, while
// their sequence numbers follow each other.
func (st *state) replay(n names, segs []uint64, read func(string) ([]byte, error)) error {
	stopped := false
	for i, after := range segs {
		path := n.segment(after)
		next := uint64(math.MaxUint64)
		if i+1 < len(segs) {
			next = segs[i+1]
		}
		if next <= st.snapSeq {
			st.keptSegs = append(st.keptSegs, after) // older: kept for the backups
			continue
		}
		if stopped {
			st.badSegs = append(st.badSegs, badFile{path, errors.New("follows a gap in the log")})
			continue
		}
		if after > st.last {
			stopped = true
			st.lost = fmt.Errorf("records %d to %d are missing", st.last+1, after)
			st.badSegs = append(st.badSegs, badFile{path, st.lost})
			continue
		}
		data, err := read(path)
		if err != nil {
			return err
		}
		r := st.replaySegment(data, after)
		if r.version != nil {
			return corrupted("%s: %v", path, r.version)
		}
		st.logBytes += int64(len(data))
		isLast := i == len(segs)-1
		switch {
		case r.gap != nil:
			stopped = true
			st.lost = r.gap
			st.badSegs = append(st.badSegs, badFile{path, r.gap})
		case r.damaged != nil:
			st.badSegs = append(st.badSegs, badFile{path, r.damaged})
		case r.tornAt >= 0 && !isLast:
			st.badSegs = append(st.badSegs, badFile{path, &atError{r.tornAt, errors.New("unreadable bytes up to the end")}})
		case r.headerBad:
			// A torn header on the newest, empty segment: a rotation was
			// cut short before any record went there. It is rewritten.
			if isLast && r.end == 0 && after == st.last {
				st.keptSegs = append(st.keptSegs, after)
				st.active = &activeSeg{after: after, end: 0, size: int64(len(data))}
			} else {
				st.badSegs = append(st.badSegs, badFile{path, &atError{0, errors.New("bad header")}})
			}
		default:
			st.keptSegs = append(st.keptSegs, after)
			if isLast {
				seg := &activeSeg{after: after, end: r.end, size: int64(len(data)), tornLine: r.tornLine}
				if r.tornAt >= 0 {
					st.torn = seg
				}
				if r.lastSeq == st.last {
					st.active = seg
				}
			}
		}
	}
	return nil
}

// segWalk is what walking a segment found, whatever its records were used for.
type segWalk struct {
	headerBad bool
	version   error
	damaged   error // bad bytes with valid records after them, or a wrong header: an *atError
	tornAt    int64 // start of unreadable bytes at the end; -1 if none
	tornLine  bool  // those bytes hold a complete line
	end       int64 // end of the last valid line
	lastSeq   uint64
}

// walkSegment reads a segment: its header, then its lines in order. It
// calls fn with each record that parses and comes after the previous one,
// and the offset of its line; fn returning false stops the walk there.
// Lines that do not parse are bad bytes: damage when a record follows
// them, a torn tail otherwise.
func walkSegment(data []byte, after uint64, fn func(rec record, off int64) bool) segWalk {
	r := segWalk{tornAt: -1, lastSeq: after}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		r.headerBad, r.tornAt = true, 0
		return r
	}
	switch hAfter, err := parseSegHeader(data[:nl]); {
	case err != nil:
		var ve *versionError
		if errors.As(err, &ve) {
			r.version = err
			return r
		}
		r.headerBad = true
	case hAfter != after:
		r.damaged = &atError{0, fmt.Errorf("header says the records follow %d", hAfter)}
	default:
		r.end = int64(nl + 1)
	}
	bad := -1 // start of the current run of bad lines
	var badErr error
	off := nl + 1
	for off < len(data) {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			if bad < 0 {
				bad = off // a torn tail: reported by tornAt, not as damage
			}
			break
		}
		line, next := data[off:off+i], off+i+1
		rec, err := parseRecord(line)
		if err == nil && rec.seq <= r.lastSeq {
			err = fmt.Errorf("record %d after record %d", rec.seq, r.lastSeq)
		}
		if err != nil {
			if bad < 0 {
				bad, badErr = off, err
			}
			off = next
			continue
		}
		if bad >= 0 || r.headerBad {
			if r.damaged == nil {
				r.damaged = &atError{0, errors.New("bad header")}
				if bad >= 0 {
					r.damaged = &atError{int64(bad), fmt.Errorf("unreadable line: %v", badErr)}
				}
			}
			bad = -1
		}
		r.lastSeq = rec.seq
		if !fn(rec, int64(off)) {
			return r
		}
		off = next
		r.end = int64(next)
	}
	if bad >= 0 {
		r.tornAt = int64(bad)
		r.tornLine = bytes.IndexByte(data[bad:], '\n') >= 0
	}
	return r
}

type segResult struct {
	segWalk
	gap error // a record that does not follow the last one applied
}

// replaySegment applies the records of a segment that follow st.last,
// stopping at the first that does not.
func (st *state) replaySegment(data []byte, after uint64) segResult {
	var gap error
	w := walkSegment(data, after, func(rec record, _ int64) bool {
		if rec.seq > st.last+1 {
			gap = fmt.Errorf("records %d to %d are missing", st.last+1, rec.seq-1)
			return false
		}
		if rec.seq == st.last+1 {
			if err := st.applyRecord(rec); err != nil {
				gap = fmt.Errorf("record %d: %v", rec.seq, err)
				return false
			}
			st.last = rec.seq
		}
		return true
	})
	return segResult{w, gap}
}

// applyRecord decodes every entry of rec, then applies them at once.
func (st *state) applyRecord(rec record) error {
	ws, err := decodeRecord(rec)
	if err != nil {
		return err
	}
	return st.mem.Apply(context.Background(), ws)
}

// decodeRecord decodes the entries of rec into writes sorted by key, each
// key at most once.
func decodeRecord(rec record) ([]driver.Write, error) {
	ws := make([]driver.Write, len(rec.entries))
	for i, obj := range rec.entries {
		w, err := parseEntry(obj)
		if err != nil {
			return nil, err
		}
		ws[i] = w
	}
	slices.SortFunc(ws, func(a, b driver.Write) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(ws); i++ {
		if ws[i].Key == ws[i-1].Key {
			return nil, fmt.Errorf("key %q twice in one record", ws[i].Key)
		}
	}
	return ws, nil
}

func describe(bad []badFile) string {
	var b bytes.Buffer
	for i, f := range bad {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", f.path, f.why)
	}
	return b.String()
}
