package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/httpsig"
)

var (
	secretLine      = regexp.MustCompile(`^test secret key: (bk_test_sk_[0-9A-Za-z]{65})$`)
	publishableLine = regexp.MustCompile(`^test publishable key: (bk_test_pk_[0-9A-Za-z]{65})$`)
	userLine        = regexp.MustCompile(`^test user: (demo) / ([A-Z2-7]{26})$`)
	hmacIDLine      = regexp.MustCompile(`^test hmac key id: (hk_[0-9A-Za-z]{16})$`)
	hmacSecretLine  = regexp.MustCompile(`^test hmac secret: ([A-Za-z0-9+/]{86}==)$`)
	primeLine       = regexp.MustCompile(`^test prime secret key: (bk_test_sk_[0-9A-Za-z]{65})$`)
	adminLine       = regexp.MustCompile(`^admin key: (bk_test_sk_[0-9A-Za-z]{65})$`)
	consoleUserLine = regexp.MustCompile(`^console user: (admin) / ([A-Z2-7]{26})$`)
	listeningLine   = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:[0-9]+)$`)
)

// banner is what serve prints on start.
type banner struct {
	secret, publishable, user, password, hmacID, hmacSecret, prime, admin, url string
	// operator and operatorPassword are the console's first operator.
	operator, operatorPassword string
}

// readBanner reads serve's nine start lines from r, within a time limit,
// then keeps draining r in the background.
func readBanner(t *testing.T, r io.Reader) banner {
	t.Helper()
	lines := scanLines(r)
	next := func() string {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "stdout closed before the banner was complete")
			return line
		case <-time.After(20 * time.Second):
			require.FailNow(t, "timed out waiting for the server's banner")
			return ""
		}
	}
	var b banner
	m := secretLine.FindStringSubmatch(next())
	require.NotNil(t, m, "first line must be the test secret key")
	b.secret = m[1]
	m = publishableLine.FindStringSubmatch(next())
	require.NotNil(t, m, "second line must be the test publishable key")
	b.publishable = m[1]
	m = userLine.FindStringSubmatch(next())
	require.NotNil(t, m, "third line must be the test user")
	b.user, b.password = m[1], m[2]
	m = hmacIDLine.FindStringSubmatch(next())
	require.NotNil(t, m, "fourth line must be the test HMAC key ID")
	b.hmacID = m[1]
	m = hmacSecretLine.FindStringSubmatch(next())
	require.NotNil(t, m, "fifth line must be the test HMAC secret")
	b.hmacSecret = m[1]
	m = primeLine.FindStringSubmatch(next())
	require.NotNil(t, m, "sixth line must be the prime secret key")
	b.prime = m[1]
	m = adminLine.FindStringSubmatch(next())
	require.NotNil(t, m, "seventh line must be the admin key")
	b.admin = m[1]
	m = consoleUserLine.FindStringSubmatch(next())
	require.NotNil(t, m, "eighth line must be the console user")
	b.operator, b.operatorPassword = m[1], m[2]
	m = listeningLine.FindStringSubmatch(next())
	require.NotNil(t, m, "ninth line must be the listening address")
	b.url = m[1]
	go func() {
		for range lines { // anything later is drained, never blocking the writer
		}
	}()
	return b
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// response is what the tests keep of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends GET url with the given headers (name, value pairs) and returns
// the response, checking that no key leaked into it.
func get(t *testing.T, url string, b banner, headers ...string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	for _, key := range b.secrets() {
		require.NotContains(t, string(body), key, "a key leaked into a response body")
		for name, values := range resp.Header {
			for _, v := range values {
				require.NotContains(t, v, key, "a key leaked into response header %s", name)
			}
		}
	}
	return response{resp.StatusCode, resp.Header, body}
}

// decode parses a JSON object body.
func decode(t *testing.T, r response) map[string]any {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// requireAuthFailure checks an RFC 6750 failure response.
func requireAuthFailure(t *testing.T, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
	body := decode(t, r)
	require.Equal(t, code, body["error"])
	require.NotEmpty(t, body["error_description"])
}

// alterBody changes one character of the key's body, keeping it base62.
func alterBody(key string) string {
	i := len("bk_test_sk_") + 20 // inside the secret
	c := byte('a')
	if key[i] == 'a' {
		c = 'b'
	}
	return key[:i] + string(c) + key[i+1:]
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	defer stdoutR.Close()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--db", "memory", "--addr", "127.0.0.1:0"}, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	b := readBanner(t, stdoutR)
	require.NotEqual(t, b.secret, b.publishable)

	t.Run("healthz", func(t *testing.T) {
		r := get(t, b.url+"/healthz", b)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, map[string]any{"status": "ok"}, decode(t, r))
	})

	t.Run("whoami with the secret key", func(t *testing.T) {
		r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+b.secret)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		p := decode(t, r)
		require.Equal(t, "test", p["mode"])
		require.Equal(t, "api_key", p["method"])
		require.Equal(t, "sk", p["kind"])
		require.Equal(t, "acct_demo", p["account"])
		require.Equal(t, "GO", p["package"])
		require.Equal(t, []any{"store_1", "store_2"}, p["stores"])
		require.Equal(t, "", p["store"])
		require.Len(t, p["key_id"], 16)
		require.Contains(t, b.secret, p["key_id"])
	})

	t.Run("whoami with the publishable key", func(t *testing.T) {
		r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+b.publishable)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		p := decode(t, r)
		require.Equal(t, "pk", p["kind"])
		require.Equal(t, "test", p["mode"])
	})

	t.Run("whoami without a key", func(t *testing.T) {
		r := get(t, b.url+"/v1/whoami", b)
		requireAuthFailure(t, r, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("whoami with an altered key", func(t *testing.T) {
		altered := alterBody(b.secret)
		require.NotEqual(t, b.secret, altered)
		r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+altered)
		requireAuthFailure(t, r, http.StatusUnauthorized, "invalid_token")
		require.NotContains(t, string(r.body), altered)
	})

	t.Run("whoami selecting an allowed store", func(t *testing.T) {
		r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+b.secret, "X-Store-Id", "store_2")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "store_2", decode(t, r)["store"])
	})

	t.Run("whoami selecting another store", func(t *testing.T) {
		r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+b.secret, "X-Store-Id", "other")
		requireAuthFailure(t, r, http.StatusForbidden, "insufficient_scope")
	})

	t.Run("client credentials token opens whoami", func(t *testing.T) {
		r := postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, keyID(b.secret), b.secret)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		tok := decode(t, r)
		require.Equal(t, "Bearer", tok["token_type"])
		require.EqualValues(t, 900, tok["expires_in"])
		require.Nil(t, tok["refresh_token"], "no refresh token for client credentials")
		w := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+tok["access_token"].(string))
		require.Equal(t, http.StatusOK, w.status, "body: %s", w.body)
		p := decode(t, w)
		require.Equal(t, "jwt", p["method"])
		require.Equal(t, keyID(b.secret), p["key_id"])
		require.Equal(t, "test", p["mode"])
		require.Equal(t, keyID(b.secret), p["subject"], "RFC 9068: sub names the client")
		require.Equal(t, "sk", p["kind"])
	})

	t.Run("password grant through the public client, then refresh once", func(t *testing.T) {
		r := postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {keyID(b.publishable)},
			"username": {b.user}, "password": {b.password}, "scope": {"products:read"}}, "", "")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		first := decode(t, r)
		require.Equal(t, "products:read", first["scope"])
		rt := first["refresh_token"].(string)
		w := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+first["access_token"].(string))
		require.Equal(t, http.StatusOK, w.status)
		require.Equal(t, "user_demo", decode(t, w)["subject"])

		refresh := func(token string) response {
			return postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {keyID(b.publishable)}, "refresh_token": {token}}, "", "")
		}
		r = refresh(rt)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		second := decode(t, r)["refresh_token"].(string)
		require.NotEqual(t, rt, second)
		r = refresh(rt) // reuse of the rotated token
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, "invalid_grant", decode(t, r)["error"])
		r = refresh(second) // the family is revoked
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, "invalid_grant", decode(t, r)["error"])

		r = postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {keyID(b.publishable)},
			"username": {b.user}, "password": {"Hunter2-not-it"}}, "", "")
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, "invalid_grant", decode(t, r)["error"])
	})

	t.Run("signed requests: echo, whoami, replay, tampering, body limit", func(t *testing.T) {
		secret, err := base64.StdEncoding.DecodeString(b.hmacSecret)
		require.NoError(t, err)
		signer := &httpsig.Signer{KeyID: b.hmacID, Secret: secret}
		body := []byte(`{"order":"o_1","total":42}`)
		send := func(req *http.Request) response {
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			out, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.NotContains(t, string(out), b.hmacSecret)
			return response{status: res.StatusCode, header: res.Header, body: out}
		}
		signed := func(method, path string, body []byte) *http.Request {
			req, err := http.NewRequest(method, b.url+path, bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			require.NoError(t, signer.Sign(req, body))
			return req
		}
		req := signed(http.MethodPost, "/v1/echo", body)
		r := send(req)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		out := decode(t, r)
		sum := sha256.Sum256(body)
		require.Equal(t, hex.EncodeToString(sum[:]), out["body_sha256"])
		require.Equal(t, "hmac", out["principal"].(map[string]any)["method"])
		require.Equal(t, b.hmacID, out["principal"].(map[string]any)["key_id"])

		replay, err := http.NewRequest(http.MethodPost, b.url+"/v1/echo", bytes.NewReader(body))
		require.NoError(t, err)
		replay.Header = req.Header.Clone()
		r = send(replay)
		require.Equal(t, http.StatusUnauthorized, r.status)
		require.Equal(t, "replayed", decode(t, r)["error"])

		tampered := signed(http.MethodPost, "/v1/echo", body)
		tampered.Body = io.NopCloser(bytes.NewReader([]byte(`{"order":"o_1","total":1}`)))
		tampered.ContentLength = int64(len(`{"order":"o_1","total":1}`))
		r = send(tampered)
		require.Equal(t, http.StatusUnauthorized, r.status)

		// A request signed for another host, sent here: refused.
		elsewhere, err := http.NewRequest(http.MethodPost, b.url+"/v1/echo", bytes.NewReader(body))
		require.NoError(t, err)
		elsewhere.Host = "thirdparty.example"
		require.NoError(t, signer.Sign(elsewhere, body))
		r = send(elsewhere)
		require.Equal(t, http.StatusUnauthorized, r.status)
		require.Equal(t, "wrong_authority", decode(t, r)["error"])

		w := send(signed(http.MethodGet, "/v1/whoami", nil))
		require.Equal(t, http.StatusOK, w.status, "body: %s", w.body)
		require.Equal(t, "hmac", decode(t, w)["method"])

		limit := bytes.Repeat([]byte("a"), httpsig.DefaultMaxBody)
		require.Equal(t, http.StatusOK, send(signed(http.MethodPost, "/v1/echo", limit)).status, "exactly 1 MiB")
		require.Equal(t, http.StatusRequestEntityTooLarge, send(signed(http.MethodPost, "/v1/echo", append(limit, 'a'))).status, "one byte more")
	})

	t.Run("jwks publishes one RS256 public key", func(t *testing.T) {
		r := get(t, b.url+"/.well-known/jwks.json", b)
		require.Equal(t, http.StatusOK, r.status)
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		require.NoError(t, json.Unmarshal(r.body, &set))
		require.Len(t, set.Keys, 1)
		require.Equal(t, "RS256", set.Keys[0]["alg"])
		require.Nil(t, set.Keys[0]["d"], "no private part")
	})

	cancel()
	require.NoError(t, <-done)
	require.Contains(t, stderr.String(), "refresh token reuse detected")
	for _, key := range b.secrets() {
		require.NotContains(t, stderr.String(), key, "a key leaked into stderr")
	}
}

// postForm posts a form, with HTTP Basic client authentication when id is
// set, and returns the response, checking that no secret leaked into it.
func postForm(t *testing.T, target string, form url.Values, id, secret string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if secret != "" {
		require.NotContains(t, string(body), secret)
	}
	if pw := form.Get("password"); pw != "" {
		require.NotContains(t, string(body), pw)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"serve", "--no-such-flag"}, {"serve", "extra"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		require.ErrorIs(t, err, errUsage, "args %q", args)
		require.Equal(t, 2, exitCode(err))
		require.Contains(t, stderr.String(), "usage: keygate", "args %q", args)
		require.Empty(t, stdout.String(), "args %q", args)
	}
	require.Equal(t, 0, exitCode(nil))
	require.Equal(t, 1, exitCode(errors.New("boom")))
}

func TestServeListenError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--db", "memory", "--addr", "127.0.0.1:-1"}, &stdout, &stderr)
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Empty(t, stdout.String(), "no key may be printed when the server cannot start")
}

// TestBinarySignals builds the command once and, for each of SIGINT and
// SIGTERM, runs it as a separate process and checks that the signal stops it
// cleanly with exit status 0, and that a request in flight when the signal
// arrives still completes with 200.
func TestBinarySignals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGINT and SIGTERM cannot be sent to a process on Windows")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		sig  os.Signal
	}{
		{"SIGINT", os.Interrupt},
		{"SIGTERM", syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) { testSignal(t, bin, tc.sig) })
	}
}

// buildBinary builds the command into a temporary directory and returns the
// path of the executable.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH")
	}
	bin := filepath.Join(t.TempDir(), "keygate")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// testSignal runs the binary bin, starts a request, sends sig once the
// request is under way, lets the request finish while the server shuts
// down, and checks the response and the exit status.
func testSignal(t *testing.T, bin string, sig os.Signal) {
	runCtx, cancelRun := context.WithTimeout(context.Background(), time.Minute)
	defer cancelRun()
	cmd := exec.CommandContext(runCtx, bin, "serve", "--db", "memory", "--addr", "127.0.0.1:0")
	stdoutR, stdoutW := io.Pipe()
	cmd.Stdout = stdoutW
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		stdoutW.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // fails harmlessly once the process has exited
		stdoutR.Close()        // unblocks the copy of its output, if nobody reads it
		<-exited
	})
	b := readBanner(t, stdoutR)
	hostPort := strings.TrimPrefix(b.url, "http://") // 127.0.0.1:port, as readBanner checked

	// Start a request and stop halfway through its headers.
	dialer := net.Dialer{Timeout: 10 * time.Second}
	conn, err := dialer.Dial("tcp", hostPort)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = io.WriteString(conn, "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)

	// A complete request on a second connection. The listener hands out
	// connections in the order they were established, so once this one has
	// been answered the server has accepted the first one too: the signal
	// cannot close it in the listener's backlog.
	r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+b.secret)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, "test", decode(t, r)["mode"])

	require.NoError(t, cmd.Process.Signal(sig))

	// Wait until the shutdown has begun: the server has said so and no
	// longer accepts connections.
	require.Eventually(t, func() bool {
		if !strings.Contains(stderr.String(), "shutting down") {
			return false
		}
		c, err := net.DialTimeout("tcp", hostPort, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}, 10*time.Second, 10*time.Millisecond, "shutdown did not begin after %v; stderr: %s", sig, stderr.String())
	// Not synchronisation: the draining server gets time in which it
	// could wrongly cut the request in flight; no event marks "it would
	// have by now".
	time.Sleep(200 * time.Millisecond)

	// Finish the request and read its response.
	_, err = io.WriteString(conn, "Authorization: Bearer "+b.secret+"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the request in flight got no response; stderr: %s", stderr.String())
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	require.Contains(t, string(body), `"mode":"test"`)
	for _, key := range b.secrets() {
		require.NotContains(t, string(body), key, "a key leaked into a response body")
	}

	// A server that does not exit is killed when runCtx ends, and fails
	// here with its exit status.
	<-exited
	require.NoError(t, waitErr, "after %v; stderr: %s", sig, stderr.String())
	require.Equal(t, 0, cmd.ProcessState.ExitCode())
	require.Contains(t, stderr.String(), "shutting down")
	for _, key := range b.secrets() {
		require.NotContains(t, stderr.String(), key, "a key leaked into stderr")
	}
}

// keyID returns the public ID of a demo key ("bk_test_sk_" or "bk_test_pk_"
// and 16 characters).
func keyID(key string) string { return key[len("bk_test_sk_") : len("bk_test_sk_")+16] }
