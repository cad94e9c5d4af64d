package sharedtest

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// RedisServer is a redis-server started by a test on its own port and directory, so that the test
// controls its persistence settings and can kill it.
type RedisServer struct {
	tb   testing.TB
	cmd  *exec.Cmd
	Port int
	Dir  string
	logs *bytes.Buffer
}

// StartRedis starts redis-server on port (0: a free one) with its files in dir and the extra arguments
// (e.g. "--appendonly", "yes", "--appendfsync", "always"). It skips when redis-server is not
// installed, except under CI, where it fails. The server is killed when the test ends.
func StartRedis(tb testing.TB, dir string, port int, args ...string) *RedisServer {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("redis-server is not installed; CI requires it")
		}
		tb.Skip("redis-server is not installed; skipping")
	}
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		if err := ln.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	all := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no"}, args...)
	cmd := exec.Command(bin, all...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	r := &RedisServer{tb: tb, cmd: cmd, Port: port, Dir: dir, logs: logs}
	tb.Cleanup(r.Kill)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.Addr()); err == nil {
			if err := c.Close(); err != nil {
				tb.Error(err)
			}
			return r
		}
	}
	tb.Fatalf("redis-server did not start:\n%s", logs)
	return nil
}

// Addr is host:port.
func (r *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL is the server's redis:// URL.
func (r *RedisServer) URL() string { return "redis://" + r.Addr() + "/0" }

// Kill is kill -9 (idempotent).
func (r *RedisServer) Kill() {
	if r.cmd.ProcessState != nil {
		return
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.tb.Errorf("killing redis-server: %v", err)
	}
	// The server's end is the kill, or a crash the test finds by itself: only a failure to wait is news.
	var exit *exec.ExitError
	if err := r.cmd.Wait(); err != nil && !errors.As(err, &exit) {
		r.tb.Errorf("waiting for redis-server: %v", err)
	}
}
