package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
)

// TestServeAuditFile sends a burst of mixed requests (valid, invalid,
// forbidden, rate-limited, OAuth) to keygate serve --audit-file and checks
// that the file holds exactly one parseable line per audited request, with
// the required fields and no secret.
func TestServeAuditFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	defer stdoutR.Close()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--db", "memory", "--addr", "127.0.0.1:0", "--audit-file", path, "--demo-rate-limit", "3/10m"}, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	b := readBanner(t, stdoutR)
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, p, key string) int {
		req, err := http.NewRequest(method, b.url+p, strings.NewReader("grant_type=client_credentials"))
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := client.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	audited := 0
	statuses := map[int]int{}
	for _, c := range []struct{ method, path, key string }{
		{"GET", "/v1/whoami", b.secret},
		{"GET", "/v1/whoami", b.secret[:len(b.secret)-2] + "zz"},
		{"GET", "/v1/whoami", ""},
		{"POST", "/v1/products", b.publishable},
		{"GET", "/v1/stores", b.prime},
		{"GET", "/v1/stores", b.prime},
		{"GET", "/v1/stores", b.prime},
		{"GET", "/v1/stores", b.prime}, // the 4th of 3: 429
		{"POST", "/oauth/token", ""},
		{"GET", "/v1/stores?token=" + "SECRETQUERYVALUE", b.secret},
	} {
		statuses[send(c.method, c.path, c.key)]++
		audited++
	}
	send("GET", "/healthz", "") // not audited
	assert.Equal(t, 1, statuses[http.StatusTooManyRequests])
	assert.Positive(t, statuses[http.StatusForbidden])

	// /metrics counts the same requests by decision (and is not counted).
	var counted float64
	for range 2 {
		res, err := client.Get(b.url + "/metrics")
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		metrics := string(raw)
		for _, series := range []string{
			`keygate_requests_total{auth_method="api_key",decision="allow",reason="ok"} 5` + "\n",
			`keygate_requests_total{auth_method="api_key",decision="deny",reason="rate_limited"} 1` + "\n",
			`keygate_requests_total{auth_method="none",decision="deny",reason="invalid_token"} 1` + "\n",
			`keygate_request_duration_seconds_count{auth_method="api_key",decision="allow"} 5` + "\n",
		} {
			if !strings.Contains(metrics, series) {
				assert.Failf(t, "series missing from /metrics", "%s", series) // not the whole page: it is long
			}
		}
		counted = 0
		for _, line := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(line, "keygate_requests_total{") {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				require.NoError(t, err)
				counted += v
			}
		}
	}
	assert.Equal(t, float64(audited), counted, "every audited request is counted once")

	cancel()
	require.NoError(t, <-done)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, secret := range []string{b.secret, b.publishable, b.prime, b.admin, b.password, b.hmacSecret, "SECRETQUERYVALUE"} {
		assert.NotContains(t, string(raw), secret)
	}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	lines := 0
	refused := map[string]map[string]any{} // by reason
	for sc.Scan() {
		var e map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		if e["action"] != nil {
			continue // a management event (the demo data's creation)
		}
		for _, field := range []string{"time", "ip", "method", "path", "status", "decision", "reason"} {
			assert.Contains(t, e, field, sc.Text())
		}
		switch e["status"] {
		case float64(http.StatusForbidden), float64(http.StatusTooManyRequests):
			refused[e["reason"].(string)] = e
		}
		lines++
	}
	// Refused after authentication: the caller is named.
	scope, limited := refused["insufficient_scope"], refused["rate_limited"]
	require.NotNil(t, scope, "the publishable key on a secret route")
	assert.Equal(t, "api_key", scope["auth_method"])
	assert.Equal(t, keyID(b.publishable), scope["key_id"])
	assert.Equal(t, "acct_demo", scope["account"])
	assert.Equal(t, "test", scope["mode"])
	assert.Equal(t, "deny", scope["decision"])
	require.NotNil(t, limited, "the prime key over its limit")
	assert.Equal(t, keyID(b.prime), limited["key_id"])
	assert.Equal(t, "acct_prime", limited["account"])
	assert.Equal(t, "store_1", limited["store"])
	assert.Equal(t, audited, lines, "exactly one request event per audited request")
}

// TestServeAuditsManagementActions checks that management actions taken
// while serving (here through the OAuth endpoints: a refresh token
// replayed, an access token revoked) are in the audit file, with their
// actor, after the demo data's creation by the actor "system".
func TestServeAuditsManagementActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	defer stdoutR.Close()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--db", "memory", "--addr", "127.0.0.1:0", "--audit-file", path}, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	b := readBanner(t, stdoutR)

	// A refresh token used twice revokes its family.
	pk := keyID(b.publishable)
	r := postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {pk},
		"username": {b.user}, "password": {b.password}}, "", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	first := decode(t, r)["refresh_token"].(string)
	for range 2 {
		postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {pk}, "refresh_token": {first}}, "", "")
	}
	// A client revokes its access token.
	sk := keyID(b.secret)
	r = postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, sk, b.secret)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	access := decode(t, r)["access_token"].(string)
	r = postForm(t, b.url+"/oauth/revoke", url.Values{"token": {access}}, sk, b.secret)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	cancel()
	require.NoError(t, <-done)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, secret := range []string{b.secret, b.publishable, b.password, first, access} {
		assert.NotContains(t, string(raw), secret)
	}
	actions := map[string]audit.Event{}
	startup := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var e audit.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		switch {
		case e.Action == "":
		case e.Actor == systemActor:
			startup[e.Action]++
		default:
			require.NotContains(t, actions, e.Action, "one event per action")
			actions[e.Action] = e
		}
	}
	assert.Equal(t, map[string]int{"account.created": 3, "key.created": 4, "hmac.created": 1}, startup,
		"the demo data's creation, by the actor system")
	require.Len(t, actions, 2, "%v", actions)
	reuse := actions["refresh.reuse_detected"]
	assert.Equal(t, pk, reuse.Actor)
	assert.Equal(t, "user_demo", reuse.Subject)
	assert.NotEmpty(t, reuse.TokenID, "the family")
	assert.Equal(t, audit.Deny, reuse.Decision)
	revoked := actions["token.revoked"]
	assert.Equal(t, sk, revoked.Actor)
	assert.Equal(t, sk, revoked.KeyID)
	assert.NotEmpty(t, revoked.TokenID, "the jti")
	assert.Equal(t, "acct_demo", revoked.Account)
}

// TestServeAuditsStartupCreations checks that a fresh serve's demo data
// starts the audit history: one account.created, key.created or
// hmac.created event per account, key and credential, by the actor
// "system", without a secret, each first in its key's history.
func TestServeAuditsStartupCreations(t *testing.T) {
	in := startInstance(t, "--db", "memory")
	b := in.keys
	c := httpClient(t)
	// The writer is asynchronous: wait for the last creation, acct_admin's.
	eventually(t, 20*time.Millisecond, "the demo data's creation reaches the audit history", func() bool {
		return len(auditEvents(t, c, in.url, b.admin, url.Values{"account": {adminAccount}, "action": {"account.created"}})) == 1
	})
	r := call(t, c, http.MethodGet, in.url+"/admin/v1/audit?limit=100", nil, bearer(b.admin)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	for _, secret := range b.secrets() {
		require.NotContains(t, string(r.body), secret, "no secret in the audit history")
	}
	want := map[string]string{ // key or credential ID -> action
		keyID(b.secret): "key.created", keyID(b.publishable): "key.created", keyID(b.prime): "key.created",
		keyID(b.admin): "key.created", b.hmacID: "hmac.created",
	}
	for id, action := range want {
		events := auditEvents(t, c, in.url, b.admin, url.Values{"key_id": {id}})
		require.NotEmpty(t, events, "%s has a history", id)
		first := events[len(events)-1] // newest first
		assert.Equal(t, action, first["action"], "%s: its history starts with its creation", id)
		assert.Equal(t, systemActor, first["actor"], id)
		assert.Equal(t, "test", first["mode"], id)
		assert.NotEmpty(t, first["account"], id)
	}
	accounts := map[string]any{}
	for _, e := range auditEvents(t, c, in.url, b.admin, url.Values{"action": {"account.created"}}) {
		assert.Equal(t, systemActor, e["actor"])
		accounts[e["account"].(string)] = e
	}
	assert.Len(t, accounts, 3)
	for _, id := range []string{demoAccount, primeAccount, adminAccount} {
		assert.Contains(t, accounts, id)
	}
	in.stop(t)
}
