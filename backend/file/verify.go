package file

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// Report is what Verify found in the files of a store.
type Report struct {
	Path string `json:"path"` // the store's snapshot path, absolute
	// Damaged is true when anything needs attention: a file that fails to
	// verify, records that Open would not apply, a missing snapshot, or a
	// store that would not open at all.
	Damaged  bool         `json:"damaged"`
	Files    []FileReport `json:"files"`
	Recovery Recovery     `json:"recovery"`
	Lost     []Lost       `json:"lost,omitempty"`
}

// The roles of files in a FileReport.
const (
	RoleSnapshot = "snapshot"    // storage.json
	RoleNew      = "new"         // storage.json.new
	RoleBackup   = "backup"      // storage.json.bak<n>
	RoleLog      = "log"         // storage.json.log.<seq>
	RoleAside    = "moved-aside" // *.corrupt-<time>
)

// The statuses of files in a FileReport.
const (
	StatusOK = "ok"
	// StatusDamaged: a bad checksum, an unparsable line, a missing record.
	StatusDamaged = "damaged"
	// StatusTorn: the newest log segment ends in an incomplete record (or
	// header), left by a crash in mid-write; Open cuts it off. Such a
	// record was never acknowledged in sync mode.
	StatusTorn = "torn"
	// StatusIncomplete: storage.json.new, with storage.json missing, was
	// cut short while being written; its data is still in the other files.
	StatusIncomplete = "incomplete"
	// StatusUnsupported: written by a newer version of foxstore.
	StatusUnsupported = "unsupported"
	// StatusSkipped: a file Open never reads (moved aside, or a snapshot
	// being written beside the current one). Verify does not read it either.
	StatusSkipped = "skipped"
)

// FileReport is the verdict on one file. The figures describe what
// verifies; for a damaged file they may be partial.
type FileReport struct {
	Path     string    `json:"path"`
	Role     string    `json:"role"`
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	At       *Position `json:"at,omitempty"` // where the damage starts, when known
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	// Seq is, for a snapshot, the last log record it includes; for a log
	// segment, the record its first record follows.
	Seq uint64 `json:"seq"`
	// UpTo (snapshots): the last record that the snapshot plus the valid
	// log reach, so what a restore from it would hold.
	UpTo uint64 `json:"up_to,omitempty"`
	// FirstSeq and LastSeq (log segments): its valid records.
	FirstSeq uint64 `json:"first_seq,omitempty"`
	LastSeq  uint64 `json:"last_seq,omitempty"`
	Records  int    `json:"records,omitempty"`
	// Keys is, for a snapshot, the entries it holds, and for a log
	// segment the writes its valid records hold.
	Keys int `json:"keys"`
	Live int `json:"live,omitempty"` // snapshots: entries not expired now
}

// Position locates damage in a file.
type Position struct {
	Offset int64 `json:"offset"` // bytes from the start of the file
	Line   int   `json:"line"`   // counted from 1
}

// Recovery is what Open would make of the files.
type Recovery struct {
	// Opens is false when Open would fail with ErrStorageCorrupted; Error
	// then says why.
	Opens bool   `json:"opens"`
	Error string `json:"error,omitempty"`
	// Snapshot is the file Open loads, empty when it replays the log from
	// the store's creation; SnapshotSeq its last record.
	Snapshot    string `json:"snapshot,omitempty"`
	SnapshotSeq uint64 `json:"snapshot_seq"`
	// Segments are the log segments whose records Open applies on top:
	// records FirstSeq to LastSeq (FirstSeq is 0 when there are none).
	Segments []string `json:"segments,omitempty"`
	FirstSeq uint64   `json:"first_seq,omitempty"`
	LastSeq  uint64   `json:"last_seq"`
	Keys     int      `json:"keys"` // live keys the store opens with
	// Repairs is what Open for writing would change on disk before the
	// store takes writes. A read-only open changes nothing.
	Repairs []string `json:"repairs,omitempty"`
}

// Lost is data in the files that Open would not apply: records after a
// gap in the log (FirstSeq to LastSeq), or unreadable bytes at the end of
// the log (Bytes at At).
type Lost struct {
	Path     string    `json:"path,omitempty"`
	FirstSeq uint64    `json:"first_seq,omitempty"`
	LastSeq  uint64    `json:"last_seq,omitempty"`
	At       *Position `json:"at,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"`
	Reason   string    `json:"reason"`
}

// errChanged marks a store whose files changed while Verify read them.
var errChanged = errors.New("the files changed while they were read")

// Verify checks the store at path (DefaultPath when empty) without
// changing any file and without taking the writer lock, so it may run
// while another process writes: like a read-only open, it reads a
// consistent view of the files, reading again when a writer replaced them
// meanwhile.
//
// Every snapshot (the current one and each backup) and every log segment
// is read and checked as Open reads it; the report says which verify and
// where the others are damaged, what Open would recover from, which
// records it would lose and whether it would open at all. A store with no
// file gives an error with code ErrStorageInvalid.
func Verify(ctx context.Context, path string) (Report, error) {
	if path == "" {
		var err error
		if path, err = DefaultPath(); err != nil {
			return Report{}, fmt.Errorf("no path and no default: %w", err)
		}
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return Report{}, err
	}
	n := newNames(path)
	for try := 1; ; try++ {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		rep, err := verifyOnce(ctx, n, time.Now().UnixMilli())
		if !errors.Is(err, errVanished) && !errors.Is(err, errChanged) {
			return rep, err
		}
		if try == readOnlyTries {
			return Report{}, driver.NewError(driver.CodeReadFailed, "verify", "",
				fmt.Errorf("%s: %w; a writer may be busy, try again", n.path, err))
		}
		select {
		case <-ctx.Done():
			return Report{}, ctx.Err()
		case <-time.After(time.Duration(try) * 20 * time.Millisecond):
		}
	}
}

func verifyOnce(ctx context.Context, n names, nowMs int64) (Report, error) {
	rep := Report{Path: n.path}
	l, err := n.list()
	if err != nil {
		return rep, err
	}
	if !l.snapshot && !l.newSnap && len(l.backups) == 0 && len(l.segments) == 0 {
		return rep, driver.NewError(driver.CodeInvalid, "verify", "", fmt.Errorf("no store at %s: %w", n.path, fs.ErrNotExist))
	}
	before, err := stampFiles(n, l)
	if err != nil {
		return rep, err
	}
	// A writer appends to the newest segment: read it once, so that the
	// recovery and the check below judge the same bytes. Every other file
	// changes only by being replaced, which the stamps catch.
	var newest string
	var newestData []byte
	if len(l.segments) > 0 {
		newest = n.segment(l.segments[len(l.segments)-1])
		if newestData, err = readFile(newest); err != nil {
			return rep, err
		}
	}
	read := func(p string) ([]byte, error) {
		if p == newest {
			return newestData, nil
		}
		return readFile(p)
	}

	st, err := recoverFrom(n, l, nowMs, read)
	if err != nil {
		var de *driver.Error
		if !errors.As(err, &de) || de.Code != driver.CodeCorrupted {
			return rep, err
		}
		rep.Recovery.Error = de.Err.Error()
	}

	info := func(p, role string) FileReport {
		fr := FileReport{Path: p, Role: role}
		if fi := before[p]; fi != nil {
			fr.Size, fr.Modified = fi.Size(), fi.ModTime()
		} else if fi, err := os.Lstat(p); err == nil {
			fr.Size, fr.Modified = fi.Size(), fi.ModTime()
		}
		return fr
	}
	var snaps []int // indexes in rep.Files of the snapshots that verify
	checkSnap := func(p, role string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := read(p)
		if err != nil {
			return err
		}
		fr := info(p, role)
		checkSnapshot(&fr, data, nowMs)
		if fr.Status == StatusOK {
			snaps = append(snaps, len(rep.Files))
		} else if role == RoleNew && fr.Status == StatusDamaged {
			fr.Status = StatusIncomplete
		}
		rep.Files = append(rep.Files, fr)
		return nil
	}
	if l.snapshot {
		if err := checkSnap(n.path, RoleSnapshot); err != nil {
			return rep, err
		}
		if l.newSnap {
			fr := info(n.newSnap(), RoleNew)
			fr.Status = StatusSkipped
			fr.Reason = "a snapshot being written, or left by a compaction cut short; Open ignores it and a writer removes it"
			rep.Files = append(rep.Files, fr)
		}
	} else if l.newSnap {
		if err := checkSnap(n.newSnap(), RoleNew); err != nil {
			return rep, err
		}
	}
	for _, b := range l.backups {
		if err := checkSnap(n.backup(b), RoleBackup); err != nil {
			return rep, err
		}
	}
	var segs []segCheck
	for i, after := range l.segments {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		p := n.segment(after)
		data, err := read(p)
		if err != nil {
			return rep, err
		}
		sc := checkSegment(data, after, i == len(l.segments)-1)
		sc.FileReport = mergeInfo(info(p, RoleLog), sc.FileReport)
		segs = append(segs, sc)
		rep.Files = append(rep.Files, sc.FileReport)
	}
	for _, name := range l.aside {
		fr := info(filepath.Join(n.dir, name), RoleAside)
		fr.Status, fr.Reason = StatusSkipped, "moved aside by an earlier recovery; Open never reads it"
		rep.Files = append(rep.Files, fr)
	}

	l2, err := n.list()
	if err != nil {
		return rep, err
	}
	after, err := stampFiles(n, l2)
	if err != nil {
		return rep, err
	}
	if !sameFiles(before, after, newest) {
		return rep, errChanged
	}

	// What each snapshot restores with the log.
	var runs []seqRun
	for _, sc := range segs {
		runs = append(runs, sc.runs...)
	}
	slices.SortFunc(runs, func(a, b seqRun) int { return cmp.Compare(a.first, b.first) })
	for _, i := range snaps {
		f := &rep.Files[i]
		f.UpTo = f.Seq
		for _, r := range runs {
			if r.first > f.UpTo+1 {
				break
			}
			f.UpTo = max(f.UpTo, r.last)
		}
	}
	if st != nil {
		if err := describeRecovery(ctx, &rep, n, st, segs, nowMs); err != nil {
			return rep, err
		}
	}
	rep.Damaged = rep.damaged(n)
	return rep, nil
}

func (r *Report) damaged(n names) bool {
	if !r.Recovery.Opens {
		return true
	}
	if r.Recovery.Snapshot != n.path && r.Recovery.Snapshot != n.newSnap() {
		return true // the snapshot is missing or damaged
	}
	for _, f := range r.Files {
		if f.Status == StatusDamaged || f.Status == StatusUnsupported {
			return true
		}
	}
	for _, l := range r.Lost {
		if l.FirstSeq > 0 {
			return true
		}
	}
	return false
}

// describeRecovery fills in what Open would load and what it would lose.
func describeRecovery(ctx context.Context, rep *Report, n names, st *state, segs []segCheck, nowMs int64) error {
	rec := &rep.Recovery
	rec.Opens = true
	rec.Snapshot, rec.SnapshotSeq, rec.LastSeq = st.snapFrom, st.snapSeq, st.last
	if st.last > st.snapSeq {
		rec.FirstSeq = st.snapSeq + 1
	}
	err := st.mem.Scan(ctx, "", "", func(_ string, e driver.Entry) bool {
		if e.Live(nowMs) {
			rec.Keys++
		}
		return true
	})
	if err != nil {
		return err
	}
	rec.Repairs = repairs(n, st)

	// Records that verify but come after the last one Open applies: they
	// follow records that are missing or unreadable.
	firstLost := uint64(math.MaxUint64)
	var lost []Lost
	for _, sc := range segs {
		applied, beyond := false, Lost{Path: sc.Path}
		for _, r := range sc.runs {
			if r.first <= st.last && r.last > st.snapSeq {
				applied = true
			}
			lo := max(r.first, st.last+1)
			if lo > r.last {
				continue
			}
			if beyond.FirstSeq == 0 {
				beyond.FirstSeq = lo
			}
			beyond.LastSeq = r.last
		}
		if applied {
			rec.Segments = append(rec.Segments, sc.Path)
		}
		if beyond.FirstSeq > 0 {
			beyond.Reason = "these records verify but follow missing or unreadable ones, so Open leaves them out"
			firstLost = min(firstLost, beyond.FirstSeq)
			lost = append(lost, beyond)
		}
	}
	if firstLost != math.MaxUint64 && firstLost > st.last+1 {
		rep.Lost = append(rep.Lost, Lost{FirstSeq: st.last + 1, LastSeq: firstLost - 1,
			Reason: "in no record that verifies: missing, or in damaged bytes"})
	}
	rep.Lost = append(rep.Lost, lost...)
	if len(segs) > 0 {
		if sc := segs[len(segs)-1]; sc.tornAt >= 0 {
			why := "an incomplete line at the end of the log, cut short by a crash: never acknowledged in sync mode; Open cuts it off"
			if sc.tornLine {
				why = "a complete line at the end of the log that does not verify; Open cuts it off and keeps a copy"
			}
			rep.Lost = append(rep.Lost, Lost{Path: sc.Path, At: position(sc.data, sc.tornAt),
				Bytes: int64(len(sc.data)) - sc.tornAt, Reason: why})
		}
	}
	return nil
}

// repairs lists what settle would change on disk for st.
func repairs(n names, st *state) []string {
	var out []string
	if st.rollForward {
		out = append(out, fmt.Sprintf("finish an interrupted install: rename %s to %s", n.newSnap(), n.path))
	}
	if a := st.torn; a != nil && a.end > 0 && a.end < a.size {
		what := "a torn tail"
		if a.tornLine {
			what = "a damaged last record, keeping a copy of it"
		}
		out = append(out, fmt.Sprintf("cut %s off %s at offset %d (%d bytes)", what, n.segment(a.after), a.end, a.size-a.end))
	}
	if !st.fresh && st.needSnapshot() {
		for _, b := range st.badSnaps {
			out = append(out, "move "+b.path+" aside")
		}
		out = append(out, "write the recovered data as a new snapshot, "+n.path)
		for _, b := range st.badSegs {
			out = append(out, "move "+b.path+" aside")
		}
	}
	if a := st.active; a != nil && a.end == 0 {
		out = append(out, "rewrite the incomplete header of "+n.segment(a.after))
	}
	if st.leftoverNew {
		out = append(out, "remove "+n.newSnap())
	}
	return out
}

// checkSnapshot checks a snapshot file as recovery does and fills in fr.
func checkSnapshot(fr *FileReport, data []byte, nowMs int64) {
	sn, err := parseSnapshot(data)
	live := 0
	if err == nil {
		live, err = loadEntries(sn, nil, nowMs)
	}
	if err == nil {
		fr.Status, fr.Seq, fr.Keys, fr.Live = StatusOK, sn.seq, sn.count, live
		return
	}
	var ve *versionError
	if errors.As(err, &ve) {
		fr.Status, fr.Reason = StatusUnsupported, err.Error()
		return
	}
	fr.Status = StatusDamaged
	if errors.Is(err, errCRC) || errors.Is(err, errNoCRC) || errors.Is(err, errShort) {
		// The checksum covers the whole file. To say where the damage
		// is, look for the first line that does not parse.
		sn, lerr := parseSnapshotLines(data)
		if lerr == nil {
			_, lerr = loadEntries(sn, nil, nowMs)
		}
		var ae *atError
		if errors.As(lerr, &ae) {
			fr.At = position(data, ae.off)
			fr.Reason = fmt.Sprintf("%v; the first line that does not parse: %v", err, ae.err)
			return
		}
		fr.Reason = fmt.Sprintf("%v; every line parses, so the damage is inside a value or the checksum", err)
		return
	}
	setReason(fr, err, data)
}

// seqRun is a run of consecutive log records.
type seqRun struct{ first, last uint64 }

// segCheck is the verdict on a segment, with what Verify needs besides.
type segCheck struct {
	FileReport
	runs     []seqRun // the records that verify, in runs without gaps
	tornAt   int64    // start of unreadable bytes at the end; -1 if none
	tornLine bool     // those bytes hold a complete line
	data     []byte
}

// checkSegment checks a log segment on its own, as recovery reads it, and
// decodes every record. newest says whether it is the segment writes go to.
func checkSegment(data []byte, after uint64, newest bool) segCheck {
	sc := segCheck{FileReport: FileReport{Seq: after}, tornAt: -1, data: data}
	var problem *atError // the first damage in the file
	note := func(off int64, err error) {
		if problem == nil || off < problem.off {
			problem = &atError{off, err}
		}
	}
	next := after + 1
	w := walkSegment(data, after, func(rec record, off int64) bool {
		ws, err := decodeRecord(rec)
		if err != nil {
			note(off, fmt.Errorf("record %d: %v", rec.seq, err))
			return true
		}
		if rec.seq != next {
			note(off, fmt.Errorf("records %d to %d are missing", next, rec.seq-1))
		}
		if n := len(sc.runs); n > 0 && sc.runs[n-1].last+1 == rec.seq {
			sc.runs[n-1].last = rec.seq
		} else {
			sc.runs = append(sc.runs, seqRun{rec.seq, rec.seq})
		}
		if sc.Records == 0 {
			sc.FirstSeq = rec.seq
		}
		sc.LastSeq = rec.seq
		sc.Records++
		sc.Keys += len(ws)
		next = rec.seq + 1
		return true
	})
	if w.version != nil {
		sc.Status, sc.Reason = StatusUnsupported, w.version.Error()
		return sc
	}
	if w.damaged != nil {
		var ae *atError
		if errors.As(w.damaged, &ae) {
			note(ae.off, ae.err)
		} else {
			note(0, w.damaged)
		}
	}
	torn := false
	switch {
	case w.headerBad && newest && w.end == 0 && bytes.IndexByte(data, '\n') < 0:
		torn = true // a new segment whose header a crash cut short
	case w.headerBad:
		note(0, errors.New("bad header"))
	}
	if w.tornAt >= 0 {
		sc.tornAt, sc.tornLine = w.tornAt, w.tornLine
		switch {
		case !newest:
			note(w.tornAt, errors.New("unreadable bytes up to the end, in a segment that later ones follow"))
		case w.tornLine:
			note(w.tornAt, errors.New("a complete line at the end does not verify: damage rather than a write cut short"))
		default:
			torn = true
		}
	}
	switch {
	case problem != nil:
		sc.Status = StatusDamaged
		setReason(&sc.FileReport, problem, data)
	case torn:
		sc.Status = StatusTorn
		at := max(w.tornAt, 0)
		sc.At = position(data, at)
		sc.Reason = fmt.Sprintf("an incomplete record at the end (%d bytes), left by a crash in mid-write; Open cuts it off", int64(len(data))-at)
	default:
		sc.Status = StatusOK
	}
	return sc
}

// mergeInfo adds the checked figures of b to the file facts of a.
func mergeInfo(a, b FileReport) FileReport {
	b.Path, b.Role, b.Size, b.Modified = a.Path, a.Role, a.Size, a.Modified
	return b
}

func setReason(fr *FileReport, err error, data []byte) {
	var ae *atError
	if errors.As(err, &ae) {
		fr.At = position(data, ae.off)
		fr.Reason = ae.err.Error()
		return
	}
	fr.Reason = err.Error()
}

// position locates offset off of data.
func position(data []byte, off int64) *Position {
	off = min(max(off, 0), int64(len(data)))
	return &Position{Offset: off, Line: bytes.Count(data[:off], []byte{'\n'}) + 1}
}

// stampFiles records the identity, size and time of each file recovery
// may read.
func stampFiles(n names, l listing) (map[string]os.FileInfo, error) {
	paths := make([]string, 0, 2+len(l.backups)+len(l.segments))
	if l.snapshot {
		paths = append(paths, n.path)
	} else if l.newSnap {
		paths = append(paths, n.newSnap())
	}
	for _, b := range l.backups {
		paths = append(paths, n.backup(b))
	}
	for _, a := range l.segments {
		paths = append(paths, n.segment(a))
	}
	m := make(map[string]os.FileInfo, len(paths))
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %v", errVanished, err)
		}
		if err != nil {
			return nil, err
		}
		m[p] = fi
	}
	return m, nil
}

// sameFiles reports whether two stampFiles results name the same files
// unchanged, but for growing, which may have grown.
func sameFiles(a, b map[string]os.FileInfo, growing string) bool {
	if len(a) != len(b) {
		return false
	}
	for p, fa := range a {
		fb, ok := b[p]
		if !ok || !os.SameFile(fa, fb) {
			return false
		}
		if p != growing && (fa.Size() != fb.Size() || !fa.ModTime().Equal(fb.ModTime())) {
			return false
		}
	}
	return true
}
