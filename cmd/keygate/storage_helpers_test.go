package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/keygate/keygate/httpsig"
)

// verifyNoLeaks checks, once the test and its cleanups are done, that it
// left no goroutine running.
func verifyNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// usingLine is the line a later start prints instead of the keys.
var usingLine = regexp.MustCompile(`^using the keys in (.+) \(shown when it was created\)$`)

// instance is a keygate serve running in this process for a test.
type instance struct {
	url     string
	created bool   // the first start on its store: it printed the keys
	keys    banner // the printed keys, when created
	using   string // what the "using the keys in" line names, when not created
	stdout  *syncBuffer
	stderr  *syncBuffer
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startInstance runs "keygate serve --addr 127.0.0.1:0" with args in this
// process and waits until it listens (at most 60 s). It is stopped when the
// test ends if the test has not stopped it.
func startInstance(t *testing.T, args ...string) *instance {
	t.Helper()
	in, err := tryStart(t, args...)
	require.NoError(t, err, "keygate serve %q", args)
	return in
}

// tryStart is startInstance, returning serve's error if it stops before it
// listens.
func tryStart(t *testing.T, args ...string) (*instance, error) {
	t.Helper()
	return launch(args...).wait(t)
}

// launching is a serve started by launch, not yet listening.
type launching struct {
	in    *instance
	lines chan string
}

// launch starts "keygate serve --addr 127.0.0.1:0" with args in this
// process without waiting for it: several instances start at once.
func launch(args ...string) *launching {
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: new(syncBuffer), stderr: new(syncBuffer), cancel: cancel, done: make(chan error, 1)}
	stdoutR, stdoutW := io.Pipe()
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), stdoutW, in.stderr)
		stdoutW.CloseWithError(err)
		in.done <- err
	}()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			in.stdout.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
	}()
	return &launching{in: in, lines: lines}
}

// wait waits (at most 60 s) until the instance listens and returns it, or
// returns serve's error if it stopped first. A running instance is stopped
// when the test ends if the test has not stopped it.
func (l *launching) wait(t *testing.T) (*instance, error) {
	t.Helper()
	in := l.in
	var start []string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				in.cancel()
				err := <-in.done
				require.Error(t, err, "serve stopped without listening; stdout: %q", start)
				return nil, err
			}
			start = append(start, line)
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				in.url = m[1]
				t.Cleanup(func() { in.stop(t) })
				go func() {
					for range l.lines { // drain: never block the server's writes
					}
				}()
				in.parseStart(t, start)
				return in, nil
			}
		case <-timeout:
			in.cancel()
			require.FailNow(t, "timed out waiting for keygate serve to listen", "stdout: %q; stderr: %s", start, in.stderr)
		}
	}
}

// parseStart reads the lines printed before "listening on": the keys on a
// first start, one "using the keys in" line on a later one.
func (in *instance) parseStart(t *testing.T, lines []string) {
	t.Helper()
	switch len(lines) {
	case 9:
		in.created = true
		var b bytes.Buffer
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		in.keys = readBanner(t, &b)
	case 2:
		m := usingLine.FindStringSubmatch(lines[0])
		require.NotNil(t, m, "a later start prints where its keys are: %q", lines)
		in.using = m[1]
	default:
		require.FailNow(t, "unexpected start lines", "%q", lines)
	}
}

// stop cancels the instance and waits for serve to return, requiring a
// clean shutdown. A second call does nothing.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	if in.stopped {
		return
	}
	in.stopped = true
	in.cancel()
	assert.NoError(t, <-in.done, "stderr: %s", in.stderr)
}

// requireNoSecrets checks that none of the secrets appears in the
// instance's output (its stdout after the start lines of a first start,
// and its stderr).
func (in *instance) requireNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	out := in.stdout.String()
	if in.created {
		// The keys themselves are the start lines: check what follows.
		_, out, _ = strings.Cut(out, "listening on ")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		require.NotContains(t, out, s, "a secret was printed on stdout")
		require.NotContains(t, in.stderr.String(), s, "a secret was printed on stderr")
	}
}

// secrets lists the plaintexts of b.
func (b banner) secrets() []string {
	return []string{b.secret, b.publishable, b.password, b.hmacSecret, b.prime, b.admin, b.operatorPassword}
}

// httpClient is a client of its own for one test, whose idle connections
// are closed when the test ends (goleak would see them otherwise).
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// call sends one request and returns the response; headers are name,
// value pairs. A body that is a url.Values is sent as a form, anything
// else but nil as JSON.
func call(t *testing.T, c *http.Client, method, target string, body any, headers ...string) response {
	t.Helper()
	req := newRequest(t, method, target, body, headers...)
	return send(t, c, req)
}

// newRequest builds a request as call sends it.
func newRequest(t *testing.T, method, target string, body any, headers ...string) *http.Request {
	t.Helper()
	var r io.Reader
	var ctype string
	switch b := body.(type) {
	case nil:
	case url.Values:
		r, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		r, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, target, r)
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// send sends req and reads the response.
func send(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{res.StatusCode, res.Header, body}
}

// jsonBody decodes a JSON response body into a map.
func jsonBody(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "status %d, body: %s", r.status, r.body)
	return m
}

// bearer returns the Authorization header pair for a key or token.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// signedRequest returns a GET of target signed with the HMAC credential
// of b, for the authority of target's URL (or host, when given: the
// request still goes to target, with that Host).
func signedRequest(t *testing.T, b banner, method, target, host string) *http.Request {
	t.Helper()
	secret, err := base64.StdEncoding.DecodeString(b.hmacSecret)
	require.NoError(t, err)
	req, err := http.NewRequest(method, target, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	signer := httpsig.Signer{KeyID: b.hmacID, Secret: secret}
	require.NoError(t, signer.Sign(req, nil))
	return req
}

// passwordGrant asks url's token endpoint for tokens for the demo user,
// through the demo publishable key as a public client.
func passwordGrant(t *testing.T, c *http.Client, base string, b banner) response {
	t.Helper()
	return call(t, c, http.MethodPost, base+"/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {keyID(b.publishable)},
		"username": {b.user}, "password": {b.password}, "scope": {"products:read"}})
}

// refreshGrant exchanges a refresh token at base's token endpoint.
func refreshGrant(t *testing.T, c *http.Client, base string, b banner, token string) response {
	t.Helper()
	return call(t, c, http.MethodPost, base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {keyID(b.publishable)},
		"refresh_token": {token}})
}

// auditEvents queries base's admin audit history with the admin key.
func auditEvents(t *testing.T, c *http.Client, base, admin string, query url.Values) []map[string]any {
	t.Helper()
	r := call(t, c, http.MethodGet, base+"/admin/v1/audit?"+query.Encode(), nil, bearer(admin)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page struct {
		Data []map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &page))
	return page.Data
}

// createKey creates a test secret key in acct_demo through base's admin
// API and returns its ID and plaintext.
func createKey(t *testing.T, c *http.Client, base, admin string) (id, key string) {
	t.Helper()
	return createKeyIn(t, c, base, admin, demoAccount)
}

// createKeyIn creates a test secret key in the account through base's
// admin API and returns its ID and plaintext.
func createKeyIn(t *testing.T, c *http.Client, base, admin, account string) (id, key string) {
	t.Helper()
	r := call(t, c, http.MethodPost, base+"/admin/v1/keys", map[string]any{
		"account": account, "mode": "test", "kind": "sk", "name": "test",
	}, bearer(admin)...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var pair struct {
		Secret struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		} `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(r.body, &pair))
	require.NotEmpty(t, pair.Secret.Key)
	return pair.Secret.ID, pair.Secret.Key
}

// revokeKey revokes the key through base's admin API.
func revokeKey(t *testing.T, c *http.Client, base, admin, id string) {
	t.Helper()
	r := call(t, c, http.MethodPost, base+"/admin/v1/keys/"+id+"/revoke", nil, bearer(admin)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
}
