package file

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// A log segment is JSON lines: a header, then one record per write set.
//
//	{"foxstore":"log","version":1,"after":41,"crc32c":"01234567"}
//	{"seq":42,"w":[{"k":"a","t":"string","v":"x"}],"crc32c":"89abcdef"}
//	{"seq":43,"w":[{"k":"a","del":true},{"k":"b","t":"bool","v":true}],"crc32c":"..."}
//
// Records follow each other without gaps from after+1 on, and each line's
// checksum covers the line up to `,"crc32c"`.

func appendSegHeader(b []byte, after uint64) []byte {
	start := len(b)
	b = append(b, `{"foxstore":"log","version":`...)
	b = strconv.AppendInt(b, formatVersion, 10)
	b = append(b, `,"after":`...)
	b = strconv.AppendUint(b, after, 10)
	b = appendCRC(b, crc32.Checksum(b[start:], castagnoli))
	return append(b, '\n')
}

func parseSegHeader(line []byte) (uint64, error) {
	var kind string
	var version, after uint64
	var hasAfter bool
	err := members(line, func(name, v []byte) error {
		var err error
		switch string(name) {
		case "foxstore":
			kind, err = parseString(v)
		case "version":
			version, err = parseUint(v)
		case "after":
			after, err = parseUint(v)
			hasAfter = true
		}
		return err
	})
	if err != nil || kind != "log" || !hasAfter {
		return 0, errors.New("not a foxstore log header")
	}
	if _, err := checkCRC(line); err != nil {
		return 0, err
	}
	if version > formatVersion {
		return 0, &versionError{version}
	}
	if version != formatVersion {
		return 0, fmt.Errorf("bad format version %d", version)
	}
	return after, nil
}

// createSegment creates (or empties) the segment for the records after
// after, durably, and returns it opened for writing. Records are written at
// explicit offsets (WriteAt) rather than with O_APPEND, because Windows
// cannot truncate a file opened for appending, and a failed write is cut
// off with Truncate.
func createSegment(n names, after uint64) (*os.File, int64, error) {
	path := n.segment(after)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	hdr := appendSegHeader(nil, after)
	_, err = f.Write(hdr)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(n.dir)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, int64(len(hdr)), nil
}

// commit is a write waiting for its record to be durable (sync mode).
type commit struct {
	undo []driver.Write // the entries the write replaced, to take it back
	done bool           // guarded by Store.wmu
	err  error          // guarded by Store.wmu
}

// maxPending bounds the bytes of records waiting for the log in async mode;
// writers wait (back-pressure) while it is full.
var maxPending = 8 << 20

// write applies ws in memory and logs it. In sync mode it returns once the
// record is durable (or undone, on a log failure); in async mode once it is
// queued. mt, when set, is the memory transaction to commit instead of a
// plain apply.
func (s *Store) write(ctx context.Context, ws []driver.Write, mt driver.Tx) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.readOnly {
		if len(ws) == 0 && mt != nil {
			return mt.Commit(ctx, nil)
		}
		return errReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var body []byte
	if len(ws) > 0 {
		var err error
		if body, err = appendWrites(make([]byte, 0, 96*len(ws)), ws); err != nil {
			return err
		}
	}
	s.wmu.Lock()
	if s.closed.Load() {
		s.wmu.Unlock()
		return errClosed
	}
	if s.broken != nil {
		err := s.broken
		s.wmu.Unlock()
		return err
	}
	if s.async && len(ws) > 0 {
		if err := s.waitRoomLocked(ctx); err != nil {
			s.wmu.Unlock()
			return err
		}
	}
	var undo []driver.Write
	if !s.async && len(ws) > 0 {
		undo = s.beforeImages(ws)
	}
	var err error
	if mt != nil {
		err = mt.Commit(ctx, ws)
	} else {
		err = s.mem.Apply(ctx, ws)
	}
	if err != nil || len(ws) == 0 {
		s.wmu.Unlock()
		return err
	}
	s.seq++
	s.pend = appendRecord(s.pend, s.seq, body)
	if s.async {
		full := len(s.pend) >= maxPending/2
		s.wmu.Unlock()
		if full {
			s.kickFlusher()
		}
		return nil
	}
	c := &commit{undo: undo}
	s.waiting = append(s.waiting, c)
	// Group commit: if no writer is flushing, this one leads: it writes
	// and syncs every record queued so far, its own and those of the
	// writers that queued while the previous flush ran. Others wait for
	// the flush that carries their record.
	for !c.done {
		if s.leading {
			s.flushDone.Wait()
			continue
		}
		s.leading = true
		// The writers of the previous group are on their way back with
		// their next writes: yield a few times so that they join this
		// group rather than wait for the next one.
		for i := 0; i < 16 && len(s.waiting) < s.lastGroup; i++ {
			s.wmu.Unlock()
			runtime.Gosched()
			s.wmu.Lock()
		}
		s.wmu.Unlock()
		s.smu.Lock()
		s.flushLocked()
		s.smu.Unlock()
		s.wmu.Lock()
		s.leading = false
		s.flushDone.Broadcast()
	}
	err = c.err
	s.wmu.Unlock()
	return err
}

// beforeImages returns the writes that would restore what ws replaces; the
// caller holds wmu, so nothing else writes meanwhile.
func (s *Store) beforeImages(ws []driver.Write) []driver.Write {
	undo := make([]driver.Write, len(ws))
	for i, w := range ws {
		e, ok, _ := s.mem.Get(context.Background(), w.Key)
		undo[i] = driver.Write{Key: w.Key, Entry: e, Delete: !ok}
	}
	return undo
}

// waitRoomLocked blocks, with wmu released, while the async queue is full.
func (s *Store) waitRoomLocked(ctx context.Context) error {
	for len(s.pend) >= maxPending {
		if s.flushErr != nil {
			return fmt.Errorf("async writes are not reaching the disk: %w", s.flushErr)
		}
		ch := s.flushed
		s.wmu.Unlock()
		s.kickFlusher()
		select {
		case <-ch:
		case <-ctx.Done():
			s.wmu.Lock()
			return ctx.Err()
		}
		s.wmu.Lock()
		if s.closed.Load() {
			return errClosed
		}
		if s.broken != nil {
			return s.broken
		}
	}
	return nil
}

func (s *Store) kickFlusher() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flushLocked writes every queued record to the active segment and syncs
// it. The caller holds smu. On failure, sync mode cuts the segment back and
// undoes every write not yet durable (they all fail); async mode cuts it
// back and keeps the records queued for the next attempt.
func (s *Store) flushLocked() error {
	s.wmu.Lock()
	buf, q, last := s.pend, s.waiting, s.seq
	s.pend, s.waiting = s.spare[:0], nil
	s.wmu.Unlock()
	if len(buf) == 0 {
		s.spare = buf
		return s.stickyErr()
	}
	err := s.appendLog(buf)
	if err != nil {
		return s.failLocked(err, buf, q)
	}
	s.segSize += int64(len(buf))
	s.durable = last
	s.logBytes.Add(int64(len(buf)))
	if cap(buf) > 4<<20 {
		buf = nil // do not keep a huge buffer after a huge write
	}
	s.spare = buf
	s.wmu.Lock()
	for _, c := range q {
		c.done = true
	}
	if len(q) > 0 {
		s.lastGroup = len(q)
	}
	s.flushErr = nil
	s.notifyFlushedLocked()
	s.wmu.Unlock()
	s.maybeCompact()
	return nil
}

func (s *Store) appendLog(buf []byte) error {
	if s.seg == nil {
		return errClosed
	}
	if h := s.writeHook; h != nil {
		if err := h(buf); err != nil {
			return err
		}
	}
	if _, err := s.seg.WriteAt(buf, s.segSize); err != nil {
		return err
	}
	return s.seg.Sync()
}

func (s *Store) failLocked(werr error, buf []byte, q []*commit) error {
	werr = fmt.Errorf("log %s: %w", s.segPath(), werr)
	var rerr error
	if s.seg != nil {
		// Cut off whatever part of buf reached the file, so that the next
		// records follow durable ones.
		rerr = s.seg.Truncate(s.segSize)
		if rerr == nil {
			rerr = s.seg.Sync()
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if rerr != nil && s.broken == nil {
		s.broken = fmt.Errorf("log %s is in an unknown state after a failed write (%v) and a failed repair (%v); reopen the store", s.segPath(), werr, rerr)
	}
	s.notifyFlushedLocked()
	if s.async {
		queued := s.pend
		s.pend = append(buf, queued...)
		s.spare = queued[:0]
		s.flushErr = werr
		return werr
	}
	// Every write not yet durable fails: those of this group and those
	// queued since. Undo them newest first, so memory matches the log.
	all := append(q, s.waiting...)
	for i := len(all) - 1; i >= 0; i-- {
		_ = s.mem.Apply(context.Background(), all[i].undo)
		all[i].done, all[i].err = true, werr
	}
	s.seq = s.durable
	s.spare = buf
	s.pend, s.waiting = s.pend[:0], nil
	return werr
}

// stickyErr reports a failure that outlives one flush.
func (s *Store) stickyErr() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	return s.flushErr
}

// notifyFlushedLocked wakes the writers waiting for a flush; the caller
// holds wmu.
func (s *Store) notifyFlushedLocked() {
	close(s.flushed)
	s.flushed = make(chan struct{})
	s.flushDone.Broadcast()
}

func (s *Store) segPath() string { return s.n.segment(s.segAfter) }

// flusher writes async records every half flush interval, or sooner when
// the queue fills up.
func (s *Store) flusher() {
	defer s.bg.Done()
	every := max(s.flushEvery/2, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		s.smu.Lock()
		err := s.flushLocked()
		s.smu.Unlock()
		if err != nil && !failing {
			s.log.Warn("foxstore: async flush failed; retrying", "file", s.n.path, "err", err)
		} else if err == nil && failing {
			s.log.Info("foxstore: async flush recovered", "file", s.n.path)
		}
		failing = err != nil
	}
}

// rotate starts a new segment, so that every record up to the returned seq
// is in closed segments. The caller holds cmu. Writers wait only for one
// flush and the creation of a file.
func (s *Store) rotate() (uint64, error) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if err := s.flushLocked(); err != nil {
		return 0, err
	}
	if s.seg == nil {
		return 0, errClosed
	}
	after := s.durable
	if after == s.segAfter {
		return after, nil // the active segment holds no record yet
	}
	f, size, err := createSegment(s.n, after)
	if err != nil {
		return 0, err
	}
	s.seg.Close()
	s.seg, s.segAfter, s.segSize = f, after, size
	s.segs = append(s.segs, after)
	return after, nil
}
