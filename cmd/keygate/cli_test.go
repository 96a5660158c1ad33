package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/keygate/keygate"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
)

// fakeAdminKey is the admin key the fake API accepts. No output may ever
// contain it.
const fakeAdminKey = "bk_test_sk_fakeAdminKeyNeverPrinted0123456789"

// fakeRequest is a request the fake admin API received.
type fakeRequest struct {
	method, path string // path relative to the admin prefix
	query        url.Values
	header       http.Header
	body         string
}

// fakeReply is a canned response.
type fakeReply struct {
	status int
	body   string
	header map[string]string
	// hangUp closes the connection without a response, this many times
	// before answering.
	hangUp int
}

// fakeAPI fakes the admin API contract's responses for the CLI's unit
// tests: canned replies by "METHOD /path" (relative to /admin/v1), or
// "METHOD /path?cursor=C" for a given page, and every request recorded.
type fakeAPI struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	routes map[string]*fakeReply
	reqs   []fakeRequest
}

func newFakeAPI(t *testing.T, routes map[string]fakeReply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, routes: map[string]*fakeReply{}}
	for k, v := range routes {
		f.routes[k] = &v
	}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), adminPrefix)
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeRequest{method: r.Method, path: path, query: r.URL.Query(), header: r.Header.Clone(), body: string(body)})
	reply := f.routes[r.Method+" "+path+"?cursor="+r.URL.Query().Get("cursor")]
	if reply == nil {
		reply = f.routes[r.Method+" "+path]
	}
	hangUp := reply != nil && reply.hangUp > 0
	if hangUp {
		reply.hangUp--
	}
	f.mu.Unlock()
	switch {
	case hangUp:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case !ok:
		http.NotFound(w, r)
		return
	case r.Header.Get("Authorization") != "Bearer "+fakeAdminKey:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the API key is not valid"})
		return
	case reply == nil:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such route in the fake"})
		return
	}
	for k, v := range reply.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.status)
	io.WriteString(w, reply.body)
}

// requests returns the requests received so far.
func (f *fakeAPI) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

// last returns the last request received.
func (f *fakeAPI) last() fakeRequest {
	f.t.Helper()
	reqs := f.requests()
	require.NotEmpty(f.t, reqs, "no request reached the fake API")
	return reqs[len(reqs)-1]
}

// runCLI runs the command line and returns its output, checking that the
// fake admin key was printed nowhere.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, &out, &errOut)
	for _, s := range []string{out.String(), errOut.String(), errString(err)} {
		require.NotContains(t, s, fakeAdminKey, "the admin key was printed")
	}
	return out.String(), errOut.String(), err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// clearEnv unsets the admin commands' environment variables for the test.
func clearEnv(t *testing.T) {
	t.Setenv(envURL, "")
	t.Setenv(envAdminKey, "")
}

// Canned contract responses.
const (
	fakeKeyJSON = `{"id":"K1d2e3f4g5h6i7j8","account":"acct_shop","mode":"test","kind":"sk","name":"backend","status":"active",` +
		`"prefix":"bk_test_sk_","last4":"Zz9Q","package":"GO","permissions":["products:read"],"stores":["store_1"],` +
		`"created":"2026-11-22T10:00:00.123Z","created_by":"ADMINID","last_used":"2026-11-22T11:00:00Z"}`
	fakePairJSON = `{"publishable":{"id":"P1d2e3f4g5h6i7j8","account":"acct_shop","mode":"live","kind":"pk","status":"pending_review","prefix":"bk_live_pk_","last4":"aaaa","created":"2026-11-22T10:00:00Z",` +
		`"key":"bk_live_pk_PLAINTEXTPUBLISHABLE"},` +
		`"secret":{"id":"S1d2e3f4g5h6i7j8","account":"acct_shop","mode":"live","kind":"sk","status":"pending_review","prefix":"bk_live_sk_","last4":"bbbb","created":"2026-11-22T10:00:00Z",` +
		`"key":"bk_live_sk_PLAINTEXTSECRET"}}`
	fakeAccountJSON = `{"id":"acct_shop","name":"Shop","package":"GO","created":"2026-11-22T10:00:00Z","updated":"2026-11-22T10:00:00Z"}`
	fakeHMACJSON    = `{"id":"hk_0123456789abcdef","account":"acct_shop","mode":"test","status":"active","created":"2026-11-22T10:00:00Z","secret":"SECRETBASE64=="}`
)

func TestCLIFlagsAnywhere(t *testing.T) {
	clearEnv(t)
	api := newFakeAPI(t, map[string]fakeReply{"GET /keys/K1d2e3f4g5h6i7j8": {status: 200, body: fakeKeyJSON}})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flags first", []string{"keys", "show", "--server", api.url, "--admin-key", fakeAdminKey, "--json", "K1d2e3f4g5h6i7j8"}},
		{"flags last", []string{"keys", "show", "K1d2e3f4g5h6i7j8", "--json", "--server", api.url, "--admin-key", fakeAdminKey}},
		{"flags around", []string{"keys", "show", "--json", "K1d2e3f4g5h6i7j8", "--server=" + api.url, "-admin-key", fakeAdminKey}},
		{"after --", []string{"keys", "show", "--json", "--server", api.url, "--admin-key", fakeAdminKey, "--", "K1d2e3f4g5h6i7j8"}},
		{"server with the prefix", []string{"keys", "show", "--json", "--server", api.url + "/admin/v1/", "--admin-key", fakeAdminKey, "K1d2e3f4g5h6i7j8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, tc.args...)
			require.NoError(t, err, "stderr: %s", stderr)
			req := api.last()
			assert.Equal(t, "GET", req.method)
			assert.Equal(t, "/keys/K1d2e3f4g5h6i7j8", req.path)
			assert.Equal(t, "Bearer "+fakeAdminKey, req.header.Get("Authorization"))
			assert.Empty(t, req.header.Get("Idempotency-Key"), "only POSTs carry one")
			assert.JSONEq(t, fakeKeyJSON, stdout)
			assert.Empty(t, stderr)
		})
	}

	t.Run("environment", func(t *testing.T) {
		t.Setenv(envURL, api.url)
		t.Setenv(envAdminKey, fakeAdminKey)
		stdout, _, err := runCLI(t, "keys", "show", "K1d2e3f4g5h6i7j8")
		require.NoError(t, err)
		assert.Contains(t, stdout, "bk_test_sk_...Zz9Q")
		// The flags win over the environment.
		t.Setenv(envAdminKey, "bk_test_sk_wrong")
		_, _, err = runCLI(t, "keys", "show", "K1d2e3f4g5h6i7j8", "--admin-key", fakeAdminKey)
		require.NoError(t, err)
	})
}

func TestCLIUsageErrors(t *testing.T) {
	clearEnv(t)
	auth := []string{"--server", "http://127.0.0.1:9", "--admin-key", fakeAdminKey}
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"group without command", []string{"keys"}, "usage: keygate keys <command>"},
		{"unknown subcommand", []string{"keys", "frobnicate"}, "unknown command"},
		{"missing ID", append([]string{"keys", "show"}, auth...), "missing the ID argument"},
		{"extra argument", append([]string{"keys", "revoke", "a", "b"}, auth...), "too many arguments"},
		{"argument to a flags-only command", append([]string{"keys", "list", "x"}, auth...), "unexpected argument"},
		{"unknown flag", append([]string{"keys", "list", "--colour"}, auth...), "flag provided but not defined: -colour"},
		{"flag without value", []string{"keys", "list", "--admin-key"}, "flag needs an argument: -admin-key"},
		{"create without account", append([]string{"keys", "create", "--mode", "test"}, auth...), "--account is required"},
		{"create without mode", append([]string{"keys", "create", "--account", "acct_1"}, auth...), "--mode is required"},
		{"bad mode", append([]string{"keys", "create", "--account", "acct_1", "--mode", "prod"}, auth...), "--mode must be test or live"},
		{"bad kind", append([]string{"keys", "create", "--account", "acct_1", "--mode", "test", "--kind", "xk"}, auth...), "--kind must be pk or sk"},
		{"bad expiry", append([]string{"keys", "create", "--account", "acct_1", "--mode", "test", "--expires", "tomorrow"}, auth...), "RFC 3339"},
		{"empty list element", append([]string{"keys", "create", "--account", "acct_1", "--mode", "test", "--permissions", "a,,b"}, auth...), "empty list element"},
		{"limit too small", append([]string{"keys", "list", "--limit", "0"}, auth...), ""},
		{"limit too large", append([]string{"accounts", "list", "--limit", "101"}, auth...), "--limit must be between 1 and 100"},
		{"list bad mode", append([]string{"hmac-keys", "list", "--mode", "x"}, auth...), "--mode must be test or live"},
		{"fractional grace", append([]string{"keys", "rotate", "K1", "--grace", "1.5s"}, auth...), "whole seconds"},
		{"negative grace", append([]string{"hmac-keys", "rotate", "hk_1", "--grace", "-1s"}, auth...), "must not be negative"},
		{"tokens without target", append([]string{"tokens", "revoke"}, auth...), "exactly one of --jti, --subject and --family"},
		{"tokens with two targets", append([]string{"tokens", "revoke", "--jti", "a", "--subject", "b"}, auth...), "exactly one"},
		{"audit bad time", append([]string{"audit", "query", "--since", "yesterday"}, auth...), "RFC 3339"},
		{"audit since after until", append([]string{"audit", "query", "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"}, auth...), "--since must be before --until"},
		{"accounts create without name", append([]string{"accounts", "create"}, auth...), "--name is required"},
		{"accounts update without change", append([]string{"accounts", "update", "acct_1"}, auth...), "nothing to change"},
		{"no admin key", []string{"keys", "list", "--server", "http://127.0.0.1:9"}, "no admin key: pass --admin-key or set KEYGATE_ADMIN_KEY"},
		{"admin key with a space", []string{"keys", "list", "--admin-key", "a b"}, "printable ASCII"},
		{"bad server", []string{"keys", "list", "--admin-key", fakeAdminKey, "--server", "ftp://example.com"}, "--server: want an absolute http:// or https:// URL"},
		{"server with credentials", []string{"keys", "list", "--admin-key", fakeAdminKey, "--server", "http://u:p@example.com"}, "user name or password"},
		{"bad idempotency key", append([]string{"keys", "revoke", "K1", "--idempotency-key", "\x01"}, auth...), "--idempotency-key"},
		{"a whole key as the ID", append([]string{"keys", "show", "bk_test_sk_0jPS8MolTrPGFJpht2Hj6l5maTZnG4HvpzqJgmrnOwgpGQ312ywnRYwDjET3hnoEm"}, auth...), "pass its key ID, 0jPS8MolTrPGFJph"},
		{"init with an empty store", []string{"init", "--db", ""}, "--db must not be empty"},
		{"init with an argument", []string{"init", "x"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, tc.args...)
			require.ErrorIs(t, err, errUsage)
			assert.Equal(t, 2, exitCode(err))
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.want)
			assert.Contains(t, stderr, "usage: keygate ")
			assert.NotContains(t, stderr, "hunter2", "a value was echoed")
			assert.NotContains(t, stderr, "pzqJgmrnOwgpGQ312", "a key was echoed")
		})
	}

	t.Run("the admin key comes from the environment", func(t *testing.T) {
		t.Setenv(envAdminKey, fakeAdminKey)
		_, stderr, err := runCLI(t, "keys", "list", "--server", "http://[::1]:9", "--limit", "500")
		require.ErrorIs(t, err, errUsage)
		assert.Contains(t, stderr, "--limit")
	})
}

func TestCLIHelp(t *testing.T) {
	clearEnv(t)
	t.Setenv(envAdminKey, fakeAdminKey)
	for _, args := range [][]string{
		{"keys", "help"}, {"keys", "-h"}, {"accounts", "--help"},
		{"keys", "create", "-h"}, {"keys", "show", "ID", "--help"}, {"audit", "query", "-h"}, {"init", "-h"},
	} {
		stdout, stderr, err := runCLI(t, args...)
		require.NoError(t, err, "args %q", args)
		assert.Contains(t, stdout, "usage: keygate "+args[0], "args %q", args)
		assert.Empty(t, stderr, "args %q", args)
	}
	stdout, _, err := runCLI(t, "keys", "create", "-h")
	require.NoError(t, err)
	for _, flag := range []string{"-account", "-mode", "-kind", "-permissions", "-roles", "-stores", "-allowed-ips", "-denied-ips", "-allowed-countries", "-denied-countries", "-expires", "-idempotency-key", "-server", "-admin-key", "-json"} {
		assert.Regexp(t, `(?m)^  `+flag+`\b`, stdout)
	}
	stdout, _, err = runCLI(t, "help")
	require.NoError(t, err)
	for _, cmd := range []string{"init", "accounts", "keys", "hmac-keys", "tokens", "audit"} {
		assert.Regexp(t, `(?m)^  `+cmd+` `, stdout)
	}
}

func TestAPIErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  apiError
		want string
	}{
		{"code and description", apiError{Status: 404, Code: "not_found", Description: "no key with this ID"},
			"not_found: no key with this ID (HTTP 404)"},
		{"fields in order", apiError{Status: 400, Code: "validation_failed", Description: "the request is not valid", Fields: map[string]string{"mode": "must be test or live", "account": "required"}},
			"validation_failed: the request is not valid (HTTP 400): account: required; mode: must be test or live"},
		{"unauthorized", apiError{Status: 401, Code: "invalid_token", Description: "the API key is not valid"},
			"invalid_token: the API key is not valid (HTTP 401) (check --admin-key or $KEYGATE_ADMIN_KEY)"},
		{"not JSON", apiError{Status: 502}, "HTTP 502 Bad Gateway"},
		{"not the admin API", apiError{Status: 404}, "HTTP 404 Not Found (is --server a keygate server with the admin API?)"},
		{"redirect", apiError{Status: 302}, "HTTP 302 Found (redirects are not followed: check --server)"},
		{"control characters", apiError{Status: 409, Code: "conflict", Description: "line one\nline two\x1b[31m"},
			"conflict: line one?line two?[31m (HTTP 409)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

func TestCLIAPIErrors(t *testing.T) {
	clearEnv(t)
	api := newFakeAPI(t, map[string]fakeReply{
		"GET /keys/nope": {status: 404, body: `{"error":"not_found","error_description":"no key with this ID"}`},
		"POST /keys": {status: 400, body: `{"error":"validation_failed","error_description":"the request is not valid",` +
			`"fields":{"permissions":"unknown permission \"x\"","account":"no such account"}}`},
		"POST /keys/K1/approve": {status: 403, body: `{"error":"separation_of_duties","error_description":"a key's creator may not approve it"}`},
		"GET /accounts":         {status: 502, body: `<html>bad gateway</html>`},
		"GET /hmac-keys":        {status: 200, body: `{"data":[{"id":1}]}`},
	})
	auth := []string{"--server", api.url, "--admin-key", fakeAdminKey}
	for _, tc := range []struct {
		name  string
		args  []string
		extra []string // after --server and --admin-key
		want  string
	}{
		{"not found", []string{"keys", "show", "nope"}, nil, "keys show: not_found: no key with this ID (HTTP 404)"},
		{"validation", []string{"keys", "create", "--account", "acct_x", "--mode", "test", "--permissions", "x"}, nil,
			`keys create: validation_failed: the request is not valid (HTTP 400): account: no such account; permissions: unknown permission "x"`},
		{"forbidden", []string{"keys", "approve", "K1"}, nil, "keys approve: separation_of_duties: a key's creator may not approve it (HTTP 403)"},
		{"not JSON", []string{"accounts", "list"}, nil, "accounts list: HTTP 502 Bad Gateway"},
		{"unexpected shape", []string{"hmac-keys", "list"}, nil, "hmac-keys list: the server's response is not what was expected"},
		{"wrong key", []string{"keys", "show", "nope"}, []string{"--admin-key", "bk_test_sk_other"}, "keys show: invalid_token: the API key is not valid (HTTP 401) (check --admin-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, append(append(tc.args[:len(tc.args):len(tc.args)], auth...), tc.extra...)...)
			require.Error(t, err)
			assert.Equal(t, 1, exitCode(err))
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n")
			assert.Empty(t, stdout)
			assert.Empty(t, stderr)
		})
	}

	t.Run("server unreachable", func(t *testing.T) {
		_, _, err := runCLI(t, "keys", "list", "--server", "http://127.0.0.1:1", "--admin-key", fakeAdminKey)
		require.Error(t, err)
		assert.Equal(t, 1, exitCode(err))
		assert.Regexp(t, `^keys list: connection to http://127\.0\.0\.1:1 failed: `, err.Error())
	})

	t.Run("plain http to another host", func(t *testing.T) {
		_, stderr, err := runCLI(t, "keys", "list", "--server", "http://keygate.invalid", "--admin-key", fakeAdminKey)
		require.Error(t, err)
		assert.Contains(t, stderr, "without TLS")
	})
}

func TestCLIKeysCreate(t *testing.T) {
	clearEnv(t)
	api := newFakeAPI(t, map[string]fakeReply{"POST /keys": {status: 201, body: fakePairJSON}})
	auth := []string{"--server", api.url, "--admin-key", fakeAdminKey}

	stdout, stderr, err := runCLI(t, append([]string{"keys", "create", "--account", "acct_shop", "--mode", "live", "--name", "backend",
		"--permissions", "products:read, orders:write", "--permissions", "stores:read", "--roles", "viewer",
		"--stores", "store_1,store_2", "--allowed-ips", "10.0.0.0/8,192.0.2.1", "--denied-ips", "10.9.9.9",
		"--allowed-countries", "FR,DE", "--denied-countries", "RU", "--expires", "2030-01-02T16:04:05+01:00"}, auth...)...)
	require.NoError(t, err)
	req := api.last()
	assert.Equal(t, "POST", req.method)
	assert.Equal(t, "/keys", req.path)
	assert.Equal(t, "application/json", req.header.Get("Content-Type"))
	assert.Regexp(t, `^keygate-cli-[A-Z2-7]{26}$`, req.header.Get("Idempotency-Key"))
	assert.JSONEq(t, `{"account":"acct_shop","mode":"live","name":"backend",
		"permissions":["products:read","orders:write","stores:read"],"roles":["viewer"],"stores":["store_1","store_2"],
		"allowed_ips":["10.0.0.0/8","192.0.2.1"],"denied_ips":["10.9.9.9"],"allowed_countries":["FR","DE"],"denied_countries":["RU"],
		"expires":"2030-01-02T15:04:05Z"}`, req.body)

	// Each plaintext key once, labelled; the table names both keys.
	assert.Equal(t, 1, strings.Count(stdout, "bk_live_pk_PLAINTEXTPUBLISHABLE"))
	assert.Equal(t, 1, strings.Count(stdout, "bk_live_sk_PLAINTEXTSECRET"))
	assert.Regexp(t, `(?m)^publishable key \(shown once\): +bk_live_pk_PLAINTEXTPUBLISHABLE$`, stdout)
	assert.Regexp(t, `(?m)^secret key \(shown once\): +bk_live_sk_PLAINTEXTSECRET$`, stdout)
	assert.Regexp(t, `(?m)^P1d2e3f4g5h6i7j8 +acct_shop +live +pk +pending_review +- +-$`, stdout)
	assert.Contains(t, stderr, "shown only this once")
	assert.Contains(t, stderr, `"keygate keys approve S1d2e3f4g5h6i7j8"`)

	t.Run("one kind, given idempotency key", func(t *testing.T) {
		_, _, err := runCLI(t, append([]string{"keys", "create", "--account", "acct_shop", "--mode", "test", "--kind", "sk", "--idempotency-key", "order-42"}, auth...)...)
		require.NoError(t, err)
		req := api.last()
		assert.Equal(t, "order-42", req.header.Get("Idempotency-Key"))
		assert.JSONEq(t, `{"account":"acct_shop","mode":"test","kind":"sk"}`, req.body)
	})

	t.Run("json", func(t *testing.T) {
		stdout, _, err := runCLI(t, append([]string{"keys", "create", "--account", "acct_shop", "--mode", "live", "--json"}, auth...)...)
		require.NoError(t, err)
		assert.JSONEq(t, fakePairJSON, stdout)
		assert.Equal(t, 1, strings.Count(stdout, "bk_live_sk_PLAINTEXTSECRET"))
	})

	t.Run("replayed", func(t *testing.T) {
		replay := strings.NewReplacer(`,"key":"bk_live_pk_PLAINTEXTPUBLISHABLE"`, "", `,"key":"bk_live_sk_PLAINTEXTSECRET"`, "").Replace(fakePairJSON)
		api := newFakeAPI(t, map[string]fakeReply{"POST /keys": {status: 201, body: replay, header: map[string]string{"Idempotent-Replayed": "true"}}})
		stdout, stderr, err := runCLI(t, "keys", "create", "--account", "acct_shop", "--mode", "live", "--idempotency-key", "k", "--server", api.url, "--admin-key", fakeAdminKey)
		require.NoError(t, err)
		assert.NotContains(t, stdout, "shown once")
		assert.Contains(t, stdout, "S1d2e3f4g5h6i7j8")
		assert.Contains(t, stderr, "replayed")
		assert.NotContains(t, stderr, "shown only this once")
	})
}

func TestCLIRetry(t *testing.T) {
	clearEnv(t)
	api := newFakeAPI(t, map[string]fakeReply{
		"POST /keys/K1/revoke": {status: 200, body: fakeKeyJSON, hangUp: 1},
		"GET /keys/K1":         {status: 200, body: fakeKeyJSON, hangUp: 1},
		"POST /keys/K2/revoke": {status: 200, body: fakeKeyJSON, hangUp: 5},
	})
	auth := []string{"--server", api.url, "--admin-key", fakeAdminKey}

	t.Run("a POST is sent again with the same key", func(t *testing.T) {
		stdout, _, err := runCLI(t, append([]string{"keys", "revoke", "K1"}, auth...)...)
		require.NoError(t, err)
		assert.Contains(t, stdout, "revoked")
		var keys []string
		for _, r := range api.requests() {
			if r.path == "/keys/K1/revoke" {
				keys = append(keys, r.header.Get("Idempotency-Key"))
			}
		}
		require.GreaterOrEqual(t, len(keys), 2)
		for _, k := range keys {
			assert.Equal(t, keys[0], k)
		}
		assert.NotEmpty(t, keys[0])
	})

	t.Run("only once", func(t *testing.T) {
		_, _, err := runCLI(t, append([]string{"keys", "revoke", "K2"}, auth...)...)
		require.Error(t, err)
		assert.Equal(t, 1, exitCode(err))
		assert.Contains(t, err.Error(), "keys revoke: connection to http://127.0.0.1:")
	})

	t.Run("a GET is not retried", func(t *testing.T) {
		_, _, err := runCLI(t, append([]string{"keys", "show", "K1"}, auth...)...)
		require.Error(t, err)
		n := 0
		for _, r := range api.requests() {
			if r.path == "/keys/K1" {
				n++
			}
		}
		assert.Equal(t, 1, n)
	})
}

func TestCLIRequests(t *testing.T) {
	clearEnv(t)
	api := newFakeAPI(t, map[string]fakeReply{
		"POST /keys/K1/rotate":         {status: 200, body: strings.Replace(fakeKeyJSON, `"created_by"`, `"key":"bk_test_sk_NEWPLAINTEXT","created_by"`, 1)},
		"POST /keys/K1/approve":        {status: 200, body: fakeKeyJSON},
		"POST /keys/K1/disable":        {status: 200, body: strings.Replace(fakeKeyJSON, `"status":"active"`, `"status":"active","disabled":true`, 1)},
		"POST /keys/K1/enable":         {status: 200, body: fakeKeyJSON},
		"POST /accounts":               {status: 201, body: fakeAccountJSON},
		"GET /accounts/acct_shop":      {status: 200, body: fakeAccountJSON},
		"PATCH /accounts/acct_shop":    {status: 200, body: fakeAccountJSON},
		"POST /hmac-keys":              {status: 201, body: fakeHMACJSON},
		"POST /hmac-keys/hk_1/rotate":  {status: 200, body: fakeHMACJSON},
		"POST /hmac-keys/hk_1/revoke":  {status: 200, body: strings.Replace(fakeHMACJSON, `,"secret":"SECRETBASE64=="`, "", 1)},
		"GET /hmac-keys/hk_1":          {status: 200, body: strings.Replace(fakeHMACJSON, `,"secret":"SECRETBASE64=="`, "", 1)},
		"POST /tokens/revoke":          {status: 200, body: `{"revoked":"family","id":"fam_1"}`},
		"GET /keys/a%2Fb":              {status: 200, body: fakeKeyJSON},
		"GET /audit":                   {status: 200, body: `{"data":[]}`},
		"GET /keys":                    {status: 200, body: `{"data":[]}`},
		"GET /hmac-keys":               {status: 200, body: `{"data":[]}`},
		"GET /accounts":                {status: 200, body: `{"data":[]}`},
		"POST /keys/weird%20id/revoke": {status: 200, body: fakeKeyJSON},
	})
	auth := []string{"--server", api.url, "--admin-key", fakeAdminKey}
	for _, tc := range []struct {
		name      string
		args      []string
		method    string
		path      string
		query     url.Values
		body      string // JSON; empty: no check
		stdout    []string
		stderr    string
		noStdout  string
		idempotKy bool
	}{
		{name: "rotate with grace", args: []string{"keys", "rotate", "K1", "--grace", "1h"}, method: "POST", path: "/keys/K1/rotate",
			body: `{"grace_seconds":3600}`, stdout: []string{"Rotated key K1d2e3f4g5h6i7j8", "new secret key (shown once): bk_test_sk_NEWPLAINTEXT"}, stderr: "keeps working for 1h0m0s"},
		{name: "rotate now", args: []string{"keys", "rotate", "--grace", "0s", "K1"}, method: "POST", path: "/keys/K1/rotate",
			body: `{"grace_seconds":0}`, stderr: "no longer works"},
		{name: "approve", args: []string{"keys", "approve", "K1"}, method: "POST", path: "/keys/K1/approve", body: `{}`, stdout: []string{"Key K1d2e3f4g5h6i7j8 approved."}},
		{name: "disable", args: []string{"keys", "disable", "K1"}, method: "POST", path: "/keys/K1/disable", body: `{}`, stdout: []string{"status:", "active (disabled)"}},
		{name: "enable", args: []string{"keys", "enable", "K1"}, method: "POST", path: "/keys/K1/enable", body: `{}`},
		{name: "odd ID escaped", args: []string{"keys", "revoke", "weird id"}, method: "POST", path: "/keys/weird%20id/revoke"},
		{name: "slash in ID escaped", args: []string{"keys", "show", "a/b"}, method: "GET", path: "/keys/a%2Fb"},
		{name: "accounts create", args: []string{"accounts", "create", "--name", "Shop", "--package", "GO", "--id", "acct_shop"}, method: "POST", path: "/accounts",
			body: `{"id":"acct_shop","name":"Shop","package":"GO"}`, stdout: []string{"id:", "acct_shop", "package:", "GO"}},
		{name: "accounts create generated ID", args: []string{"accounts", "create", "--name", "Shop"}, method: "POST", path: "/accounts", body: `{"name":"Shop"}`},
		{name: "accounts show", args: []string{"accounts", "show", "acct_shop"}, method: "GET", path: "/accounts/acct_shop", stdout: []string{"Shop"}},
		{name: "accounts update", args: []string{"accounts", "update", "acct_shop", "--package", "GROW"}, method: "PATCH", path: "/accounts/acct_shop", body: `{"package":"GROW"}`},
		{name: "hmac create", args: []string{"hmac-keys", "create", "--account", "acct_shop", "--mode", "test", "--permissions", "orders:write"}, method: "POST", path: "/hmac-keys",
			body:   `{"account":"acct_shop","mode":"test","permissions":["orders:write"]}`,
			stdout: []string{"hmac key id:", "hk_0123456789abcdef", "hmac secret (base64, shown once):", "SECRETBASE64=="}, stderr: "shown only this once"},
		{name: "hmac rotate", args: []string{"hmac-keys", "rotate", "hk_1", "--grace", "90s"}, method: "POST", path: "/hmac-keys/hk_1/rotate", body: `{"grace_seconds":90}`, stdout: []string{"SECRETBASE64=="}},
		{name: "hmac revoke", args: []string{"hmac-keys", "revoke", "hk_1"}, method: "POST", path: "/hmac-keys/hk_1/revoke", body: `{}`, stdout: []string{"HMAC credential revoked."}},
		{name: "hmac show", args: []string{"hmac-keys", "show", "hk_1"}, method: "GET", path: "/hmac-keys/hk_1", noStdout: "secret"},
		{name: "tokens revoke", args: []string{"tokens", "revoke", "--family", "fam_1"}, method: "POST", path: "/tokens/revoke", body: `{"family":"fam_1"}`, stdout: []string{"Revoked: family fam_1"}},
		{name: "keys list filters", args: []string{"keys", "list", "--account", "acct_shop", "--mode", "live", "--status", "pending_review", "--limit", "5"}, method: "GET", path: "/keys",
			query: url.Values{"account": {"acct_shop"}, "mode": {"live"}, "status": {"pending_review"}, "limit": {"5"}}, stdout: []string{"No keys."}},
		{name: "hmac list filters", args: []string{"hmac-keys", "list", "--account", "acct_shop", "--cursor", "c1"}, method: "GET", path: "/hmac-keys",
			query: url.Values{"account": {"acct_shop"}, "cursor": {"c1"}}},
		{name: "accounts list", args: []string{"accounts", "list", "--json"}, method: "GET", path: "/accounts", query: url.Values{}, stdout: []string{"[]"}},
		{name: "audit filters", args: []string{"audit", "query", "--key-id", "K1", "--account", "acct_shop", "--mode", "test", "--store", "store_1", "--ip", "192.0.2.1",
			"--decision", "deny", "--reason", "invalid_token", "--action", "key.revoked", "--since", "2026-11-22T10:00:00+01:00", "--until", "2026-11-23T00:00:00Z", "--limit", "100"},
			method: "GET", path: "/audit", query: url.Values{"key_id": {"K1"}, "account": {"acct_shop"}, "mode": {"test"}, "store": {"store_1"}, "ip": {"192.0.2.1"},
				"decision": {"deny"}, "reason": {"invalid_token"}, "action": {"key.revoked"}, "since": {"2026-11-22T09:00:00Z"}, "until": {"2026-11-23T00:00:00Z"}, "limit": {"100"}},
			stdout: []string{"No audit events."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, append(tc.args, auth...)...)
			require.NoError(t, err, "stderr: %s", stderr)
			req := api.last()
			assert.Equal(t, tc.method, req.method)
			assert.Equal(t, tc.path, req.path)
			if tc.query != nil {
				assert.Equal(t, tc.query, req.query)
			}
			if tc.body != "" {
				assert.JSONEq(t, tc.body, req.body)
			}
			if tc.method == "POST" {
				assert.NotEmpty(t, req.header.Get("Idempotency-Key"))
				assert.Equal(t, "application/json", req.header.Get("Content-Type"))
			} else {
				assert.Empty(t, req.header.Get("Idempotency-Key"))
			}
			for _, s := range tc.stdout {
				assert.Contains(t, stdout, s)
			}
			if tc.noStdout != "" {
				assert.NotContains(t, stdout, tc.noStdout)
			}
			if tc.stderr != "" {
				assert.Contains(t, stderr, tc.stderr)
			}
		})
	}
}

func TestCLILists(t *testing.T) {
	clearEnv(t)
	key := func(id, name string) string {
		return strings.NewReplacer("K1d2e3f4g5h6i7j8", id, `"name":"backend"`, `"name":"`+name+`"`).Replace(fakeKeyJSON)
	}
	api := newFakeAPI(t, map[string]fakeReply{
		"GET /keys":                 {status: 200, body: `{"data":[` + key("A000000000000001", "one") + `,` + key("A000000000000002", "two") + `],"next_cursor":"c2"}`},
		"GET /keys?cursor=c2":       {status: 200, body: `{"data":[` + key("A000000000000003", `three\tthree\u001b[2J`) + `],"next_cursor":"c3"}`},
		"GET /keys?cursor=c3":       {status: 200, body: `{"data":[]}`},
		"GET /audit":                {status: 200, body: `{"data":[{"seq":2,"time":"2026-11-22T10:00:01.5Z","action":"key.revoked","actor":"ADMINID","key_id":"K1","account":"acct_shop"},{"seq":1,"time":"2026-11-22T10:00:00Z","method":"GET","path":"/v1/whoami","status":401,"decision":"deny","reason":"invalid_token","ip":"127.0.0.1"},{"gap":3,"time":"2026-11-22T09:00:00Z"}]}`},
		"GET /hmac-keys":            {status: 200, body: `{"data":[` + strings.Replace(fakeHMACJSON, `,"secret":"SECRETBASE64=="`, "", 1) + `]}`},
		"GET /accounts":             {status: 200, body: `{"data":[` + fakeAccountJSON + `],"next_cursor":"same"}`},
		"GET /accounts?cursor=same": {status: 200, body: `{"data":[` + fakeAccountJSON + `],"next_cursor":"same"}`},
	})
	auth := []string{"--server", api.url, "--admin-key", fakeAdminKey}

	t.Run("one page, as a table", func(t *testing.T) {
		stdout, stderr, err := runCLI(t, append([]string{"keys", "list"}, auth...)...)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		require.Len(t, lines, 3)
		assert.Regexp(t, `^ID +ACCOUNT +MODE +KIND +STATUS +NAME +KEY +CREATED +LAST USED$`, lines[0])
		assert.Regexp(t, `^A000000000000001 +acct_shop +test +sk +active +one +bk_test_sk_\.\.\.Zz9Q +2026-11-22T10:00:00Z +2026-11-22T11:00:00Z$`, lines[1])
		assert.Contains(t, stderr, "more keys: add --cursor c2, or --all")
	})

	t.Run("every page, as JSON", func(t *testing.T) {
		stdout, stderr, err := runCLI(t, append([]string{"keys", "list", "--all", "--json"}, auth...)...)
		require.NoError(t, err)
		assert.Empty(t, stderr)
		var items []map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &items))
		require.Len(t, items, 3)
		for i, id := range []string{"A000000000000001", "A000000000000002", "A000000000000003"} {
			assert.Equal(t, id, items[i]["id"])
		}
		assert.Equal(t, "bk_test_sk_", items[0]["prefix"], "the API's fields, as they are")
	})

	t.Run("control characters are not printed", func(t *testing.T) {
		stdout, _, err := runCLI(t, append([]string{"keys", "list", "--all"}, auth...)...)
		require.NoError(t, err)
		assert.NotContains(t, stdout, "\x1b")
		assert.Contains(t, stdout, "three?three?[2J")
		assert.Len(t, strings.Split(strings.TrimSpace(stdout), "\n"), 4)
	})

	t.Run("audit", func(t *testing.T) {
		stdout, _, err := runCLI(t, append([]string{"audit", "query"}, auth...)...)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		require.Len(t, lines, 4)
		assert.Regexp(t, `^TIME +EVENT +DECISION +REASON +KEY ID +ACCOUNT +MODE +STORE +IP$`, lines[0])
		assert.Regexp(t, `^2026-11-22T10:00:01Z +key.revoked by ADMINID +- +- +K1 +acct_shop`, lines[1])
		assert.Regexp(t, `^2026-11-22T10:00:00Z +GET /v1/whoami 401 +deny +invalid_token +- +- +- +- +127.0.0.1$`, lines[2])
		assert.Contains(t, lines[3], "3 events lost")
	})

	t.Run("hmac", func(t *testing.T) {
		stdout, _, err := runCLI(t, append([]string{"hmac-keys", "list"}, auth...)...)
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^hk_0123456789abcdef +acct_shop +test +active +- +2026-11-22T10:00:00Z +-$`, stdout)
	})

	t.Run("a cursor that repeats stops the walk", func(t *testing.T) {
		_, _, err := runCLI(t, append([]string{"accounts", "list", "--all"}, auth...)...)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "same next_cursor twice")
		stdout, _, err := runCLI(t, append([]string{"accounts", "list"}, auth...)...)
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^acct_shop +Shop +GO +2026-11-22T10:00:00Z +2026-11-22T10:00:00Z$`, stdout)
	})
}

func TestCLIInit(t *testing.T) {
	stdout, stderr, err := runCLI(t, "init")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^admin key \(shown once\): (bk_test_sk_[0-9A-Za-z]{65})$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "stdout: %s", stdout)
	assert.Equal(t, 1, strings.Count(stdout, m[1]))
	assert.Contains(t, stdout, adminAccount)
	assert.Contains(t, stdout, "*:*")
	assert.Contains(t, stderr, "does not outlive this command")
	assert.NotContains(t, stderr, m[1])
	// The console's first operator, printed once too.
	op := regexp.MustCompile(`(?m)^console user \(shown once\): (admin) / ([A-Z2-7]{26})$`).FindStringSubmatch(stdout)
	require.NotNil(t, op, "stdout: %s", stdout)
	assert.Equal(t, 1, strings.Count(stdout, op[2]))
	assert.NotContains(t, stderr, op[2])

	stdout, _, err = runCLI(t, "init", "--db", "memory", "--json")
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	assert.Equal(t, adminAccount, out["account"])
	assert.Regexp(t, `^bk_test_sk_`, out["key"])
	assert.Equal(t, []any{"*:*"}, out["permissions"])
	assert.Equal(t, consoleOperator, out["console_user"])
	assert.Regexp(t, `^[A-Z2-7]{26}$`, out["console_password"])
}

func TestInitAdmin(t *testing.T) {
	ctx := context.Background()
	accounts, err := account.NewManager(account.Config{})
	require.NoError(t, err)
	keys, err := apikey.NewManager(apikey.Config{})
	require.NoError(t, err)

	key, rec, err := initAdmin(ctx, accounts, keys)
	require.NoError(t, err)
	verified, err := keys.Verify(ctx, key.Reveal())
	require.NoError(t, err)
	assert.Equal(t, rec.ID, verified.ID)
	assert.Equal(t, apikey.StatusActive, verified.Status)
	assert.Equal(t, adminPermissions, verified.Permissions)
	assert.Equal(t, adminAccount, verified.Account)
	_, err = accounts.Get(ctx, adminAccount)
	require.NoError(t, err)

	_, _, err = initAdmin(ctx, accounts, keys)
	require.ErrorIs(t, err, errNotEmpty, "a second init is refused")

	t.Run("another account exists", func(t *testing.T) {
		accounts, err := account.NewManager(account.Config{})
		require.NoError(t, err)
		_, err = accounts.Create(ctx, account.CreateParams{Name: "shop"})
		require.NoError(t, err)
		keys, err := apikey.NewManager(apikey.Config{})
		require.NoError(t, err)
		_, _, err = initAdmin(ctx, accounts, keys)
		require.ErrorIs(t, err, errNotEmpty)
	})

	t.Run("a key exists", func(t *testing.T) {
		accounts, err := account.NewManager(account.Config{})
		require.NoError(t, err)
		keys, err := apikey.NewManager(apikey.Config{})
		require.NoError(t, err)
		_, _, err = keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_other", Mode: "test"}, Kind: "sk"})
		require.NoError(t, err)
		_, _, err = initAdmin(ctx, accounts, keys)
		require.ErrorIs(t, err, errNotEmpty)
	})
}
