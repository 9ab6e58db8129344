package redis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// redisServer is a redis-server process of the test's own, on loopback.
type redisServer struct {
	t    *testing.T
	addr string
	args []string
	cmd  *exec.Cmd
}

// startServer starts redis-server with args on a free loopback port, with
// no persistence, and stops it at the end of the test.
func startServer(t *testing.T, args ...string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &redisServer{t: t, addr: addr, args: args}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.t.TempDir()}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not start: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *redisServer) kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// TestPasswordNeverInMessages runs a server that requires a password and
// checks every error and health report for it: a wrong password, a server
// that dies, and one that comes back (the store recovers by itself).
func TestPasswordNeverInMessages(t *testing.T) {
	const password = "s3cret-Pa55word-4242"
	srv := startServer(t, "--requirepass", password)
	ctx := t.Context()
	noSecret := func(what string, x any) {
		t.Helper()
		if s := fmt.Sprintf("%+v", x); strings.Contains(s, password) || strings.Contains(s, "Pa55word") {
			t.Errorf("%s shows the password: %s", what, s)
		}
	}

	_, err := foxstore.Open(ctx, foxstore.Config{Backend: "redis",
		Redis: foxstore.RedisConfig{Addrs: []string{srv.addr}, Password: password + "-wrong"}})
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	noSecret("Open error", err)
	if foxstore.CodeOf(err) != foxstore.CodeReadFailed {
		t.Errorf("Open with a wrong password = %v, want ErrStorageReadFailed", err)
	}

	st, err := foxstore.Open(ctx, foxstore.Config{Backend: "redis",
		Redis: foxstore.RedisConfig{Addrs: []string{srv.addr}, Password: password}})
	if err != nil {
		t.Fatalf("Open with the password: %v", err)
	}
	defer st.(foxstore.Store).Close()
	if err := st.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	h := st.HealthCheck()
	if !h.Healthy {
		t.Errorf("HealthCheck: %s", h.Message)
	}
	noSecret("HealthCheck", h)

	srv.kill()
	opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = st.Get(opCtx, "k")
	cancel()
	if foxstore.CodeOf(err) != foxstore.CodeReadFailed {
		t.Errorf("Get with the server gone = %v, want ErrStorageReadFailed", err)
	}
	noSecret("Get error", err)
	err = st.Set(ctx, "k", "v", 0)
	if foxstore.CodeOf(err) != foxstore.CodeWriteFailed {
		t.Errorf("Set with the server gone = %v, want ErrStorageWriteFailed", err)
	}
	noSecret("Set error", err)
	h = st.HealthCheck()
	if h.Healthy {
		t.Error("HealthCheck healthy with the server gone")
	}
	noSecret("HealthCheck with the server gone", h)

	srv.start() // empty: nothing is persisted
	deadline := time.Now().Add(20 * time.Second)
	for {
		opCtx, cancel := context.WithTimeout(ctx, time.Second)
		err := st.Set(opCtx, "k", "again", 0)
		cancel()
		if err == nil {
			break
		}
		noSecret("Set error while the server restarts", err)
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, err := st.Get(ctx, "k"); err != nil || v != "again" {
		t.Errorf("Get after recovery = %v, %v", v, err)
	}
}
