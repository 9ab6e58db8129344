package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// proxy is a loopback TCP proxy to a Redis server that a test can cut.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mode atomic.Int32 // proxyUp, proxyDown or proxyPartitioned

	mu    sync.Mutex
	conns map[net.Conn]struct{} // both ends of every open pair; guarded by mu
}

const (
	proxyUp          = iota
	proxyDown        // connections are reset and new ones closed at once
	proxyPartitioned // connections stay open but no byte gets through
)

func startProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) set(mode int32) {
	p.mode.Store(mode)
	if mode == proxyDown {
		p.closeAll()
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.mode.Load() == proxyDown {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(u, c)
		go p.pipe(c, u)
	}
}

// pipe copies src to dst, dropping what it reads while partitioned.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && p.mode.Load() == proxyUp {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	delete(p.conns, src)
	delete(p.conns, dst)
	p.mu.Unlock()
	src.Close()
	dst.Close()
}

// waitUp retries a write until the store works again. The loop is bounded
// generously; how long it takes is not what the test checks.
func waitUp(t *testing.T, st foxstore.Store) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := st.Set(ctx, "probe", 1, 0)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultConnectionCut runs writes, batches and reads through a proxy that
// is cut and restored twice, once by resetting connections and once by a
// partition that lets no byte through. It checks the codes of the errors,
// that every acknowledged write is there after recovery, that batches are
// all or nothing, and that the store works again without being reopened.
func TestFaultConnectionCut(t *testing.T) {
	addrs := singleAddrs(t)
	px := startProxy(t, addrs[0])
	ns := randomName("fx-")
	st := openStore(t, []string{px.addr()}, ns)
	direct := openStore(t, addrs, ns) // the same keys, not through the proxy

	var (
		mu      sync.Mutex
		acked   = map[string]int{} // key -> value of the last acknowledged Set
		nAcked  int                // acknowledged Sets
		batches []int              // batch numbers, acknowledged or not
		ackedB  = map[int]bool{}
		badErrs []string
	)
	checkErr := func(err error, code int, op string) {
		if err == nil {
			return
		}
		if foxstore.CodeOf(err) != code {
			mu.Lock()
			badErrs = append(badErrs, fmt.Sprintf("%s: %v (want code %d)", op, err, code))
			mu.Unlock()
		}
	}

	const batchSize = 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopWorkers := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	t.Cleanup(stopWorkers) // before the stores close, if the test fails early
	for w := range 3 {
		wg.Go(func() { // single writes
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d:%d", w, i%50)
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				err := st.Set(ctx, k, i, 0)
				cancel()
				checkErr(err, foxstore.CodeWriteFailed, "Set")
				if err == nil {
					mu.Lock()
					acked[k] = i
					nAcked++
					mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() { // batches of 20 keys, a few hundred per second
		for b := 0; ; b++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			data := map[string]any{}
			for i := range batchSize {
				data[fmt.Sprintf("b%d:%d", b, i)] = i
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := st.SetBatch(ctx, data)
			cancel()
			checkErr(err, foxstore.CodeWriteFailed, "SetBatch")
			mu.Lock()
			batches = append(batches, b)
			ackedB[b] = err == nil
			mu.Unlock()
		}
	})
	wg.Go(func() { // reads
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := st.Get(ctx, "w0:1")
			cancel()
			if !errors.Is(err, foxstore.ErrStorageNotFound) {
				checkErr(err, foxstore.CodeReadFailed, "Get")
			}
		}
	})

	acks := func() int {
		mu.Lock()
		defer mu.Unlock()
		return nAcked
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("writes before the cut", func() bool { return acks() >= 100 })

	for _, mode := range []int32{proxyDown, proxyPartitioned} {
		px.set(mode)
		// While cut, operations fail with their code within their ctx.
		cut := func(op string, code int, fn func(ctx context.Context) error) {
			t.Helper()
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			err := fn(ctx)
			if foxstore.CodeOf(err) != code {
				t.Errorf("mode %d: %s = %v, want code %d", mode, op, err, code)
			}
			if mode == proxyPartitioned && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("partitioned: %s = %v, want an error matching context.DeadlineExceeded", op, err)
			}
		}
		cut("Get", foxstore.CodeReadFailed, func(ctx context.Context) error {
			_, err := st.Get(ctx, "w0:1")
			return err
		})
		cut("Set", foxstore.CodeWriteFailed, func(ctx context.Context) error { return st.Set(ctx, "cut", 1, 0) })
		cut("SetBatch", foxstore.CodeWriteFailed, func(ctx context.Context) error {
			return st.SetBatch(ctx, map[string]any{"cut1": 1, "cut2": 2})
		})
		cut("Keys", foxstore.CodeReadFailed, func(ctx context.Context) error {
			_, err := st.Keys(ctx, "w*")
			return err
		})
		cut("tx.Get", foxstore.CodeReadFailed, func(ctx context.Context) error {
			tx, err := st.BeginTransaction(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			_, err = tx.Get("w0:1")
			return err
		})
		if mode == proxyDown { // partitioned, it would wait for its own 5s timeout
			if h := st.HealthCheck(); h.Healthy {
				t.Errorf("mode %d: HealthCheck says healthy", mode)
			}
		}
		time.Sleep(200 * time.Millisecond) // let the workers hit the cut too

		px.set(proxyUp)
		waitUp(t, st)
		before := acks()
		waitFor("writes after recovery", func() bool { return acks() > before+50 })
	}
	stopWorkers()

	for _, e := range badErrs {
		t.Error(e)
	}
	// Nothing acknowledged is lost: every key holds its last acknowledged
	// value or a later one (a write may apply though its reply was lost).
	ctx := t.Context()
	for k, v := range acked {
		got, err := direct.Get(ctx, k)
		if err != nil {
			t.Errorf("acknowledged key %s: %v", k, err)
			continue
		}
		if got.(int) < v {
			t.Errorf("key %s = %v, but %d was acknowledged", k, got, v)
		}
	}
	// Batches are all or nothing, and acknowledged ones are all there.
	for _, b := range batches {
		n, err := direct.Count(ctx, fmt.Sprintf("b%d:*", b))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 && n != batchSize || ackedB[b] && n != batchSize {
			t.Errorf("batch %d (acknowledged %v): %d of %d keys", b, ackedB[b], n, batchSize)
		}
	}
	if h := st.HealthCheck(); !h.Healthy {
		t.Errorf("HealthCheck after recovery: %s", h.Message)
	}
	t.Logf("%d writes acknowledged, %d batches (%d acknowledged)", nAcked, len(batches), countTrue(ackedB))
}

func countTrue(m map[int]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
