package foxstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/internal/words"
	"github.com/foxstore/foxstore/pattern"
)

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 1024

// checkKey enforces CONTRACT §2.
func checkKey(k string) error {
	if k == "" {
		return errEmptyKey
	}
	if len(k) > MaxKeyLen {
		return errLongKey
	}
	if plainASCII(k) {
		return nil
	}
	if !utf8.ValidString(k) {
		return errKeyUTF8
	}
	if strings.IndexByte(k, 0) >= 0 {
		return errKeyNUL
	}
	return nil
}

// plainASCII reports whether k is all ASCII without NUL: the common key,
// checked eight bytes at a time (a byte at a time cost a third of a Get).
func plainASCII(k string) bool {
	if words.Short(k) {
		return asciiWords(k)
	}
	return plainASCIIAny(k)
}

// asciiWords is plainASCII for a key of 8 to 16 bytes, the commonest: two
// words (which overlap below 16 bytes), small enough to be inlined. k must
// have 8 to 16 bytes.
func asciiWords(k string) bool {
	x, y := words.Pair(k)
	return (badBytes(x)|badBytes(y))&asciiHigh == 0
}

const asciiHigh = 0x8080808080808080

// badBytes sets the high bit of a byte of w that has its own high bit set,
// or that is zero. When no byte has its high bit set, w-ones sets the high
// bit of the lowest zero byte (and perhaps of bytes above it, which only
// matters when there is a zero byte anyway) and of no other; when one does,
// w has it. Bits other than the high ones are garbage.
func badBytes(w uint64) uint64 {
	const ones = 0x0101010101010101
	return w | (w - ones)
}

// plainASCIIAny is plainASCII for a key of any length.
func plainASCIIAny(k string) bool {
	// A read-only view of k's bytes, so that each word is one load.
	b := unsafe.Slice(unsafe.StringData(k), len(k))
	if len(b) < 8 {
		for _, c := range b {
			if c == 0 || c >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	for len(b) > 8 {
		if badBytes(binary.LittleEndian.Uint64(b))&asciiHigh != 0 {
			return false
		}
		b = b[8:]
	}
	// The last eight bytes, which may overlap bytes already checked.
	return badBytes(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(k[len(k)-8:]), 8)))&asciiHigh == 0
}

// stored returns the key a backend stores for the caller's key.
func (s *store) stored(key string) string {
	if s.ns == "" {
		return key
	}
	return s.ns + key
}

var (
	errEmptyKey = errors.New("empty key")
	errLongKey  = fmt.Errorf("key longer than %d bytes", MaxKeyLen)
	errKeyUTF8  = errors.New("key is not valid UTF-8")
	errKeyNUL   = errors.New("key contains a NUL byte")
)

func invalid(op, key string, cause error) error {
	return &Error{Op: op, Key: key, Code: CodeInvalid, Err: cause}
}

func notFound(op, key string) error {
	return &Error{Op: op, Key: key, Code: CodeNotFound}
}

// wrapErr gives err a code: a coded *Error keeps its code (and gets op and
// key if it had none); anything else, a context error included, gets code.
func wrapErr(op, key string, code int, err error) error {
	var fe *Error
	if errors.As(err, &fe) && fe.Code != 0 {
		if fe.Op == "" {
			cp := *fe
			cp.Op, cp.Key = op, key
			return &cp
		}
		return err
	}
	return &Error{Op: op, Key: key, Code: code, Err: err}
}

// begin checks everything that can fail before a backend is touched, and
// returns the backend to use.
func (s *store) begin(ctx context.Context, op, key string, code int) (driver.Backend, error) {
	ref, err := s.beginRef(ctx, op, key, code)
	if err != nil {
		return nil, err
	}
	return ref.b, nil
}

// beginRef is begin for applyOne, which wants the backend's reference.
func (s *store) beginRef(ctx context.Context, op, key string, code int) (*backendRef, error) {
	if s.nsErr != nil {
		return nil, invalid(op, key, s.nsErr)
	}
	b := s.c.b.Load()
	if s.c.state.Load() != stateRunning || b == nil {
		return nil, &Error{Op: op, Key: key, Code: CodeClosed}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: op, Key: key, Code: code, Err: err}
	}
	return b, nil
}

// fail wraps an error that a backend returned. If the store was stopped
// meanwhile, the error says so.
func (s *store) fail(op, key string, code int, err error) error {
	if s.c.state.Load() != stateRunning && CodeOf(err) == 0 {
		return &Error{Op: op, Key: key, Code: CodeClosed, Err: err}
	}
	return wrapErr(op, key, code, err)
}

func nowMs() int64 { return wallNanos() / int64(time.Millisecond) }

// deadline turns a TTL into an absolute deadline in Unix milliseconds,
// rounding up so a key lives at least ttl; under 1ms counts as 1ms. now is
// the wall clock in Unix nanoseconds.
func deadline(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	const maxTTL = time.Duration(1<<62 - 1)
	ttl = min(max(ttl, time.Millisecond), maxTTL)
	ms := now / int64(time.Millisecond)
	sub := now - ms*int64(time.Millisecond)
	return ms + (int64(ttl)+sub+int64(time.Millisecond)-1)/int64(time.Millisecond)
}

// encode validates and encodes a value for key.
func (s *store) encode(op, key string, value any) (Value, error) {
	v, err := driver.EncodeValueMax(value, s.c.maxValueSize())
	if err != nil {
		return Value{}, invalid(op, key, err)
	}
	return v, nil
}

func (c *core) maxValueSize() int64 { return c.cfg.MaxValueSize }

func decode(op, key string, e driver.Entry) (any, error) {
	x, err := e.Value.Decode()
	if err != nil {
		return nil, &Error{Op: op, Key: key, Code: CodeCorrupted, Err: err}
	}
	return x, nil
}

// Get returns the live value under key, or ErrStorageNotFound.
//
// The commonest read (a key of 8 to 16 bytes in the base store, with no
// read cache, found, a plain value without a deadline) goes straight to the
// backend and back, with every check inlined. Other keys and views take
// getAnyKey, which is nearly as direct; a read cache, a cancelled ctx or a
// stopped store, getOther; a backend's answer that is not the commonest,
// gotOther. These check everything again in their own order.
// Two calls on the way (ctx.Err and the backend's Get) mean few registers
// to spill: a Get's time grows with its instructions (BENCHMARKS.md,
// sessions 6 and 7).
func (s *store) Get(ctx context.Context, key string) (interface{}, error) {
	// ctx first: its call makes the compiler save registers, and at this
	// point there are fewest to save. A base store (ns "") has no nsErr.
	if ctx.Err() != nil {
		return s.getOther(ctx, key)
	}
	ref := s.c.direct.Load()
	if ref == nil {
		return s.getOther(ctx, key)
	}
	if s.ns != "" || !quickKey(key) {
		return s.getAnyKey(ctx, key)
	}
	// answer, inlined.
	e, ok, err := ref.b.Get(ctx, key)
	if x, done := plainHit(e, ok, err); done {
		s.c.stats.hits.Add(1)
		return x, nil
	}
	return s.gotOther(key, e, ok, err)
}

// plainHit returns the value of a backend's answer to a Get, and true,
// when the answer is the commonest, which needs no settling: found, with
// no error and no deadline, and a plain value.
func plainHit(e driver.Entry, ok bool, err error) (any, bool) {
	if ok && err == nil && e.Expires == 0 {
		return e.Value.Plain()
	}
	return nil, false
}

// getAnyKey is Get for any other key, in any view, when the store runs
// without a read cache: a plain key (plainKey) goes straight to the
// backend as well, under its view's prefix. (It loads core.direct again,
// rather than take it from Get, which spares Get an instruction or two;
// the store may have stopped meanwhile.)
//
//go:noinline
func (s *store) getAnyKey(ctx context.Context, key string) (any, error) {
	ref := s.c.direct.Load()
	if ref == nil || s.nsErr != nil || !plainKey(key) {
		return s.getOther(ctx, key)
	}
	e, ok, err := ref.b.Get(ctx, s.stored(key))
	return s.answer(key, e, ok, err)
}

// answer is Get's answer to key from the backend's (e, ok, err), counted.
// Get has a copy of it inline, where a call would cost instructions.
func (s *store) answer(key string, e driver.Entry, ok bool, err error) (any, error) {
	if x, done := plainHit(e, ok, err); done {
		s.c.stats.hits.Add(1)
		return x, nil
	}
	return s.gotOther(key, e, ok, err)
}

// getOther is Get for every read its quickest path does not take.
//
//go:noinline
func (s *store) getOther(ctx context.Context, key string) (any, error) {
	e, err := s.getEntry(ctx, "get", key)
	return valueOf("get", key, e, err)
}

// gotOther finishes a Get whose backend's answer was not the commonest.
//
//go:noinline
func (s *store) gotOther(key string, e driver.Entry, ok bool, err error) (any, error) {
	e, err = s.settle("get", key, e, ok, err, true)
	return valueOf("get", key, e, err)
}

// valueOf returns the Go value of the entry a read found, or its error.
func valueOf(op, key string, e driver.Entry, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if x, ok := e.Value.Plain(); ok {
		return x, nil
	}
	return decode(op, key, e)
}

// plainKey reports whether key passes checkKey for the quickest of reasons:
// a length in range and plain ASCII without NUL. Where every instruction
// counts, callers test quickKey first, which the compiler inlines.
func plainKey(key string) bool {
	return len(key) != 0 && len(key) <= MaxKeyLen && plainASCII(key)
}

// quickKey is plainKey for the commonest key, of 8 to 16 bytes; false says
// only that the key needs plainKey.
func quickKey(key string) bool {
	return words.Short(key) && asciiWords(key)
}

// ready returns the backend when an operation on a plain key (plainKey)
// with a live ctx can go to it at once: the store runs and the namespace (if
// any) is valid. Otherwise it returns nil, and checkKey and begin tell what
// is in the way. The callers check ctx themselves, which lets the compiler
// inline ready.
func (s *store) ready() *backendRef {
	if ref := s.c.live.Load(); ref != nil && s.nsErr == nil {
		return ref
	}
	return nil
}

// getEntry fetches the live entry under key, through the read cache if any,
// and counts the hit or miss.
func (s *store) getEntry(ctx context.Context, op, key string) (driver.Entry, error) {
	if ref := s.ready(); ref != nil && (quickKey(key) || plainKey(key)) && ctx.Err() == nil {
		return s.read(ctx, ref.b, s.c.cache.Load(), op, key)
	}
	if err := checkKey(key); err != nil {
		return driver.Entry{}, invalid(op, key, err)
	}
	b, err := s.begin(ctx, op, key, CodeReadFailed)
	if err != nil {
		return driver.Entry{}, err
	}
	return s.read(ctx, b, s.c.cache.Load(), op, key)
}

// read reads key from b, through the read cache rc if there is one, and
// settles the answer.
func (s *store) read(ctx context.Context, b driver.Backend, rc *readCache, op, key string) (driver.Entry, error) {
	var (
		e   driver.Entry
		ok  bool
		err error
	)
	if rc != nil {
		e, ok, err = rc.get(ctx, b, s.stored(key))
	} else {
		e, ok, err = b.Get(ctx, s.stored(key))
	}
	return s.settle(op, key, e, ok, err, rc == nil)
}

// settle turns a backend's answer to a read of key into the live entry or
// an error. count says whether to count the hit or miss: the read cache
// counts its own.
func (s *store) settle(op, key string, e driver.Entry, ok bool, err error, count bool) (driver.Entry, error) {
	if err != nil {
		return driver.Entry{}, s.fail(op, key, CodeReadFailed, err)
	}
	if ok && e.Expires != 0 && !e.Live(nowMs()) {
		ok = false
	}
	if count {
		if ok {
			s.c.stats.hits.Add(1)
		} else {
			s.c.stats.misses.Add(1)
		}
	}
	if !ok {
		return driver.Entry{}, notFound(op, key)
	}
	return e, nil
}

// getValue is GetAs's way in.
func (s *store) getValue(ctx context.Context, key string) (Value, error) {
	e, err := s.getEntry(ctx, "get", key)
	return e.Value, err
}

// Exists reports whether key holds a live value. Any error reads as false.
func (s *store) Exists(ctx context.Context, key string) bool {
	_, err := s.getEntry(ctx, "exists", key)
	return err == nil
}

// Set stores value under key; ttl > 0 makes it expire ttl from now.
func (s *store) Set(ctx context.Context, key string, value interface{}, ttl time.Duration) error {
	const op = "set"
	if !quickKey(key) && !plainKey(key) {
		if err := checkKey(key); err != nil {
			return invalid(op, key, err)
		}
	}
	if ttl < 0 {
		return invalid(op, key, errors.New("negative ttl"))
	}
	v, err := s.encode(op, key, value)
	if err != nil {
		return err
	}
	// After the encoding, which may take long (or, through a MarshalJSON,
	// cancel ctx or stop the store): ready spares the common Set the work
	// of begin. (applyOne keeps a read cache coherent.)
	ref := s.ready()
	if ref == nil || ctx.Err() != nil {
		if ref, err = s.beginRef(ctx, op, key, CodeWriteFailed); err != nil {
			return err
		}
	}
	var exp int64
	if ttl > 0 {
		exp = deadline(wallNanos(), ttl)
	}
	return s.applyOne(ctx, ref, op, key, driver.Write{Key: s.stored(key), Entry: driver.Entry{Value: v, Expires: exp}})
}

// apply hands a write set to the backend, keeping the read cache coherent.
func (s *store) apply(ctx context.Context, b driver.Backend, op, key string, ws []driver.Write) error {
	rc := s.c.cache.Load()
	if rc != nil {
		defer rc.invalidate(ws)
	}
	if err := b.Apply(ctx, ws); err != nil {
		return s.fail(op, key, CodeWriteFailed, err)
	}
	return nil
}

// applyOne is apply of the single write w, without a slice when the backend
// is a driver.OneWriter. A backend behind the read cache talks to a server,
// where the slice costs nothing worth saving, so it takes apply and its
// cache invalidation.
func (s *store) applyOne(ctx context.Context, ref *backendRef, op, key string, w driver.Write) error {
	if ref.one == nil || s.c.cache.Load() != nil {
		return s.apply(ctx, ref.b, op, key, []driver.Write{w})
	}
	if err := ref.one.ApplyOne(ctx, w); err != nil {
		return s.fail(op, key, CodeWriteFailed, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (s *store) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := checkKey(key); err != nil {
		return invalid(op, key, err)
	}
	ref, err := s.beginRef(ctx, op, key, CodeWriteFailed)
	if err != nil {
		return err
	}
	return s.applyOne(ctx, ref, op, key, driver.Write{Key: s.stored(key), Delete: true})
}

// GetBatch returns the live values of keys; missing keys are left out.
func (s *store) GetBatch(ctx context.Context, keys []string) (map[string]interface{}, error) {
	const op = "get batch"
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, invalid(op, k, err)
		}
	}
	b, err := s.begin(ctx, op, "", CodeReadFailed)
	if err != nil {
		return nil, err
	}
	out := make(map[string]interface{}, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	uniq := make([]string, 0, len(keys))
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			uniq = append(uniq, s.ns+k)
		}
	}
	now := nowMs()
	var derr error
	found := func(sk string, e driver.Entry) {
		if !e.Live(now) || derr != nil {
			return
		}
		k := sk[len(s.ns):]
		x, err := decode(op, k, e)
		if err != nil {
			derr = err
			return
		}
		out[k] = x
	}
	if rc := s.c.cache.Load(); rc != nil {
		err = rc.getMany(ctx, b, uniq, found)
	} else {
		err = getMany(ctx, b, uniq, found)
		if err == nil {
			s.c.stats.hits.Add(int64(len(out)))
			s.c.stats.misses.Add(int64(len(uniq) - len(out)))
		}
	}
	if err != nil {
		return nil, s.fail(op, "", CodeReadFailed, err)
	}
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// getMany uses the backend's BatchGetter, or Get key by key.
func getMany(ctx context.Context, b driver.Backend, keys []string, fn func(string, driver.Entry)) error {
	if bg, ok := b.(driver.BatchGetter); ok {
		return bg.GetMany(ctx, keys, fn)
	}
	for _, k := range keys {
		e, ok, err := b.Get(ctx, k)
		if err != nil {
			return err
		}
		if ok {
			fn(k, e)
		}
	}
	return nil
}

// SetBatch stores every pair of data without TTL, atomically.
func (s *store) SetBatch(ctx context.Context, data map[string]interface{}) error {
	const op = "set batch"
	ws := make([]driver.Write, 0, len(data))
	for k, x := range data {
		if err := checkKey(k); err != nil {
			return invalid(op, k, err)
		}
		v, err := s.encode(op, k, x)
		if err != nil {
			return err
		}
		ws = append(ws, driver.Write{Key: s.ns + k, Entry: driver.Entry{Value: v}})
	}
	b, err := s.begin(ctx, op, "", CodeWriteFailed)
	if err != nil || len(ws) == 0 {
		return err
	}
	sortWrites(ws)
	return s.apply(ctx, b, op, "", ws)
}

// DeleteBatch removes every key of keys, atomically; missing keys are ignored.
func (s *store) DeleteBatch(ctx context.Context, keys []string) error {
	const op = "delete batch"
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return invalid(op, k, err)
		}
	}
	b, err := s.begin(ctx, op, "", CodeWriteFailed)
	if err != nil || len(keys) == 0 {
		return err
	}
	sks := make([]string, len(keys))
	for i, k := range keys {
		sks[i] = s.ns + k
	}
	slices.Sort(sks)
	sks = slices.Compact(sks)
	ws := make([]driver.Write, len(sks))
	for i, k := range sks {
		ws[i] = driver.Write{Key: k, Delete: true}
	}
	return s.apply(ctx, b, op, "", ws)
}

// scan calls fn with the user key and entry of every live key matching
// pattern, in ascending key order. It reads only the range of the pattern's
// literal prefix.
func (s *store) scan(ctx context.Context, op, pat string, fn func(key string, e driver.Entry)) error {
	if pat == "" {
		return invalid(op, "", errors.New("empty pattern"))
	}
	p, err := pattern.Compile(pat)
	if err != nil {
		return invalid(op, "", err)
	}
	b, err := s.begin(ctx, op, "", CodeReadFailed)
	if err != nil {
		return err
	}
	now := nowMs()
	if lit, ok := p.Literal(); ok {
		if checkKey(lit) != nil {
			return nil
		}
		e, found, err := b.Get(ctx, s.ns+lit)
		if err != nil {
			return s.fail(op, "", CodeReadFailed, err)
		}
		if found && e.Live(now) {
			fn(lit, e)
		}
		return nil
	}
	start := s.ns + p.Prefix()
	end := prefixEnd(start)
	if p.Prefix() == "" {
		// Nested namespaces live under this one's prefix + 0xFF, after every
		// valid UTF-8 key: stop there.
		end = s.ns + "\xff"
	}
	var prev string
	sorted := true
	err = b.Scan(ctx, start, end, func(sk string, e driver.Entry) bool {
		if !strings.HasPrefix(sk, start) || (end != "" && sk >= end) {
			return true
		}
		if sk < prev {
			sorted = false
		}
		prev = sk
		k := sk[len(s.ns):]
		if e.Live(now) && p.Match(k) {
			fn(k, e)
		}
		return true
	})
	if err != nil {
		return s.fail(op, "", CodeReadFailed, err)
	}
	if !sorted {
		return s.fail(op, "", CodeReadFailed, errors.New("backend scan is not in ascending order"))
	}
	return nil
}

// prefixEnd returns the least string greater than every string with prefix
// p, or "" if there is none.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// Find returns every live key matching pattern with its value.
func (s *store) Find(ctx context.Context, pat string) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	var derr error
	err := s.scan(ctx, "find", pat, func(k string, e driver.Entry) {
		if derr != nil {
			return
		}
		x, err := decode("find", k, e)
		if err != nil {
			derr = err
			return
		}
		out[k] = x
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count returns the number of live keys matching pattern.
func (s *store) Count(ctx context.Context, pat string) (int, error) {
	n := 0
	err := s.scan(ctx, "count", pat, func(string, driver.Entry) { n++ })
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Keys returns the live keys matching pattern, sorted.
func (s *store) Keys(ctx context.Context, pat string) ([]string, error) {
	keys := []string{}
	err := s.scan(ctx, "keys", pat, func(k string, _ driver.Entry) { keys = append(keys, k) })
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// TTL returns the time key has left, 0 if it never expires.
func (s *store) TTL(ctx context.Context, key string) (time.Duration, error) {
	const op = "ttl"
	if err := checkKey(key); err != nil {
		return 0, invalid(op, key, err)
	}
	b, err := s.begin(ctx, op, key, CodeReadFailed)
	if err != nil {
		return 0, err
	}
	e, ok, err := b.Get(ctx, s.stored(key))
	if err != nil {
		return 0, s.fail(op, key, CodeReadFailed, err)
	}
	now := wallNanos()
	if !ok || !e.Live(now/int64(time.Millisecond)) {
		return 0, notFound(op, key)
	}
	if e.Expires == 0 {
		return 0, nil
	}
	// Whole milliseconds (the resolution), never 0, which would mean "no expiry".
	left := time.UnixMilli(e.Expires).Sub(time.Unix(0, now)) // Sub saturates; a product could overflow
	return max(left.Truncate(time.Millisecond), time.Millisecond), nil
}

// Expire gives an existing key a new TTL (0 removes it) without changing its value.
func (s *store) Expire(ctx context.Context, key string, ttl time.Duration) error {
	const op = "expire"
	if err := checkKey(key); err != nil {
		return invalid(op, key, err)
	}
	if ttl < 0 {
		return invalid(op, key, errors.New("negative ttl"))
	}
	if _, err := s.begin(ctx, op, key, CodeWriteFailed); err != nil {
		return err
	}
	sk := s.stored(key)
	return retryConflicts(ctx, func() error {
		b, err := s.begin(ctx, op, key, CodeWriteFailed)
		if err != nil {
			return err
		}
		btx, err := b.Begin(ctx)
		if err != nil {
			return s.fail(op, key, CodeWriteFailed, err)
		}
		e, ok, err := btx.Get(ctx, sk)
		if err != nil {
			btx.Rollback()
			return s.fail(op, key, CodeReadFailed, err)
		}
		now := wallNanos()
		if !ok || !e.Live(now/int64(time.Millisecond)) {
			btx.Rollback()
			return notFound(op, key)
		}
		e.Expires = deadline(now, ttl)
		ws := []driver.Write{{Key: sk, Entry: e}}
		if rc := s.c.cache.Load(); rc != nil {
			defer rc.invalidate(ws)
		}
		if err := btx.Commit(ctx, ws); err != nil {
			return s.fail(op, key, CodeWriteFailed, err)
		}
		return nil
	})
}

// ClearCache drops cached copies and removes expired entries; it never
// deletes live data and does not reset the statistics.
func (s *store) ClearCache(ctx context.Context) error {
	const op = "clear cache"
	b, err := s.begin(ctx, op, "", CodeWriteFailed)
	if err != nil {
		return err
	}
	if rc := s.c.cache.Load(); rc != nil {
		rc.purge()
	}
	if sw, ok := b.(driver.Sweeper); ok {
		if err := s.c.sweep(ctx, sw); err != nil {
			return s.fail(op, "", CodeWriteFailed, err)
		}
	}
	return nil
}

// GetCacheStats returns the store-wide statistics.
func (s *store) GetCacheStats(ctx context.Context) (*CacheStats, error) {
	const op = "cache stats"
	b, err := s.begin(ctx, op, "", CodeReadFailed)
	if err != nil {
		return nil, err
	}
	st := s.c.counters()
	if s.c.drv.Resident {
		// All data lives in memory: Entries counts live keys store-wide.
		now := nowMs()
		err := b.Scan(ctx, "", "", func(_ string, e driver.Entry) bool {
			if e.Live(now) {
				st.Entries++
			}
			return true
		})
		if err != nil {
			return nil, s.fail(op, "", CodeReadFailed, err)
		}
	}
	return st, nil
}

// counters returns the statistics that need no scan: everything but the
// Entries of a resident store.
func (c *core) counters() *CacheStats {
	st := &CacheStats{
		Hits:        c.stats.hits.Load(),
		Misses:      c.stats.misses.Load(),
		Evictions:   c.stats.evictions.Load(),
		Expirations: c.stats.expirations.Load(),
	}
	if n := st.Hits + st.Misses; n > 0 {
		st.HitRate = float64(st.Hits) / float64(n)
	}
	if rc := c.cache.Load(); rc != nil {
		st.Entries, st.Capacity = int64(rc.len()), int64(rc.size)
	}
	return st
}
