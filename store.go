package foxstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	_ "github.com/foxstore/foxstore/backend/file"   // always linked
	_ "github.com/foxstore/foxstore/backend/memory" // always linked
	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/internal/config"
)

// Version is the version of foxstore reported by the Plugin methods.
const Version = "0.1.0"

// Lifecycle states of a core.
const (
	stateNew int32 = iota
	stateRunning
	stateStopped
	stateCleaned
)

// core is what all namespace views of one store share.
type core struct {
	// mu serialises lifecycle changes (Initialize, Start, Stop, Cleanup).
	mu    sync.Mutex
	cfg   Config // with defaults filled in; guarded by mu
	drv   driver.Driver
	state atomic.Int32
	b     atomic.Pointer[backendRef] // set while the backend is open

	cache atomic.Pointer[readCache] // nil when the backend is resident or cache_size is 0
	stats stats

	// live is b while the store runs, else nil: one load tells an
	// operation that it can go to the backend (see store.ready). Set and
	// cleared under mu, with state.
	live atomic.Pointer[backendRef]
	// direct is live when there is no read cache, else nil: one load tells
	// a Get that it can take its quickest path (see store.Get).
	direct atomic.Pointer[backendRef]

	sweepStop chan struct{} // closed by Stop; guarded by mu
	sweepDone chan struct{}
	watchStop chan struct{} // closed by Stop; guarded by mu
}

// backendRef lets the backend be swapped atomically on restart. one is the
// backend as a driver.OneWriter, or nil, asserted once here rather than on
// every Set.
type backendRef struct {
	b   driver.Backend
	one driver.OneWriter
}

func newBackendRef(b driver.Backend) *backendRef {
	one, _ := b.(driver.OneWriter)
	return &backendRef{b, one}
}

type stats struct {
	hits, misses, evictions, expirations counter
}

// counter is an exact event count that many goroutines add to at once. One
// atomic word shared by every core would bounce its cache line between
// them on every Get (measured: parallel Gets on two cores were slower than
// on one). So the count is spread over padded stripes, and Load sums them.
// A goroutine adds to the stripe its stack address picks: goroutines have
// stacks of their own, so two goroutines reading at once on two cores
// mostly write to two lines that stay in their own core's cache, where a
// stripe picked at random moves to the other core about every other add.
// (Measured on two cores: parallel Gets with random stripes cost half as
// much again as with stack stripes, which cost what Gets without a counter
// do.) The stripe is only a hint; any stripe gives the right count.
type counter struct {
	stripe [counterStripes]struct {
		n atomic.Int64
		_ [56]byte // one stripe per cache line
	}
}

const counterStripes = 16

// Add adds d to the count.
func (c *counter) Add(d int64) {
	// The address of a local variable (never dereferenced) tells which
	// goroutine's stack this is; stacks are at least 2 KiB apart.
	var here byte
	p := uintptr(unsafe.Pointer(&here)) >> 11
	p ^= p >> 4
	c.stripe[p%counterStripes].n.Add(d)
}

// Load returns the count.
func (c *counter) Load() int64 {
	var sum int64
	for i := range c.stripe {
		sum += c.stripe[i].n.Load()
	}
	return sum
}

// Store sets the count to n.
func (c *counter) Store(n int64) {
	for i := range c.stripe {
		c.stripe[i].n.Store(0)
	}
	c.stripe[0].n.Store(n)
}

func (s *stats) reset() {
	s.hits.Store(0)
	s.misses.Store(0)
	s.evictions.Store(0)
	s.expirations.Store(0)
}

// store is the front: a view of a core under a namespace prefix.
type store struct {
	c     *core
	ns    string // encoded namespace prefix; "" for the base store
	name  string // the namespace path for messages, "a/b"
	nsErr error  // set when the namespace name is invalid: every call fails
}

var _ Store = (*store)(nil)

func newStore(cfg Config) (*store, error) {
	if err := config.Validate(cfg); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	drv, err := driver.Lookup(cfg.Backend)
	if err != nil {
		return nil, &Error{Op: "open", Code: CodeInvalid, Err: err}
	}
	c := &core{cfg: cfg, drv: drv}
	s := &store{c: c}
	if cfg.Namespace != "" {
		return s.view(cfg.Namespace), nil
	}
	return s, nil
}

// ID implements Plugin.
func (s *store) ID() string { return "foxstore" }

// Name implements Plugin.
func (s *store) Name() string { return "foxstore storage" }

// Version implements Plugin.
func (s *store) Version() string { return Version }

// Description implements Plugin.
func (s *store) Description() string {
	return "key-value storage over memory, file, database and redis backends"
}

// Dependencies implements Plugin: none.
func (s *store) Dependencies() []string { return nil }

// Provides implements Plugin.
func (s *store) Provides() []string { return []string{"storage"} }

// Initialize applies config.Settings (the keys of the YAML configuration) to
// a store that has not been started.
func (s *store) Initialize(ctx context.Context, pc *PluginConfig) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() == stateRunning {
		return &Error{Op: "initialize", Code: CodeInvalid, Err: errors.New("store is running; stop it first")}
	}
	if pc == nil || len(pc.Settings) == 0 {
		return nil
	}
	cfg, err := config.FromSettings(pc.Settings)
	if err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	drv, err := driver.Lookup(cfg.Backend)
	if err != nil {
		return &Error{Op: "initialize", Code: CodeInvalid, Err: err}
	}
	if c.b.Load() != nil {
		// A stopped store keeps its backend open; a new configuration
		// needs a new one.
		if err := c.closeBackend(ctx); err != nil {
			return err
		}
	}
	c.cfg, c.drv = cfg, drv
	if cfg.Namespace != "" && s.ns == "" {
		*s = *s.view(cfg.Namespace)
	}
	return nil
}

// Start opens the backend (if it is not open) and starts background work.
func (s *store) Start(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() == stateRunning {
		return nil
	}
	if c.b.Load() == nil {
		if err := ctx.Err(); err != nil {
			return &Error{Op: "start", Code: CodeReadFailed, Err: err}
		}
		b, err := c.drv.Open(ctx, c.cfg)
		if err != nil {
			return wrapErr("open", "", CodeReadFailed, err)
		}
		c.b.Store(newBackendRef(b))
	}
	c.stats.reset()
	c.cache.Store(nil)
	if !c.drv.Resident && c.cfg.CacheSize > 0 {
		rc := newReadCache(c.cfg.CacheSize, c.cfg.CacheTTL, &c.stats)
		c.cache.Store(rc)
		if w, ok := c.backend().(driver.Watcher); ok {
			c.watchStop = make(chan struct{})
			if err := w.Watch(c.watchStop, rc.forget); err != nil {
				// The cache still works; cache_ttl bounds its staleness.
				c.cfg.Log().Warn("foxstore: no notice of other processes' writes; cached values may be stale for up to cache_ttl",
					"cache_ttl", c.cfg.CacheTTL, "err", err)
			}
		}
	}
	if sw, ok := c.backend().(driver.Sweeper); ok {
		c.sweepStop, c.sweepDone = make(chan struct{}), make(chan struct{})
		go c.sweepLoop(sw, c.cfg.TTLCleanupInterval, c.sweepStop, c.sweepDone)
	}
	c.state.Store(stateRunning)
	c.live.Store(c.b.Load()) // after state: live set means running
	if c.cache.Load() == nil {
		c.direct.Store(c.live.Load())
	}
	return nil
}

// Stop rejects new operations, stops background work and flushes pending
// writes. The backend stays open until Cleanup; Start resumes.
func (s *store) Stop(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked(ctx)
}

func (c *core) stopLocked(ctx context.Context) error {
	if c.state.Load() != stateRunning {
		return nil
	}
	c.live.Store(nil)
	c.direct.Store(nil)
	c.state.Store(stateStopped)
	if c.watchStop != nil {
		close(c.watchStop)
		c.watchStop = nil
	}
	if c.sweepStop != nil {
		close(c.sweepStop)
		<-c.sweepDone
		c.sweepStop, c.sweepDone = nil, nil
	}
	if f, ok := c.backend().(driver.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return wrapErr("stop", "", CodeWriteFailed, err)
		}
	}
	return nil
}

// Cleanup stops the store if needed and releases files, locks and pools.
func (s *store) Cleanup(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.stopLocked(ctx)
	if cerr := c.closeBackend(ctx); err == nil {
		err = cerr
	}
	return err
}

func (c *core) closeBackend(ctx context.Context) error {
	c.live.Store(nil)
	c.direct.Store(nil)
	ref := c.b.Swap(nil)
	if c.state.Load() != stateNew {
		c.state.Store(stateCleaned)
	}
	if ref == nil {
		return nil
	}
	if err := ref.b.Close(ctx); err != nil {
		return wrapErr("close", "", CodeWriteFailed, err)
	}
	return nil
}

// Close is Stop followed by Cleanup. Calling it again returns nil.
func (s *store) Close() error {
	return s.Cleanup(context.Background())
}

// HealthCheck reports whether the store is running and its backend answers.
func (s *store) HealthCheck() HealthStatus {
	c := s.c
	h := HealthStatus{Timestamp: time.Now(), Details: map[string]interface{}{}}
	c.mu.Lock()
	h.Details["backend"] = c.cfg.Backend
	c.mu.Unlock()
	if s.name != "" {
		h.Details["namespace"] = s.name
	}
	if c.state.Load() != stateRunning {
		h.Message = "not running"
		return h
	}
	// Counters only: counting a resident store's live entries is a scan.
	h.Details["cache"] = c.counters()
	if hr, ok := c.backend().(driver.HealthReporter); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		details, err := hr.Health(ctx)
		for k, v := range details {
			h.Details[k] = v
		}
		if err != nil {
			h.Message = wrapErr("health", "", CodeReadFailed, err).Error()
			return h
		}
	}
	h.Healthy, h.Message = true, "ok"
	return h
}

// backend returns the open backend, or nil.
func (c *core) backend() driver.Backend {
	if ref := c.b.Load(); ref != nil {
		return ref.b
	}
	return nil
}

// sweepSlice bounds the work of one Sweep call, and sweepPause is the rest
// between calls, so that cleanup never holds a lock for long.
const (
	sweepSlice = 1000
	sweepPause = time.Millisecond
)

func (c *core) sweepLoop(sw driver.Sweeper, every time.Duration, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := c.sweep(ctx, sw); err != nil && ctx.Err() == nil {
				c.cfg.Log().Warn("foxstore: expiry cleanup failed", "backend", c.cfg.Backend, "err", err)
			}
		}
	}
}

// sweep removes every entry expired by now, in bounded slices.
func (c *core) sweep(ctx context.Context, sw driver.Sweeper) error {
	now := nowMs()
	for {
		removed, more, err := sw.Sweep(ctx, now, sweepSlice)
		c.stats.expirations.Add(int64(removed))
		if err != nil || !more {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sweepPause):
		}
	}
}
