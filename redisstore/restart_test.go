package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/servicetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisServer runs a redis-server of its own on addr, in the foreground,
// without persistence, and stops it when t ends.
type redisServer struct {
	t       *testing.T
	addr    string
	cmd     *exec.Cmd
	drained chan struct{} // closed when the server's output has ended
}

// start starts the server and returns once it reports that it accepts
// connections.
func (s *redisServer) start() {
	s.t.Helper()
	host, port, _ := strings.Cut(s.addr, ":")
	s.cmd = exec.Command("redis-server", "--port", port, "--bind", host, "--save", "", "--appendonly", "no",
		"--dir", s.t.TempDir(), "--loglevel", "notice")
	r, w, err := os.Pipe()
	require.NoError(s.t, err)
	s.cmd.Stdout = w
	err = s.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		s.t.Fatal(err)
	}
	lines := bufio.NewScanner(r)
	ready := false
	for !ready && lines.Scan() {
		ready = strings.Contains(lines.Text(), "Ready to accept connections")
	}
	s.drained = make(chan struct{})
	go func() {
		defer close(s.drained)
		defer r.Close()
		_, _ = io.Copy(io.Discard, r) // until the server exits
	}()
	require.True(s.t, ready, "redis-server on %s exited before it accepted connections", s.addr)
}

func (s *redisServer) stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	require.NoError(s.t, s.cmd.Process.Signal(os.Interrupt))
	err := s.cmd.Wait()
	<-s.drained
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		s.t.Errorf("redis-server: %v", err)
	}
	s.cmd = nil
}

// TestRedisRestart stops Redis under the stores and starts it again: while
// it is down every operation fails, and once it is back the same stores,
// on the same client, work again without being made anew.
func TestRedisRestart(t *testing.T) {
	servicetest.RedisURL(t) // skip (or fail under CI) like every Redis test
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not in PATH: ./scripts/services.sh start installs it")
		}
		t.Skip("redis-server is not in PATH: ./scripts/services.sh start installs it")
	}
	srv := &redisServer{t: t, addr: closedAddr(t)}
	srv.start()
	t.Cleanup(srv.stop)
	c := redis.NewClient(&redis.Options{Addr: srv.addr, ContextTimeoutEnabled: true})
	defer c.Close()
	s := newStores(t, Config{Client: c})

	works := func(round string) {
		t.Helper()
		for op, call := range operations(s) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := call(ctx)
			cancel()
			assert.NoError(t, err, "%s: %s", round, op)
		}
	}
	works("before the restart")
	srv.stop()
	failClosed(t, s, 300*time.Millisecond)
	srv.start()
	works(fmt.Sprintf("after the restart on %s", srv.addr))
}
