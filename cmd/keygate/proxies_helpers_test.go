package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The real front proxies the gateway tests put in front of keygate:
// Debian's nginx-light (or nginx) and caddy, which scripts/services.sh
// start installs when they are missing. The tests start them
// themselves, since their configuration depends on keygate's port: each
// on a free loopback port, with its configuration and state in the
// test's temporary directory, stopped when the test ends.

// The environment variables that name the binaries, instead of the ones
// found on PATH (or in /usr/sbin, where Debian puts nginx).
const (
	nginxEnv = "KEYGATE_TEST_NGINX"
	caddyEnv = "KEYGATE_TEST_CADDY"
)

// proxyStart bounds the wait for a front proxy to accept connections.
const proxyStart = 20 * time.Second

// proxyBinary returns the path of the front proxy name (env, else name
// on PATH, else /usr/sbin/name), or, when there is none, skips t (fails
// it under CI=true, where scripts/services.sh installed it).
func proxyBinary(t testing.TB, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	msg := env + " unset and no " + name + " on PATH: run ./scripts/services.sh start, which installs it with apt-get"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a
// moment ago, for a server that must be told its port.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// identityHeaders are the gateway's identity headers, which a front
// proxy copies from the forward-auth answer onto the request.
var identityHeaders = []string{
	"X-Keygate-Account", "X-Keygate-Key-Id", "X-Keygate-Mode", "X-Keygate-Auth-Method",
	"X-Keygate-Subject", "X-Keygate-Store", "X-Keygate-Scope",
}

// nginxConfig is the configuration the README recommends for nginx in
// front of keygate (at keygate, a base URL) and the upstream (a
// host:port), listening on 127.0.0.1:port, with its files under dir.
func nginxConfig(dir string, port int, keygate, upstream string) string {
	var set, pass strings.Builder
	for _, h := range identityHeaders {
		v := "$kg_" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(h, "X-Keygate-")), "-", "_")
		fmt.Fprintf(&set, "\t\t\tauth_request_set %s $upstream_http_%s;\n", v, strings.ReplaceAll(strings.ToLower(h), "-", "_"))
		fmt.Fprintf(&pass, "\t\t\tproxy_set_header %s %s;\n", h, v)
	}
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen 127.0.0.1:%[2]d;
		location = /auth/verify {
			internal;
			proxy_pass %[3]s;
			proxy_ssl_verify off;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-Method $request_method;
			proxy_set_header X-Original-URI $request_uri;
			proxy_set_header X-Forwarded-Host $http_host;
			proxy_set_header X-Forwarded-Proto $scheme;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
		}
		location / {
			auth_request /auth/verify;
%[5]s%[6]s			proxy_pass http://%[4]s;
		}
	}
}
`, dir, port, keygate, upstream, set.String(), pass.String())
}

// startNginx starts nginx on a free loopback port in front of keygate (a
// base URL such as http://127.0.0.1:8080) and upstream (host:port), and
// returns its base URL.
func startNginx(t *testing.T, port int, keygate, upstream string) string {
	t.Helper()
	bin := proxyBinary(t, nginxEnv, "nginx")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, []byte(nginxConfig(dir, port, keygate, upstream)), 0o600))
	startProxy(t, "nginx", exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")), port, filepath.Join(dir, "error.log"))
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// caddyConfig is the Caddyfile the README recommends for Caddy in front
// of keygate (a base URL) and the upstream (host:port), listening on
// 127.0.0.1:port, without its admin endpoint or automatic HTTPS. The
// client's own identity headers are removed first, whatever the version
// of Caddy does with a copy_headers header that the answer leaves out.
func caddyConfig(port int, keygate, upstream string) string {
	transport := ""
	if strings.HasPrefix(keygate, "https://") {
		// The test's self-signed certificate.
		transport = "\n\t\t\ttransport http {\n\t\t\t\ttls_insecure_skip_verify\n\t\t\t}"
	}
	var strip strings.Builder
	for _, h := range identityHeaders {
		fmt.Fprintf(&strip, "\t\trequest_header -%s\n", h)
	}
	// With underscores for dashes, which CGI, PHP and WSGI upstreams read
	// as the same headers (Caddy, unlike nginx, passes them on), in the
	// forms Go's header canonicalization gives them.
	for _, h := range []string{"X-Keygate_*", "X_keygate-*", "X_keygate_*"} {
		fmt.Fprintf(&strip, "\t\trequest_header -%s\n", h)
	}
	return fmt.Sprintf(`{
	admin off
	auto_https off
}
http://127.0.0.1:%d {
	route {
%s		forward_auth %s {
			uri /auth/verify
			copy_headers %s%s
		}
		reverse_proxy %s
	}
}
`, port, strip.String(), keygate, strings.Join(identityHeaders, " "), transport, upstream)
}

// startCaddy starts Caddy on port in front of keygate (a base URL) and
// upstream (host:port), and returns its base URL.
func startCaddy(t *testing.T, port int, keygate, upstream string) string {
	t.Helper()
	bin := proxyBinary(t, caddyEnv, "caddy")
	dir := t.TempDir()
	conf := filepath.Join(dir, "Caddyfile")
	require.NoError(t, os.WriteFile(conf, []byte(caddyConfig(port, keygate, upstream)), 0o600))
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	// Caddy keeps its data and configuration under these: the test's.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	startProxy(t, "caddy", cmd, port, "")
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// startProxy starts cmd, waits (at most proxyStart) until it accepts
// connections on 127.0.0.1:port, and stops it when the test ends. Its
// output, and logFile if any, are shown when it fails.
func startProxy(t *testing.T, name string, cmd *exec.Cmd, port int, logFile string) {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start(), "start %s", name)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not stop", name, cmd.Process.Pid)
		}
	}
	report := func() string {
		s := out.String()
		if logFile != "" {
			if b, err := os.ReadFile(logFile); err == nil {
				s += string(b)
			}
		}
		return s
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), proxyStart)
	defer cancel()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited before it accepted connections on %s (%v):\n%s", name, addr, err, report())
		case <-ctx.Done():
			stop()
			t.Fatalf("%s did not accept connections on %s within %s:\n%s", name, addr, proxyStart, report())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, report())
		}
	})
}

// skipRecorder is a testing.TB that records Skip and Fatal, and ends the
// goroutine that calls them as they would.
type skipRecorder struct {
	testing.TB
	skipped, failed string
}

func (r *skipRecorder) Helper() {}

func (r *skipRecorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *skipRecorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestProxyBinary checks how a test finds a front proxy: the variable's
// path, else the binary on PATH; without either it skips, saying how to
// install it, or under CI=true fails.
func TestProxyBinary(t *testing.T) {
	const env, name = "KEYGATE_TEST_NO_SUCH_PROXY", "keygate-no-such-proxy"
	bin := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	for _, tc := range []struct {
		name, env, path, ci string
		want                string
		skip, fatal         bool
	}{
		{name: "variable", env: "/opt/proxy", want: "/opt/proxy"},
		{name: "on PATH", path: filepath.Dir(bin), want: bin},
		{name: "missing", skip: true},
		{name: "missing under CI", ci: "true", fatal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(env, tc.env)
			t.Setenv("PATH", tc.path)
			t.Setenv("CI", tc.ci)
			r := &skipRecorder{TB: t}
			var got string
			done := make(chan struct{})
			go func() {
				defer close(done)
				got = proxyBinary(r, env, name)
			}()
			<-done
			assert.Equal(t, tc.want, got)
			msg := env + " unset and no " + name + " on PATH: run ./scripts/services.sh start"
			if tc.skip {
				assert.Contains(t, r.skipped, msg)
			} else {
				assert.Empty(t, r.skipped)
			}
			if tc.fatal {
				assert.Contains(t, r.failed, msg)
			} else {
				assert.Empty(t, r.failed)
			}
		})
	}
}
