package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

// Compaction thresholds. A compaction starts when the log written since the
// snapshot outgrows both compactMinBytes and the snapshot (so its cost, a
// rewrite of the snapshot, is paid for by as many bytes of writes), or when
// sweeps removed more than sweepCompactMin entries and a quarter of the
// snapshot. Tests lower them.
var (
	compactMinBytes int64 = 4 << 20
	sweepCompactMin int64 = 1024
)

// maybeCompact starts a background compaction when one is due.
func (s *Store) maybeCompact() {
	if s.readOnly {
		return
	}
	logBytes := s.logBytes.Load()
	due := logBytes >= max(compactMinBytes, s.snapSize.Load()) ||
		s.swept.Load() >= max(sweepCompactMin, s.snapCount.Load()/4)
	if !due || logBytes < s.retryAt.Load() || !s.compacting.CompareAndSwap(false, true) {
		return
	}
	s.bgMu.Lock()
	if s.stopping {
		s.bgMu.Unlock()
		s.compacting.Store(false)
		return
	}
	s.bg.Add(1)
	s.bgMu.Unlock()
	go func() {
		defer s.bg.Done()
		defer s.compacting.Store(false)
		err := s.compact(s.bgCtx)
		if err == nil {
			s.lastCompactErr.Store(nil)
			s.retryAt.Store(0)
			return
		}
		if s.bgCtx.Err() != nil {
			return
		}
		s.lastCompactErr.Store(&err)
		// Try again only after as many bytes again, not on every write.
		s.retryAt.Store(s.logBytes.Load() + max(compactMinBytes, s.snapSize.Load()))
		s.log.Warn("foxstore: compaction failed", "file", s.n.path, "err", err)
	}()
}

// Compact writes a new snapshot holding everything written so far, rotates
// the backups and deletes the log segments no snapshot needs any more.
// Writes continue meanwhile; they wait only while the log switches files.
func (s *Store) Compact(ctx context.Context) error {
	if s.readOnly {
		return errReadOnly
	}
	// Close waits for a running compaction, so that no file changes once
	// it has released the lock.
	s.bgMu.Lock()
	if s.stopping {
		s.bgMu.Unlock()
		return errClosed
	}
	s.bg.Add(1)
	s.bgMu.Unlock()
	defer s.bg.Done()
	return s.compact(ctx)
}

func (s *Store) compact(ctx context.Context) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	upto, err := s.rotate()
	if err != nil {
		return err
	}
	swept := s.swept.Swap(0)
	inputs, inBytes := s.inputs(upto, 0, -1)
	nowMs := time.Now().UnixMilli()
	size, count, err := s.writeSnapshot(func(w io.Writer) (int, error) {
		return s.merge(ctx, inputs, upto, nowMs, w)
	})
	if err != nil {
		s.swept.Add(swept)
		return err
	}
	s.snapSeq = upto
	s.snapSize.Store(size)
	s.snapCount.Store(int64(count))
	if s.logBytes.Add(-inBytes) < 0 {
		s.logBytes.Store(0)
	}
	s.prune()
	return nil
}

// segInput is a segment to merge: records up to limit bytes (-1: all).
type segInput struct {
	after uint64
	limit int64
}

// inputs lists the segments holding records in (snapSeq, upto]; the one
// after active is read up to activeLimit. It returns their byte total too.
func (s *Store) inputs(upto, active uint64, activeLimit int64) ([]segInput, int64) {
	var in []segInput
	var total int64
	for i, a := range s.segs {
		next := uint64(math.MaxUint64)
		if i+1 < len(s.segs) {
			next = s.segs[i+1]
		}
		if next <= s.snapSeq || a >= upto {
			continue
		}
		limit := int64(-1)
		if a == active && activeLimit >= 0 {
			limit = activeLimit
		}
		in = append(in, segInput{after: a, limit: limit})
		if fi, err := os.Stat(s.n.segment(a)); err == nil {
			total += fi.Size()
		}
	}
	return in, total
}

// writeSnapshot writes storage.json.new with write, syncs it, and installs
// it as the snapshot, rotating the backups.
func (s *Store) writeSnapshot(write func(io.Writer) (int, error)) (int64, int, error) {
	tmp := s.n.newSnap()
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, 0, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	count, err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.install()
	}
	if err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	return size, count, nil
}

// install moves storage.json.new into place. With backups, the current
// snapshot becomes bak1 and older backups move up one, the oldest dropping
// out. A crash between the renames leaves storage.json.new complete with
// storage.json missing, which Open finishes.
func (s *Store) install() error {
	n := s.n
	moved := false
	if s.backups > 0 {
		if _, err := os.Lstat(n.path); err == nil {
			if err := os.Remove(n.backup(s.backups)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			for i := s.backups - 1; i >= 1; i-- {
				if _, err := os.Lstat(n.backup(i)); err != nil {
					continue
				}
				if err := rename(n.backup(i), n.backup(i+1)); err != nil {
					return err
				}
			}
			if err := rename(n.path, n.backup(1)); err != nil {
				return err
			}
			moved = true
		}
	}
	if err := rename(n.newSnap(), n.path); err != nil {
		if moved {
			if rerr := rename(n.backup(1), n.path); rerr != nil {
				return fmt.Errorf("%w (and putting %s back failed: %v)", err, n.path, rerr)
			}
		}
		return err
	}
	if err := syncDir(n.dir); err != nil {
		return err
	}
	// Backups beyond backup_count, left by a larger setting, go too.
	l, err := n.list()
	if err == nil {
		for _, b := range l.backups {
			if b > s.backups {
				os.Remove(n.backup(b))
			}
		}
	}
	return nil
}

// prune deletes the segments that no kept snapshot (backups included)
// needs: those whose records all precede the oldest snapshot's seq.
func (s *Store) prune() {
	oldest := s.snapSeq
	for i := 1; i <= s.backups; i++ {
		if seq, err := readSnapSeq(s.n.backup(i)); err == nil && seq < oldest {
			oldest = seq
		}
	}
	kept := make([]uint64, 0, len(s.segs))
	for i, a := range s.segs {
		if i+1 < len(s.segs) && s.segs[i+1] <= oldest {
			err := os.Remove(s.n.segment(a))
			if err == nil || errors.Is(err, os.ErrNotExist) {
				continue
			}
		}
		kept = append(kept, a)
	}
	s.segs = kept
}

// readSnapSeq reads the seq from a snapshot's header line.
func readSnapSeq(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 4096).ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	return parseSnapHeader(line[:len(line)-1])
}

// snapshotFromMemory writes the data in memory as the snapshot at seq. It
// is for moments when nothing writes: Open, and read-only stores.
func (s *Store) snapshotFromMemory(seq uint64) error {
	size, count, err := s.writeSnapshot(func(w io.Writer) (int, error) {
		return writeMemory(context.Background(), s.mem, seq, time.Now().UnixMilli(), w)
	})
	if err != nil {
		return err
	}
	s.snapSeq = seq
	s.snapSize.Store(size)
	s.snapCount.Store(int64(count))
	s.logBytes.Store(0)
	return nil
}

// writeMemory writes a snapshot at seq of the live entries of mem.
func writeMemory(ctx context.Context, mem *memory.Store, seq uint64, nowMs int64, w io.Writer) (int, error) {
	sw := newSnapWriter(w, seq, time.Now())
	var buf []byte
	var err error
	serr := mem.Scan(ctx, "", "", func(k string, e driver.Entry) bool {
		if !e.Live(nowMs) {
			return true
		}
		buf, err = appendEntry(buf[:0], driver.Write{Key: k, Entry: e})
		if err != nil {
			return false
		}
		sw.entry(buf)
		return sw.err == nil
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, err
	}
	return sw.n, sw.finish()
}

// Backup writes a consistent copy of the whole store to w, as a snapshot
// file: open a copy saved under any name as a store to restore it. Writes
// go on meanwhile; the copy holds every write acknowledged before Backup
// was called and none that started after it returned.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if s.closed.Load() {
		return errClosed
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	nowMs := time.Now().UnixMilli()
	var err error
	if s.readOnly {
		// Nothing writes to a read-only store's memory, so it is consistent.
		_, err = writeMemory(ctx, s.mem, s.seq, nowMs, bw)
	} else {
		s.cmu.Lock()
		s.ymu.Lock()
		s.smu.Lock()
		err = s.flushLocked()
		upto, active, limit := s.durable, s.segAfter, s.syncedSize
		s.smu.Unlock()
		s.ymu.Unlock()
		if err == nil {
			inputs, _ := s.inputs(upto, active, limit)
			_, err = s.merge(ctx, inputs, upto, nowMs, bw)
		}
		s.cmu.Unlock()
	}
	if err == nil {
		err = bw.Flush()
	}
	return err
}

// merge writes the snapshot at upto: the current snapshot with the records
// of inputs laid over it, expired entries left out. It reads the files
// only, streaming the snapshot, and never decodes a value: entry objects
// are copied as they are.
func (s *Store) merge(ctx context.Context, inputs []segInput, upto uint64, nowMs int64, w io.Writer) (int, error) {
	type change struct {
		obj []byte
		exp int64
		del bool
	}
	latest := map[string]change{}
	next := s.snapSeq + 1
	for _, in := range inputs {
		path := s.n.segment(in.after)
		data, err := readSegment(path, in.limit)
		if err != nil {
			return 0, err
		}
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return 0, fmt.Errorf("%s: no header", path)
		}
		if after, err := parseSegHeader(data[:nl]); err != nil || after != in.after {
			return 0, fmt.Errorf("%s: bad header", path)
		}
		for off := nl + 1; off < len(data) && next <= upto; {
			i := bytes.IndexByte(data[off:], '\n')
			if i < 0 {
				return 0, fmt.Errorf("%s: incomplete record at offset %d", path, off)
			}
			rec, err := parseRecord(data[off : off+i])
			if err != nil {
				return 0, fmt.Errorf("%s: offset %d: %w", path, off, err)
			}
			off += i + 1
			if rec.seq < next {
				continue
			}
			if rec.seq != next {
				return 0, fmt.Errorf("%s: record %d where %d was expected", path, rec.seq, next)
			}
			for _, obj := range rec.entries {
				e, err := parseRawEntry(obj)
				if err != nil {
					return 0, fmt.Errorf("%s: record %d: %w", path, rec.seq, err)
				}
				latest[e.key] = change{obj, e.exp, e.del}
			}
			next++
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if next-1 != upto {
		return 0, fmt.Errorf("the log ends at record %d, not %d", next-1, upto)
	}
	keys := slices.Sorted(maps.Keys(latest))

	f, err := os.Open(s.n.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lr := lineReader{r: bufio.NewReaderSize(f, 1<<20)}
	sw := newSnapWriter(w, upto, time.Now())
	emit := func(k string) {
		if c := latest[k]; !c.del && (c.exp == 0 || c.exp > nowMs) {
			sw.entry(c.obj)
		}
	}
	line, err := lr.next()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.n.path, err)
	}
	crc := crc32.Update(0, castagnoli, line)
	if seq, err := parseSnapHeader(line[:len(line)-1]); err != nil || seq != s.snapSeq {
		return 0, fmt.Errorf("%s: not the snapshot at %d", s.n.path, s.snapSeq)
	}
	ki, n := 0, 0
	var prev string
	for {
		line, err := lr.next()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", s.n.path, err)
		}
		if line[0] == ']' {
			body := line[:len(line)-1]
			if len(body) < crcSuffixLen {
				return 0, fmt.Errorf("%s: bad footer", s.n.path)
			}
			cut := len(body) - crcSuffixLen
			crc = crc32.Update(crc, castagnoli, body[:cut])
			if !bytes.Equal(appendCRC(nil, crc), body[cut:]) {
				return 0, fmt.Errorf("%s: %w", s.n.path, errCRC)
			}
			if string(body[:cut]) != `],"count":`+strconv.Itoa(n) {
				return 0, fmt.Errorf("%s: entry count does not match", s.n.path)
			}
			break
		}
		crc = crc32.Update(crc, castagnoli, line)
		obj := bytes.TrimSuffix(line[:len(line)-1], []byte{','})
		e, err := parseRawEntry(obj)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", s.n.path, err)
		}
		if n > 0 && e.key <= prev {
			return 0, fmt.Errorf("%s: keys out of order", s.n.path)
		}
		prev = e.key
		n++
		for ki < len(keys) && keys[ki] < e.key {
			emit(keys[ki])
			ki++
		}
		if ki < len(keys) && keys[ki] == e.key {
			emit(keys[ki])
			ki++
		} else if e.exp == 0 || e.exp > nowMs {
			sw.entry(obj)
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		if sw.err != nil {
			return 0, sw.err
		}
	}
	for ; ki < len(keys); ki++ {
		emit(keys[ki])
	}
	return sw.n, sw.finish()
}

func readSegment(path string, limit int64) ([]byte, error) {
	if limit < 0 {
		return os.ReadFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, limit)
	_, err = io.ReadFull(f, data)
	return data, err
}

// lineReader reads "\n"-terminated lines of any length.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
}

// next returns the next line with its newline; it is valid until the next call.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.buf = append(lr.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = lr.r.ReadSlice('\n')
			lr.buf = append(lr.buf, line...)
		}
		line = lr.buf
	}
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return line, err
}
