package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// consoleSignIn posts the console's sign-in form to base as a plain HTTP
// client and returns the status, where it redirects to, and the session
// cookie it sets ("" if none).
func consoleSignIn(t *testing.T, base, username, password string) (status int, location, cookie string) {
	t.Helper()
	return consoleSignInHost(t, base, "", username, password)
}

// consoleSignInHost is consoleSignIn with the Host header host (the
// URL's when empty).
func consoleSignInHost(t *testing.T, base, host, username, password string) (status int, location, cookie string) {
	t.Helper()
	c := noRedirects(t)
	req := newRequest(t, http.MethodPost, base+consolePrefix+"/signin", url.Values{"username": {username}, "password": {password}})
	if host != "" {
		req.Host = host
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-keygate-session" && ck.Value != "" {
			cookie = ck.Value
		}
	}
	return res.StatusCode, res.Header.Get("Location"), cookie
}

// noRedirects is a client for one test that follows no redirect.
func noRedirects(t *testing.T) *http.Client {
	c := httpClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// consoleGet GETs the console page at path with the session cookie (none
// when empty), following no redirect, and returns the status and body.
func consoleGet(t *testing.T, base, path, cookie string) (int, string) {
	t.Helper()
	res := consoleGetResponse(t, base, path, cookie)
	return res.status, string(res.body)
}

// consoleGetResponse is consoleGet, returning the whole response.
func consoleGetResponse(t *testing.T, base, path, cookie string) response {
	t.Helper()
	r := newRequest(t, http.MethodGet, base+path, nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "__Host-keygate-session", Value: cookie})
	}
	return send(t, noRedirects(t), r)
}

// requireConsoleUser requires that username signs in to the console of
// base with password, as role (and account, for an owner), and that a
// wrong password does not.
func requireConsoleUser(t *testing.T, base, username, password, role, account string) {
	t.Helper()
	status, loc, cookie := consoleSignIn(t, base, username, password)
	require.Equal(t, http.StatusSeeOther, status, "%s signs in to the console", username)
	require.NotEmpty(t, cookie, "%s: a session cookie", username)
	assert.Equal(t, consolePrefix+"/", loc)
	status, body := consoleGet(t, base, consolePrefix+"/", cookie)
	require.Equal(t, http.StatusOK, status, "%s: the overview", username)
	assert.Contains(t, body, role, "%s: the page names the role", username)
	if account != "" {
		assert.Contains(t, body, account)
	}
	status, _, cookie = consoleSignIn(t, base, username, password+"x")
	assert.Equal(t, http.StatusUnauthorized, status, "%s: a wrong password", username)
	assert.Empty(t, cookie)
}

// TestServeConsole checks the console that serve mounts at /console/:
// signed out it sends to the sign-in page; the printed console user is an
// operator, and the printed demo user the owner of acct_demo, with the
// password it has for the password grant.
func TestServeConsole(t *testing.T) {
	in := startInstance(t, "--db", "memory")
	status, body := consoleGet(t, in.url, consolePrefix+"/", "")
	require.Equal(t, http.StatusSeeOther, status, "body: %s", body)
	status, body = consoleGet(t, in.url, consolePrefix+"/signin", "")
	require.Equal(t, http.StatusOK, status)
	require.True(t, strings.Contains(body, `name="username"`) && strings.Contains(body, `name="password"`), "the sign-in form: %s", body)

	require.Equal(t, consoleOperator, in.keys.operator)
	requireConsoleUser(t, in.url, in.keys.operator, in.keys.operatorPassword, "operator", "")
	requireConsoleUser(t, in.url, in.keys.user, in.keys.password, "owner", demoAccount)
	// The operator's password is its own: the demo user's does not open it.
	status, _, _ = consoleSignIn(t, in.url, in.keys.operator, in.keys.password)
	assert.Equal(t, http.StatusUnauthorized, status)
	// Sign-ins and failed sign-ins are in the audit history, with no
	// password.
	c := httpClient(t)
	for _, action := range []string{"console.sign_in", "console.sign_in_failed"} {
		var events []map[string]any
		eventually(t, 20*time.Millisecond, action+" is audited", func() bool {
			events = auditEvents(t, c, in.url, in.keys.admin, url.Values{"action": {action}})
			return len(events) >= 2
		})
		actors := map[any]bool{}
		for _, e := range events {
			actors[e["actor"]] = true
			raw, err := json.Marshal(e)
			require.NoError(t, err)
			for _, pw := range []string{in.keys.operatorPassword, in.keys.password} {
				require.NotContains(t, string(raw), pw, "a password in an audit event")
			}
		}
		assert.True(t, actors["console:"+in.keys.operator] && actors["console:"+in.keys.user], "%s: actors %v", action, actors)
	}
	// Over plain HTTP, for a name that is not loopback's, the browser
	// would not keep the Secure cookie: refused.
	status, _, cookie := consoleSignInHost(t, in.url, "keygate.example", in.keys.operator, in.keys.operatorPassword)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Empty(t, cookie)
	in.stop(t)
	in.requireNoSecrets(t, in.keys.secrets()...)

	// Behind a proxy that terminates HTTPS, --tls-terminated says so.
	in = startInstance(t, "--db", "memory", "--tls-terminated")
	status, _, cookie = consoleSignInHost(t, in.url, "keygate.example", in.keys.operator, in.keys.operatorPassword)
	assert.Equal(t, http.StatusSeeOther, status)
	assert.NotEmpty(t, cookie)
	in.stop(t)
}
