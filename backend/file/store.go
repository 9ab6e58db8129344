package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"

	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

func init() {
	driver.Register("file", driver.Driver{
		Open: func(ctx context.Context, cfg driver.Config) (driver.Backend, error) {
			return Open(ctx, cfg)
		},
		Resident: true,
	})
}

var (
	errClosed   = &driver.Error{Code: driver.CodeClosed}
	errReadOnly = driver.NewError(driver.CodeLocked, "", "", errors.New("the store was opened read-only"))
)

// Store is the file backend. Its data lives in memory (a memory.Store);
// the files make it durable. See the package documentation.
type Store struct {
	mem        *memory.Store
	n          names
	log        *slog.Logger
	async      bool
	readOnly   bool
	flushEvery time.Duration
	backups    int
	lock       *flock.Flock // nil when read-only

	closed atomic.Bool // set under wmu

	// wmu orders writes: each is applied in memory and its record queued
	// under wmu, so that memory and the log agree on the order of writes.
	wmu       sync.Mutex
	seq       uint64        // last sequence number handed out
	pend      []byte        // records not yet written to the log
	pendSince time.Time     // async mode: when the oldest record of pend was acknowledged
	oldest    time.Time     // async mode: when the oldest write not yet durable was acknowledged; zero: none
	waiting   []*commit     // sync mode: the commits of pend, in order
	leading   bool          // sync mode: a writer is flushing for the others
	lastGroup int           // sync mode: records in the last flush
	flushDone sync.Cond     // on wmu: broadcast after every flush attempt
	broken    error         // the log is in an unknown state: every write fails
	flushErr  error         // async mode: the last flush failed
	errTry    uint64        // async mode: the attempt (see tries) that set flushErr
	flushed   chan struct{} // closed and replaced after every flush attempt

	// ymu serialises syncing the active segment with switching and closing
	// it. In async mode the syncer holds it (and not smu) while it fsyncs,
	// so that the flusher keeps handing records to the OS meanwhile. Locks
	// are taken in the order cmu, ymu, smu, wmu.
	ymu sync.Mutex

	// smu serialises writing to the active segment and switching it.
	smu        sync.Mutex
	seg        *os.File // the active segment, opened for appending
	segAfter   uint64   // the seq the active segment's records follow
	segSize    int64    // bytes written to seg: where the next record goes
	syncedSize int64    // durable bytes of seg
	durable    uint64   // last durable seq
	unsynced   []batch  // async mode: records written to seg, not yet synced, oldest first
	spare      []byte   // the other half of the pend double buffer
	writeHook  func([]byte) error
	syncHook   func() error  // tests: runs before the segment's fsync
	tries      atomic.Uint64 // async mode: attempts to write or sync the log so far

	// cmu serialises compaction and Backup, which read the snapshot and
	// segments and replace or delete them.
	cmu     sync.Mutex
	snapSeq uint64
	segs    []uint64 // segments on disk, ascending (rotate appends under smu too)

	snapSize  atomic.Int64
	snapCount atomic.Int64
	logBytes  atomic.Int64 // log bytes written since the snapshot
	swept     atomic.Int64 // expired entries removed since the snapshot

	lastCompactErr atomic.Pointer[error]
	compacting     atomic.Bool
	retryAt        atomic.Int64 // after a failed compaction: log size to try again at

	bgMu     sync.Mutex // guards stopping and bg.Add
	stopping bool
	bg       sync.WaitGroup
	stop     chan struct{}
	kick     chan struct{} // wakes the async flusher
	syncKick chan struct{} // wakes the async syncer
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

var (
	_ driver.Backend        = (*Store)(nil)
	_ driver.BatchGetter    = (*Store)(nil)
	_ driver.Sweeper        = (*Store)(nil)
	_ driver.Flusher        = (*Store)(nil)
	_ driver.HealthReporter = (*Store)(nil)
	_ driver.Backuper       = (*Store)(nil)
)

// Open opens the store at cfg.FilePath (DefaultPath when empty), creating
// it and its directory if needed, and recovers it from whatever a crash
// left. With cfg.ReadOnly it takes no lock and changes no file.
func Open(ctx context.Context, cfg driver.Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if cfg.BackupCount < 0 && cfg.BackupCount != driver.NoBackups {
		return nil, driver.NewError(driver.CodeInvalid, "open", "", errors.New("backup_count is negative"))
	}
	path := cfg.FilePath
	if path == "" {
		var err error
		if path, err = DefaultPath(); err != nil {
			return nil, fmt.Errorf("no file_path and no default: %w", err)
		}
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	s := &Store{
		n:          newNames(path),
		log:        cfg.Log(),
		async:      cfg.AsyncWrite,
		readOnly:   cfg.ReadOnly,
		flushEvery: cfg.FlushInterval,
		backups:    max(cfg.BackupCount, 0),
		flushed:    make(chan struct{}),
		stop:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		syncKick:   make(chan struct{}, 1),
	}
	s.flushDone.L = &s.wmu
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	if s.readOnly {
		err = s.openReadOnly(ctx)
	} else {
		err = s.openWriter(ctx)
	}
	if err != nil {
		s.bgCancel()
		return nil, err
	}
	if s.async {
		s.bg.Add(2)
		go s.flusher()
		go s.syncer()
	}
	s.maybeCompact()
	return s, nil
}

func (s *Store) openWriter(ctx context.Context) error {
	if err := os.MkdirAll(s.n.dir, 0o700); err != nil {
		return err
	}
	lock, err := acquireLock(s.n.lock())
	if err != nil {
		return err
	}
	st, err := recoverState(s.n, time.Now().UnixMilli())
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = s.settle(st)
	}
	if err != nil {
		lock.Unlock()
		return err
	}
	s.lock = lock
	return nil
}

// settle brings the files in line with the recovered state: it finishes an
// interrupted install, cuts a torn log tail, replaces damaged files by a
// new snapshot (moving them aside), and opens the active segment.
func (s *Store) settle(st *state) error {
	n := s.n
	s.mem, s.seq, s.durable = st.mem, st.last, st.last
	s.snapSeq = st.snapSeq
	s.snapSize.Store(st.snapSize)
	s.snapCount.Store(int64(st.snapCount))
	s.logBytes.Store(st.logBytes)
	s.segs = st.keptSegs
	if st.rollForward {
		if err := rename(n.newSnap(), n.path); err != nil {
			return err
		}
		if err := syncDir(n.dir); err != nil {
			return err
		}
		s.log.Info("foxstore: finished an interrupted snapshot install", "file", n.path)
	}
	if a := st.torn; a != nil && a.end > 0 && a.end < a.size {
		path := n.segment(a.after)
		if a.tornLine {
			// A complete line that fails its checksum may be damage
			// rather than a write cut short: keep a copy of the bytes.
			to, err := saveTail(path, a.end)
			if err != nil {
				return err
			}
			s.log.Warn("foxstore: damaged record at the end of the log; cut off, copy kept", "file", path,
				"offset", a.end, "bytes", a.size-a.end, "copy", to)
		} else {
			s.log.Info("foxstore: cut a torn log tail", "file", path, "offset", a.end, "bytes", a.size-a.end)
		}
		if err := trim(path, a.end); err != nil {
			return err
		}
	}
	if st.fresh || st.needSnapshot() {
		for _, b := range st.badSnaps {
			to, err := moveAside(b.path)
			if err != nil {
				return err
			}
			s.log.Warn("foxstore: damaged snapshot moved aside", "file", b.path, "moved_to", to,
				"recovered_from", recoveredFrom(st), "err", b.why)
		}
		if err := s.snapshotFromMemory(st.last); err != nil {
			return err
		}
		for _, b := range st.badSegs {
			to, err := moveAside(b.path)
			if err != nil {
				return err
			}
			s.log.Warn("foxstore: damaged log segment moved aside", "file", b.path, "moved_to", to,
				"recovered_from", recoveredFrom(st), "err", b.why)
		}
		if len(st.badSnaps) == 0 && st.snapFrom != "" && st.snapFrom != n.path && !st.rollForward {
			s.log.Warn("foxstore: snapshot missing; recovered", "file", n.path, "recovered_from", recoveredFrom(st))
		}
		if st.lost != nil {
			s.log.Warn("foxstore: log records lost to damage", "file", n.path, "err", st.lost)
		}
	}
	if a := st.active; a != nil && a.end > 0 {
		f, err := os.OpenFile(n.segment(a.after), os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		s.seg, s.segAfter, s.segSize, s.syncedSize = f, a.after, a.end, a.end
	} else {
		f, size, err := createSegment(n, st.last)
		if err != nil {
			return err
		}
		s.seg, s.segAfter, s.segSize, s.syncedSize = f, st.last, size, size
		if len(s.segs) == 0 || s.segs[len(s.segs)-1] != st.last {
			s.segs = append(s.segs, st.last)
		}
	}
	if st.leftoverNew {
		if err := os.Remove(n.newSnap()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	s.prune()
	return nil
}

func recoveredFrom(st *state) string {
	if st.snapFrom == "" {
		return "the log"
	}
	return st.snapFrom + " and the log"
}

// saveTail copies the bytes of path from offset on to a new file beside it.
func saveTail(path string, offset int64) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	to := path + ".tail"
	f, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data[offset:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return moveAside(to)
}

// trim cuts a file at size, durably.
func trim(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readOnlyTries bounds how often a read-only open re-reads the files when
// what it finds looks like a writer's compaction in progress.
const readOnlyTries = 10

func (s *Store) openReadOnly(ctx context.Context) error {
	var st *state
	var err error
	for try := 1; ; try++ {
		st, err = recoverState(s.n, time.Now().UnixMilli())
		retry := errors.Is(err, errVanished) || err == nil && st.suspect()
		if !retry || try == readOnlyTries {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try) * 20 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	for _, b := range append(st.badSnaps, st.badSegs...) {
		s.log.Warn("foxstore: read-only store skipped a damaged file", "file", b.path,
			"recovered_from", recoveredFrom(st), "err", b.why)
	}
	s.mem, s.seq, s.snapSeq = st.mem, st.last, st.snapSeq
	s.snapSize.Store(st.snapSize)
	s.snapCount.Store(int64(st.snapCount))
	return nil
}

// Get implements driver.Backend.
func (s *Store) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	if s.closed.Load() {
		return driver.Entry{}, false, errClosed
	}
	return s.mem.Get(ctx, key)
}

// GetMany implements driver.BatchGetter.
func (s *Store) GetMany(ctx context.Context, keys []string, fn func(string, driver.Entry)) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.mem.GetMany(ctx, keys, fn)
}

// Scan implements driver.Backend.
func (s *Store) Scan(ctx context.Context, start, end string, fn func(string, driver.Entry) bool) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.mem.Scan(ctx, start, end, fn)
}

// Apply implements driver.Backend: the writes are in memory and, in sync
// mode, on stable storage when it returns nil.
func (s *Store) Apply(ctx context.Context, ws []driver.Write) error {
	return s.write(ctx, ws, nil)
}

// Begin implements driver.Backend. Transactions are the memory backend's
// optimistic ones; their commit is logged like Apply.
func (s *Store) Begin(ctx context.Context) (driver.Tx, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	mt, err := s.mem.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &tx{s: s, mt: mt}, nil
}

type tx struct {
	s  *Store
	mt driver.Tx
}

func (t *tx) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	return t.mt.Get(ctx, key)
}

func (t *tx) Commit(ctx context.Context, ws []driver.Write) error {
	return t.s.write(ctx, ws, t.mt)
}

func (t *tx) Rollback() error { return t.mt.Rollback() }

// Sweep implements driver.Sweeper. Expired entries leave memory here; they
// leave the files at the next compaction, which enough of them trigger.
func (s *Store) Sweep(ctx context.Context, nowMs int64, limit int) (int, bool, error) {
	if s.closed.Load() {
		return 0, false, errClosed
	}
	removed, more, err := s.mem.Sweep(ctx, nowMs, limit)
	if removed > 0 && s.swept.Add(int64(removed)) >= max(sweepCompactMin, s.snapCount.Load()/4) {
		s.maybeCompact()
	}
	return removed, more, err
}

// Flush implements driver.Flusher: it writes and syncs every acknowledged
// write and reports a failure to do so.
func (s *Store) Flush(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	s.ymu.Lock()
	defer s.ymu.Unlock()
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.seg == nil {
		return s.stickyErr()
	}
	return s.flushLocked()
}

// Close implements driver.Backend: it flushes, stops background work and
// releases the files and the lock. It reports a write that could not be
// made durable.
func (s *Store) Close(ctx context.Context) error {
	s.wmu.Lock()
	if s.closed.Load() {
		s.wmu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.wmu.Unlock()
	s.bgMu.Lock()
	s.stopping = true
	s.bgMu.Unlock()
	close(s.stop)
	s.bgCancel()
	s.bg.Wait()
	var err error
	if !s.readOnly {
		s.ymu.Lock()
		s.smu.Lock()
		err = s.flushLocked()
		if cerr := s.seg.Close(); err == nil {
			err = cerr
		}
		s.seg = nil
		s.smu.Unlock()
		s.ymu.Unlock()
		if uerr := s.lock.Unlock(); err == nil {
			err = uerr
		}
	}
	s.mem.Close(ctx)
	return err
}

// Health implements driver.HealthReporter.
func (s *Store) Health(ctx context.Context) (map[string]any, error) {
	mode := "sync"
	switch {
	case s.readOnly:
		mode = "read-only"
	case s.async:
		mode = "async"
	}
	d := map[string]any{
		"file":          s.n.path,
		"mode":          mode,
		"snapshot_size": s.snapSize.Load(),
		"log_size":      s.logBytes.Load(),
	}
	if p := s.lastCompactErr.Load(); p != nil {
		d["compaction_error"] = (*p).Error()
	}
	s.wmu.Lock()
	d["pending_bytes"] = len(s.pend)
	err := s.broken
	if err == nil {
		err = s.flushErr
	}
	s.wmu.Unlock()
	return d, err
}
