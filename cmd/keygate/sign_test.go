package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/middleware"
)

// signServer is an httptest server that verifies keygate v3 signatures
// made with one fresh credential. Behind the verifier, /fail answers 503,
// /moved redirects, and any other path describes the request it got.
type signServer struct {
	url    string
	keyID  string
	secret string // base64, as keygate serve prints it
	hits   atomic.Int32
}

func newSignServer(t *testing.T) *signServer {
	t.Helper()
	masterKey := make([]byte, httpsig.MasterKeyLen)
	_, err := rand.Read(masterKey)
	require.NoError(t, err)
	creds, err := httpsig.NewManager(httpsig.Config{MasterKey: masterKey})
	require.NoError(t, err)
	secret, _, err := creds.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_sign", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	verifier, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: creds})
	require.NoError(t, err)

	s := &signServer{keyID: secret.KeyID(), secret: secret.Base64()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		active, err := verifier.Verify(r)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, httpsig.ErrBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			writeJSON(w, status, map[string]string{"error": middleware.Classify(err).Code})
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body"})
			return
		}
		switch r.URL.Path {
		case "/fail":
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "down for maintenance"})
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			sum := sha256.Sum256(body)
			writeJSON(w, http.StatusOK, map[string]string{
				"key_id":       active.KeyID,
				"method":       r.Method,
				"host":         r.Host,
				"query":        r.URL.RawQuery,
				"content_type": r.Header.Get("Content-Type"),
				"store":        r.Header.Get("X-Store-Id"),
				"body_sha256":  hex.EncodeToString(sum[:]),
			})
		}
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	require.True(t, strings.HasPrefix(s.url, "http://127.0.0.1:"), "test servers listen on 127.0.0.1 only: %s", s.url)
	return s
}

// creds returns the flags that pass the server's credential.
func (s *signServer) creds() []string { return []string{"--key-id", s.keyID, "--secret", s.secret} }

// signResult is what one "keygate sign" run produced.
type signResult struct {
	stdout, stderr string
	err            error
}

// runSign runs "keygate sign args..." in process with in as standard input
// and env as the only KEYGATE_HMAC_* environment, within a time limit.
func runSign(t *testing.T, in string, env map[string]string, args ...string) signResult {
	t.Helper()
	t.Setenv(envKeyID, env[envKeyID])
	t.Setenv(envSecret, env[envSecret])
	saved := stdin
	stdin = strings.NewReader(in)
	defer func() { stdin = saved }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"sign"}, args...), &stdout, &stderr)
	return signResult{stdout.String(), stderr.String(), err}
}

// requireOK checks a successful run and returns its output as JSON.
func requireOK(t *testing.T, r signResult, secrets ...string) map[string]string {
	t.Helper()
	require.NoError(t, r.err, "stderr: %s", r.stderr)
	require.Empty(t, r.stderr)
	requireNoLeak(t, r, secrets...)
	var out map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), "stdout: %s", r.stdout)
	return out
}

// requireNoLeak checks that none of the secrets appears in the output.
func requireNoLeak(t *testing.T, r signResult, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.NotContains(t, r.stdout, s, "a secret leaked into stdout")
		require.NotContains(t, r.stderr, s, "a secret leaked into stderr")
		if r.err != nil {
			require.NotContains(t, r.err.Error(), s, "a secret leaked into the error")
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// randomSecret returns a well-formed secret that no server knows.
func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, httpsig.SecretLen)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func TestSignSends(t *testing.T) {
	s := newSignServer(t)
	with := func(args ...string) []string { return append(s.creds(), args...) }

	t.Run("GET by default, query kept", func(t *testing.T) {
		out := requireOK(t, runSign(t, "", nil, with(s.url+"/v1/whoami?b=2&a=1")...), s.secret)
		require.Equal(t, http.MethodGet, out["method"])
		require.Equal(t, s.keyID, out["key_id"])
		require.Equal(t, "b=2&a=1", out["query"])
		require.Equal(t, sha256Hex(nil), out["body_sha256"])
	})

	t.Run("-d implies POST; Content-Type is signed", func(t *testing.T) {
		out := requireOK(t, runSign(t, "", nil, with("-d", `{"a":1}`, "-H", "Content-Type: application/json", s.url+"/v1/echo")...), s.secret)
		require.Equal(t, http.MethodPost, out["method"])
		require.Equal(t, "application/json", out["content_type"])
		require.Equal(t, sha256Hex([]byte(`{"a":1}`)), out["body_sha256"])
	})

	t.Run("-X overrides the method", func(t *testing.T) {
		out := requireOK(t, runSign(t, "", nil, with("-X", "PUT", "-d", "x", s.url+"/v1/items/1")...), s.secret)
		require.Equal(t, http.MethodPut, out["method"])
		out = requireOK(t, runSign(t, "", nil, with("-X", "DELETE", s.url+"/v1/items/1")...), s.secret)
		require.Equal(t, http.MethodDelete, out["method"])
	})

	t.Run("flags after the URL, single dashes", func(t *testing.T) {
		out := requireOK(t, runSign(t, "", nil, s.url+"/v1/echo", "-X", "PATCH", "-key-id", s.keyID, "-secret", s.secret, "-d", "z"), s.secret)
		require.Equal(t, http.MethodPatch, out["method"])
		require.Equal(t, sha256Hex([]byte("z")), out["body_sha256"])
	})

	t.Run("-d @FILE sends the file's exact bytes", func(t *testing.T) {
		body := []byte("line 1\r\nline 2\n\x00\xff binary\n")
		path := filepath.Join(t.TempDir(), "body.bin")
		require.NoError(t, os.WriteFile(path, body, 0o600))
		out := requireOK(t, runSign(t, "", nil, with("-d", "@"+path, s.url+"/v1/echo")...), s.secret)
		require.Equal(t, http.MethodPost, out["method"])
		require.Equal(t, sha256Hex(body), out["body_sha256"])
	})

	t.Run("-d @- reads standard input", func(t *testing.T) {
		body := "{\"from\":\"stdin\"}\n"
		out := requireOK(t, runSign(t, body, nil, with("-d", "@-", "-H", "Content-Type: application/json", s.url+"/v1/echo")...), s.secret)
		require.Equal(t, http.MethodPost, out["method"])
		require.Equal(t, sha256Hex([]byte(body)), out["body_sha256"])
	})

	t.Run("-H X-Store-Id is sent and covered", func(t *testing.T) {
		// The verifier refuses an uncovered X-Store-Id (missing_component),
		// so 200 shows the signature covers it.
		out := requireOK(t, runSign(t, "", nil, with("-H", "X-Store-Id: store_1", "-H", "X-Trace: t1", s.url+"/v1/whoami")...), s.secret)
		require.Equal(t, "store_1", out["store"])
	})

	t.Run("-H Host sets the signed authority", func(t *testing.T) {
		out := requireOK(t, runSign(t, "", nil, with("-H", "Host: api.example.test", s.url+"/v1/whoami")...), s.secret)
		require.Equal(t, "api.example.test", out["host"])
	})

	t.Run("-h prints the flags", func(t *testing.T) {
		r := runSign(t, "", nil, "-h")
		require.NoError(t, r.err)
		require.Contains(t, r.stderr, "usage: keygate sign")
		require.Contains(t, r.stderr, "-key-id")
		require.Contains(t, r.stderr, envSecret)
	})
}

// parsePrinted parses --print output into header names, in order, and
// their values.
func parsePrinted(t *testing.T, out string) ([]string, http.Header) {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "output: %q", out)
	var names []string
	h := http.Header{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		name, value, ok := strings.Cut(line, ": ")
		require.True(t, ok, "line %q is not Name: value", line)
		names = append(names, name)
		h.Add(name, value)
	}
	return names, h
}

func TestSignPrint(t *testing.T) {
	s := newSignServer(t)
	body := []byte(`{"order":"o_1","total":42}`)
	target := s.url + "/v1/echo?x=1"

	r := runSign(t, "", nil, append(s.creds(), "--print", "-X", "POST", "-d", string(body),
		"-H", "Content-Type: application/json", "-H", "X-Store-Id: store_2", target)...)
	require.NoError(t, r.err, "stderr: %s", r.stderr)
	require.Empty(t, r.stderr)
	requireNoLeak(t, r, s.secret)
	require.Zero(t, s.hits.Load(), "--print sends nothing")

	names, printed := parsePrinted(t, r.stdout)
	require.Equal(t, []string{"Content-Digest", "Signature-Input", "Signature"}, names)
	require.Equal(t, "sha-256=:"+base64.StdEncoding.EncodeToString(func() []byte { s := sha256.Sum256(body); return s[:] }())+":", printed.Get("Content-Digest"))
	input := printed.Get("Signature-Input")
	for _, c := range []string{`"@method"`, `"@authority"`, `"@path"`, `"@query"`, `"content-digest"`, `"content-type"`, `"x-store-id"`, `keyid="` + s.keyID + `"`, `alg="hmac-sha256"`, "created=", "nonce="} {
		require.Contains(t, input, c)
	}
	require.True(t, strings.HasPrefix(printed.Get("Signature"), "sig1=:"))

	// Replay by hand: the same request with the printed headers added.
	send := func() (int, map[string]string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Store-Id", "store_2")
		for name, values := range printed {
			req.Header[name] = values
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]string
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}
	status, out := send()
	require.Equal(t, http.StatusOK, status, "out: %v", out)
	require.Equal(t, sha256Hex(body), out["body_sha256"])
	require.Equal(t, "store_2", out["store"])
	status, out = send()
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "replayed", out["error"])

	t.Run("no body, no Content-Digest", func(t *testing.T) {
		r := runSign(t, "", nil, append(s.creds(), "--print", s.url+"/v1/whoami")...)
		require.NoError(t, r.err, "stderr: %s", r.stderr)
		names, printed := parsePrinted(t, r.stdout)
		require.Equal(t, []string{"Signature-Input", "Signature"}, names)
		require.NotContains(t, printed.Get("Signature-Input"), "content-digest")
	})

	t.Run("fresh nonce every time", func(t *testing.T) {
		a := runSign(t, "", nil, append(s.creds(), "--print", s.url+"/v1/whoami")...)
		b := runSign(t, "", nil, append(s.creds(), "--print", s.url+"/v1/whoami")...)
		require.NoError(t, a.err)
		require.NoError(t, b.err)
		require.NotEqual(t, a.stdout, b.stdout)
	})
}

func TestSignEnvironment(t *testing.T) {
	s := newSignServer(t)

	t.Run("fallback", func(t *testing.T) {
		env := map[string]string{envKeyID: s.keyID, envSecret: s.secret + "\n"}
		out := requireOK(t, runSign(t, "", env, "-d", "e", s.url+"/v1/echo"), s.secret)
		require.Equal(t, s.keyID, out["key_id"])
		require.Equal(t, sha256Hex([]byte("e")), out["body_sha256"])
	})

	t.Run("flags win over the environment", func(t *testing.T) {
		wrong := randomSecret(t)
		env := map[string]string{envKeyID: "hk_0000000000000000", envSecret: wrong}
		out := requireOK(t, runSign(t, "", env, append(s.creds(), s.url+"/v1/whoami")...), s.secret, wrong)
		require.Equal(t, s.keyID, out["key_id"])
	})

	t.Run("one from each", func(t *testing.T) {
		env := map[string]string{envSecret: s.secret}
		out := requireOK(t, runSign(t, "", env, "--key-id", s.keyID, s.url+"/v1/whoami"), s.secret)
		require.Equal(t, s.keyID, out["key_id"])
	})
}

func TestSignUsageErrors(t *testing.T) {
	s := newSignServer(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no key ID", nil, []string{"--secret", s.secret, s.url}, "no key ID: pass --key-id or set KEYGATE_HMAC_KEY_ID"},
		{"no secret", nil, []string{"--key-id", s.keyID, s.url}, "no secret: pass --secret or set KEYGATE_HMAC_SECRET"},
		{"empty secret in the environment", map[string]string{envKeyID: s.keyID, envSecret: " "}, []string{s.url}, "no secret"},
		{"bad base64", nil, []string{"--key-id", s.keyID, "--secret", "not*base64" + s.secret, s.url}, "the secret (--secret) is not standard base64"},
		{"URL-safe base64", nil, []string{"--key-id", s.keyID, "--secret", strings.NewReplacer("+", "-", "/", "_").Replace(s.secret) + "-_", s.url}, "not standard base64"},
		{"bad base64 in the environment", map[string]string{envKeyID: s.keyID, envSecret: "%%" + s.secret}, []string{s.url}, "the secret (KEYGATE_HMAC_SECRET) is not standard base64"},
		{"short secret", nil, []string{"--key-id", s.keyID, "--secret", short, s.url}, "decodes to 32 bytes, want 64"},
		{"bad key ID", nil, []string{"--key-id", "hk with spaces", "--secret", s.secret, s.url}, "the key ID (--key-id) must be printable ASCII"},
		{"no URL", nil, s.creds(), "want exactly one URL argument, got 0"},
		{"two URLs", nil, append(s.creds(), s.url, s.url), "got 2"},
		{"misplaced flag", nil, []string{"--key-id", "--secret", s.secret, s.url}, "got 2"},
		{"secret as the URL", nil, []string{"--key-id", s.keyID, s.secret}, "the URL must be absolute"},
		{"relative URL", nil, append(s.creds(), "/v1/whoami"), "the URL must be absolute"},
		{"no host", nil, append(s.creds(), "http:///v1/whoami"), "the URL must be absolute"},
		{"other scheme", nil, append(s.creds(), "ftp://127.0.0.1/x"), "the URL must be absolute"},
		{"user info", nil, append(s.creds(), "http://u:p@127.0.0.1/x"), "must not carry a user name or password"},
		{"bad method", nil, append(s.creds(), "-X", "GE T", s.url), "-X: the method must be a token"},
		{"header without a colon", nil, append(s.creds(), "-H", "X-Store-Id store_1", s.url), `want "Name: value"`},
		{"header name", nil, append(s.creds(), "-H", "X Store: 1", s.url), "the header name must be a token"},
		{"header with CR LF", nil, append(s.creds(), "-H", "X-A: b\r\nX-Injected: 1", s.url), "must not contain CR or LF"},
		{"header with LF", nil, append(s.creds(), "-H", "X-A: b\nc", s.url), "must not contain CR or LF"},
		{"header with NUL", nil, append(s.creds(), "-H", "X-A: b\x00", s.url), "control characters"},
		{"signature header", nil, append(s.creds(), "-H", "signature: sig1=:AA==:", s.url), "Signature is set by keygate sign"},
		{"two bodies", nil, append(s.creds(), "-d", "a", "-d", "b", s.url), "-d may be given only once"},
		{"unknown flag", nil, append(s.creds(), "--frobnicate", s.url), "flag provided but not defined"},
		{"flag without a value", nil, []string{s.url, "--key-id", s.keyID, "--secret"}, "flag needs an argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runSign(t, "", tc.env, tc.args...)
			require.ErrorIs(t, r.err, errUsage)
			require.Equal(t, 2, exitCode(r.err))
			require.Contains(t, r.stderr, tc.want)
			require.Contains(t, r.stderr, "usage: keygate sign")
			require.Empty(t, r.stdout)
			requireNoLeak(t, r, s.secret, strings.TrimSuffix(s.secret, "=="))
		})
	}
	require.Zero(t, s.hits.Load(), "no request is sent for a usage error")
}

func TestSignFailures(t *testing.T) {
	s := newSignServer(t)

	t.Run("wrong secret: 401, body printed, exit 1", func(t *testing.T) {
		wrong := randomSecret(t)
		r := runSign(t, "", nil, "--key-id", s.keyID, "--secret", wrong, s.url+"/v1/whoami")
		require.Error(t, r.err)
		require.NotErrorIs(t, r.err, errUsage)
		require.Equal(t, 1, exitCode(r.err))
		require.EqualError(t, r.err, "sign: HTTP 401 Unauthorized")
		require.JSONEq(t, `{"error":"invalid_signature"}`, r.stdout)
		requireNoLeak(t, r, s.secret, wrong)
	})

	t.Run("unknown key ID", func(t *testing.T) {
		r := runSign(t, "", nil, "--key-id", "hk_0000000000000000", "--secret", s.secret, s.url+"/v1/whoami")
		require.Equal(t, 1, exitCode(r.err))
		require.JSONEq(t, `{"error":"invalid_signature"}`, r.stdout)
		requireNoLeak(t, r, s.secret)
	})

	t.Run("5xx", func(t *testing.T) {
		r := runSign(t, "", nil, append(s.creds(), s.url+"/fail")...)
		require.Equal(t, 1, exitCode(r.err))
		require.EqualError(t, r.err, "sign: HTTP 503 Service Unavailable")
		require.Contains(t, r.stdout, "down for maintenance")
		requireNoLeak(t, r, s.secret)
	})

	t.Run("redirects are not followed", func(t *testing.T) {
		before := s.hits.Load()
		r := runSign(t, "", nil, append(s.creds(), s.url+"/moved")...)
		require.Equal(t, 1, exitCode(r.err))
		require.EqualError(t, r.err, "sign: HTTP 302 Found")
		require.Equal(t, before+1, s.hits.Load())
	})

	t.Run("body file missing", func(t *testing.T) {
		before := s.hits.Load()
		r := runSign(t, "", nil, append(s.creds(), "-d", "@"+filepath.Join(t.TempDir(), "missing"), s.url+"/v1/echo")...)
		require.Equal(t, 1, exitCode(r.err))
		require.ErrorIs(t, r.err, os.ErrNotExist)
		require.Equal(t, before, s.hits.Load())
	})

	t.Run("server unreachable", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		r := runSign(t, "", nil, append(s.creds(), closed.URL+"/v1/whoami")...)
		require.Error(t, r.err)
		require.Equal(t, 1, exitCode(r.err))
		require.Empty(t, r.stdout)
		requireNoLeak(t, r, s.secret)
	})
}

// TestSignAgainstServe runs keygate serve in process and signs requests to
// it with the HMAC credential it prints.
func TestSignAgainstServe(t *testing.T) {
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
	creds := []string{"--key-id", b.hmacID, "--secret", b.hmacSecret}

	r := runSign(t, "", nil, append(creds, "-X", "POST", "-d", `{"a":1}`, b.url+"/v1/echo")...)
	require.NoError(t, r.err, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, `"body_sha256":"`+sha256Hex([]byte(`{"a":1}`))+`"`)
	require.Contains(t, r.stdout, `"method":"hmac"`)
	requireNoLeak(t, r, b.hmacSecret)

	env := map[string]string{envKeyID: b.hmacID, envSecret: b.hmacSecret}
	r = runSign(t, "", env, b.url+"/v1/whoami")
	require.NoError(t, r.err, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, `"method":"hmac"`)
	require.Contains(t, r.stdout, `"account":"acct_demo"`)
	requireNoLeak(t, r, b.hmacSecret)

	r = runSign(t, "", env, "-H", "X-Store-Id: store_2", b.url+"/v1/whoami")
	require.NoError(t, r.err, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, `"store":"store_2"`)

	r = runSign(t, "", map[string]string{envKeyID: b.hmacID, envSecret: randomSecret(t)}, b.url+"/v1/whoami")
	require.Equal(t, 1, exitCode(r.err))
	require.EqualError(t, r.err, "sign: HTTP 401 Unauthorized")

	cancel()
	require.NoError(t, <-done)
	require.NotContains(t, stderr.String(), b.hmacSecret)
}

func TestSignNeverEchoesAMisplacedSecret(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64))
	for _, args := range [][]string{
		{"sign", "-H", "--secret=" + secret, "http://127.0.0.1:1/"},
		{"sign", "--print=" + secret, "http://127.0.0.1:1/"},
		{"sign", "-d", "x", "-d", secret, "http://127.0.0.1:1/"},
		{"sign", "-H", secret, "http://127.0.0.1:1/"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		require.Error(t, err, "%v", args)
		require.NotContains(t, stderr.String()+stdout.String()+err.Error(), secret, "%v", args)
	}
}
