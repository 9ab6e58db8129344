package torture

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is an in-test TCP proxy between a store and its server, both on
// loopback, that can cut every connection on demand: the server sees its
// clients vanish mid-request, the store sees its connections fail, and
// neither knows whether the request in flight was carried out.
type Proxy struct {
	target string
	ln     net.Listener
	cuts   atomic.Int64
	wg     sync.WaitGroup
	lose   atomic.Pointer[func()] // set by LoseNextReply

	mu     sync.Mutex
	conns  map[*net.TCPConn]struct{} // both ends of every open pair; guarded by mu
	closed bool                      // guarded by mu
}

// NewProxy listens on a free loopback port and forwards every connection to
// target, which must be a loopback address. It stops when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatalf("proxy target %q: %v", target, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("proxy target %q is not a loopback address: the proxy only cuts connections on this machine", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*net.TCPConn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, host:port, to give the store instead of the
// server's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cuts is the number of connections Cut has severed.
func (p *Proxy) Cuts() int { return int(p.cuts.Load()) }

// Cut severs every open connection, at both ends. Half of them are reset
// (RST, as when a host vanishes), the others closed (FIN, as when a server
// restarts). New connections are accepted again at once.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[*net.TCPConn]struct{}{}
	p.mu.Unlock()
	reset := false
	for c := range conns {
		if reset {
			c.SetLinger(0)
		}
		reset = !reset
		c.Close()
	}
	p.cuts.Add(int64(len(conns) / 2))
}

// LoseNextReply arms the proxy to swallow the next bytes any server sends
// back: it drops them, calls then (which may use the server through another
// path), and resets that connection at both ends. The request was carried
// out but its client never hears so: the lost acknowledgment after which a
// client must not assume the request failed, nor send it again blindly.
func (p *Proxy) LoseNextReply(then func()) {
	p.lose.Store(&then)
}

// Close stops accepting, cuts every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(c.(*net.TCPConn)) })
	}
}

func (p *Proxy) forward(client *net.TCPConn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	server := s.(*net.TCPConn)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := io.Copy(server, client); err == nil {
			server.CloseWrite() // the client finished: pass the end on
		} else {
			server.Close()
		}
	})
	wg.Go(func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				if then := p.lose.Swap(nil); then != nil {
					(*then)()
					client.SetLinger(0)
					server.SetLinger(0)
					client.Close()
					server.Close()
					p.cuts.Add(1)
					return
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					server.Close()
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					client.CloseWrite()
				} else {
					client.Close()
				}
				return
			}
		}
	})
	wg.Wait()
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
