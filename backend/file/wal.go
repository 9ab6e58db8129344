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

// batch is records that the async flusher wrote to the active segment and
// that wait for the syncer's fsync; they stay in memory until then, so that
// a failed fsync can write them again.
type batch struct {
	buf   []byte
	last  uint64    // the seq of its last record
	since time.Time // when its oldest record was acknowledged
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
		if s.pendSince.IsZero() {
			s.pendSince = time.Now()
			if s.oldest.IsZero() {
				s.oldest = s.pendSince
			}
		}
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
		s.ymu.Lock()
		s.smu.Lock()
		s.flushLocked()
		s.smu.Unlock()
		s.ymu.Unlock()
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

// waitRoomLocked holds an async write back, with wmu released, while the
// queue is full or while the oldest acknowledged write that is not durable
// yet has waited flush_interval: acknowledging more then would let a crash
// lose writes older than flush_interval (CONTRACT §10). If an attempt to
// write or sync the log that began after it started waiting fails, it
// fails instead of waiting on: the disk keeps refusing.
func (s *Store) waitRoomLocked(ctx context.Context) error {
	start := s.tries.Load()
	for len(s.pend) >= maxPending || !s.oldest.IsZero() && time.Since(s.oldest) >= s.flushEvery {
		if s.flushErr != nil && s.errTry > start {
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

func (s *Store) kickSyncer() {
	select {
	case s.syncKick <- struct{}{}:
	default:
	}
}

// flushLocked writes every queued record to the active segment and syncs
// it, with every record written before. The caller holds ymu and smu. On
// failure, sync mode cuts the segment back and undoes every write not yet
// durable (they all fail); async mode cuts it back and keeps the records
// queued for the next attempt.
func (s *Store) flushLocked() error {
	if s.async {
		if err := s.writeQueuedLocked(); err != nil {
			return err
		}
		if len(s.unsynced) == 0 {
			return s.stickyErr()
		}
		return s.syncUnsynced(true)
	}
	s.wmu.Lock()
	buf, q, last := s.pend, s.waiting, s.seq
	s.pend, s.waiting = s.spare[:0], nil
	s.wmu.Unlock()
	if len(buf) == 0 {
		s.spare = buf
		return s.stickyErr()
	}
	err := s.writeSeg(buf)
	if err == nil {
		err = s.syncSeg(s.seg)
	}
	if err != nil {
		return s.failLocked(err, buf, q)
	}
	s.segSize += int64(len(buf))
	s.syncedSize = s.segSize
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

// writeQueuedLocked hands the queued async records to the OS: it writes
// them to the active segment without syncing it, so that they survive a
// crash of the process whatever an fsync in progress takes. The caller
// holds smu. On failure the segment is cut back to the records before them
// and they stay queued.
func (s *Store) writeQueuedLocked() error {
	s.wmu.Lock()
	buf, last, since := s.pend, s.seq, s.pendSince
	s.pend, s.pendSince, s.spare = s.spare[:0], time.Time{}, nil
	s.wmu.Unlock()
	if len(buf) == 0 {
		s.spare = buf
		return nil
	}
	try := s.tries.Add(1)
	if err := s.writeSeg(buf); err != nil {
		err = fmt.Errorf("log %s: %w", s.segPath(), err)
		// Cut off whatever part of buf reached the file, so that the next
		// records follow whole ones.
		rerr := s.seg.Truncate(s.segSize)
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if rerr != nil && s.broken == nil {
			s.broken = fmt.Errorf("log %s is in an unknown state after a failed write (%v) and a failed repair (%v); reopen the store", s.segPath(), err, rerr)
		}
		s.requeueLocked(buf, since)
		s.flushErr, s.errTry = err, try
		s.notifyFlushedLocked()
		return err
	}
	s.segSize += int64(len(buf))
	s.unsynced = append(s.unsynced, batch{buf: buf, last: last, since: since})
	return nil
}

// requeueLocked puts records back at the head of the queue; the caller
// holds wmu.
func (s *Store) requeueLocked(buf []byte, since time.Time) {
	queued := s.pend
	s.pend = append(buf, queued...)
	s.spare = queued[:0]
	if !since.IsZero() {
		s.pendSince = since
	}
}

// syncUnsynced fsyncs the active segment and makes the records written
// before it began durable. The caller holds ymu, so the segment stays the
// active one; with locked it holds smu too, else smu is taken only around
// the fsync and the flusher goes on writing meanwhile. On failure the
// segment is cut back to its durable records and the others are queued
// again, to be written anew: after a failed fsync the OS may have dropped
// them.
func (s *Store) syncUnsynced(locked bool) error {
	if !locked {
		s.smu.Lock()
	}
	n, end, f := len(s.unsynced), s.segSize, s.seg
	if !locked {
		s.smu.Unlock()
	}
	if n == 0 {
		return nil
	}
	if f == nil {
		return errClosed
	}
	try := s.tries.Add(1)
	err := s.syncSeg(f)
	if !locked {
		s.smu.Lock()
		defer s.smu.Unlock()
	}
	if err != nil {
		return s.failUnsyncedLocked(err, try)
	}
	var bytes int64
	for _, b := range s.unsynced[:n] {
		bytes += int64(len(b.buf))
		if cap(b.buf) <= 4<<20 && cap(b.buf) > cap(s.spare) {
			s.spare = b.buf[:0]
		}
	}
	s.syncedSize = end
	s.durable = s.unsynced[n-1].last
	rest := copy(s.unsynced, s.unsynced[n:])
	clear(s.unsynced[rest:])
	s.unsynced = s.unsynced[:rest]
	s.logBytes.Add(bytes)
	s.wmu.Lock()
	s.flushErr = nil
	s.oldest = s.pendSince
	if len(s.unsynced) > 0 {
		s.oldest = s.unsynced[0].since
	}
	s.notifyFlushedLocked()
	s.wmu.Unlock()
	s.maybeCompact()
	return nil
}

// failUnsyncedLocked handles a failed fsync in async mode: the caller holds
// smu.
func (s *Store) failUnsyncedLocked(werr error, try uint64) error {
	werr = fmt.Errorf("log %s: %w", s.segPath(), werr)
	rerr := s.seg.Truncate(s.syncedSize)
	if rerr == nil {
		rerr = s.seg.Sync()
	}
	var all []byte
	for _, b := range s.unsynced {
		all = append(all, b.buf...)
	}
	since := time.Time{}
	if len(s.unsynced) > 0 {
		since = s.unsynced[0].since
	}
	clear(s.unsynced)
	s.unsynced = s.unsynced[:0]
	s.segSize = s.syncedSize
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if rerr != nil && s.broken == nil {
		s.broken = fmt.Errorf("log %s is in an unknown state after a failed sync (%v) and a failed repair (%v); reopen the store", s.segPath(), werr, rerr)
	}
	s.requeueLocked(all, since)
	s.flushErr, s.errTry = werr, try
	s.notifyFlushedLocked()
	return werr
}

// writeSeg writes buf at the end of the active segment; the caller holds
// smu.
func (s *Store) writeSeg(buf []byte) error {
	if s.seg == nil {
		return errClosed
	}
	if h := s.writeHook; h != nil {
		if err := h(buf); err != nil {
			return err
		}
	}
	_, err := s.seg.WriteAt(buf, s.segSize)
	return err
}

// syncSeg fsyncs f, the active segment; the caller holds ymu.
func (s *Store) syncSeg(f *os.File) error {
	if f == nil {
		return errClosed
	}
	if h := s.syncHook; h != nil {
		if err := h(); err != nil {
			return err
		}
	}
	return f.Sync()
}

// failLocked handles a failed flush in sync mode: the caller holds smu.
func (s *Store) failLocked(werr error, buf []byte, q []*commit) error {
	werr = fmt.Errorf("log %s: %w", s.segPath(), werr)
	var rerr error
	if s.seg != nil {
		// Cut off whatever part of buf reached the file, so that the next
		// records follow durable ones.
		rerr = s.seg.Truncate(s.syncedSize)
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

// flusher hands async records to the OS every half flush interval, or
// sooner when the queue fills up or a writer waits, and wakes the syncer.
// It never waits for an fsync: while one is slow, records keep reaching
// the OS, where a crash of the process cannot lose them.
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
		err := s.writeQueuedLocked()
		unsynced := len(s.unsynced) > 0
		s.smu.Unlock()
		if unsynced {
			s.kickSyncer()
		}
		failing = s.logFlush("write", err, failing)
	}
}

// syncer fsyncs the active segment whenever the flusher wrote records to
// it, back to back while the flusher keeps writing, and so makes them
// durable.
func (s *Store) syncer() {
	defer s.bg.Done()
	failing := false
	for {
		select {
		case <-s.stop:
			return
		case <-s.syncKick:
		}
		s.ymu.Lock()
		err := s.syncUnsynced(false)
		s.ymu.Unlock()
		failing = s.logFlush("sync", err, failing)
		if err != nil {
			s.kickFlusher() // the records are queued again
		}
	}
}

func (s *Store) logFlush(what string, err error, failing bool) bool {
	if err != nil && !failing {
		s.log.Warn("foxstore: async flush failed; retrying", "file", s.n.path, "step", what, "err", err)
	} else if err == nil && failing {
		s.log.Info("foxstore: async flush recovered", "file", s.n.path, "step", what)
	}
	return err != nil
}

// rotate starts a new segment, so that every record up to the returned seq
// is in closed segments. The caller holds cmu. Writers wait only for one
// flush and the creation of a file.
func (s *Store) rotate() (uint64, error) {
	s.ymu.Lock()
	defer s.ymu.Unlock()
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
	s.seg, s.segAfter, s.segSize, s.syncedSize = f, after, size, size
	s.segs = append(s.segs, after)
	return after, nil
}
