package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLIAccountsDisableEnable: "keygate accounts disable|enable ID" POST
// {} to /accounts/ID/disable|enable with an idempotency key, and show the
// account's status.
func TestCLIAccountsDisableEnable(t *testing.T) {
	clearEnv(t)
	disabled := strings.Replace(fakeAccountJSON, `"package":"GO",`, `"package":"GO","disabled":true,`, 1)
	api := newFakeAPI(t, map[string]fakeReply{
		"POST /accounts/acct_shop/disable":  {status: 200, body: disabled},
		"POST /accounts/acct_shop/enable":   {status: 200, body: fakeAccountJSON},
		"POST /accounts/weird%20id/disable": {status: 200, body: disabled},
		"GET /accounts":                     {status: 200, body: `{"data":[` + disabled + `,` + fakeAccountJSON + `]}`},
		"POST /accounts/acct_gone/disable":  {status: 404, body: `{"error":"not_found","error_description":"no account has this ID"}`},
	})
	auth := []string{"--server", api.url, "--admin-key", fakeAdminKey}
	for _, tc := range []struct {
		name, path string
		args       []string
		stdout     []string
	}{
		{"disable", "/accounts/acct_shop/disable", []string{"accounts", "disable", "acct_shop"}, []string{"Account acct_shop disabled.", "status:", "disabled"}},
		{"enable", "/accounts/acct_shop/enable", []string{"accounts", "enable", "acct_shop"}, []string{"Account acct_shop enabled.", "active"}},
		{"odd ID escaped", "/accounts/weird%20id/disable", []string{"accounts", "disable", "weird id"}, nil},
		{"json", "/accounts/acct_shop/disable", []string{"accounts", "disable", "acct_shop", "--json"}, []string{`"disabled": true`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, append(tc.args, auth...)...)
			require.NoError(t, err, "stderr: %s", stderr)
			req := api.last()
			assert.Equal(t, "POST", req.method)
			assert.Equal(t, tc.path, req.path)
			assert.JSONEq(t, `{}`, req.body)
			assert.NotEmpty(t, req.header.Get("Idempotency-Key"))
			for _, s := range tc.stdout {
				assert.Contains(t, stdout, s)
			}
		})
	}

	_, _, err := runCLI(t, append([]string{"accounts", "disable", "acct_gone"}, auth...)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no account has this ID")

	_, stderr, err := runCLI(t, append([]string{"accounts", "disable"}, auth...)...)
	require.Error(t, err, stderr)
}

// TestCLIAccountsDisableEndToEnd disables the demo account through the
// command line against keygate serve (in memory): its key, its signed
// requests and its tokens are refused at once, the admin cannot disable
// its own account, and enabling restores its keys and credentials but not
// the tokens obtained before the disable (as a key's disable does): those
// stay refused, and a token obtained after the enable works.
func TestCLIAccountsDisableEndToEnd(t *testing.T) {
	b := startServe(t)
	cli := &adminCLI{t: t, b: b}
	r := passwordGrant(t, http.DefaultClient, b.url, b)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	token := jsonBody(t, r)["access_token"].(string)
	refresh := jsonBody(t, r)["refresh_token"].(string)
	statuses := func() []int {
		return []int{
			whoamiStatus(t, b, b.secret),
			whoamiStatus(t, b, b.publishable),
			whoamiStatus(t, b, token),
			send(t, http.DefaultClient, signedRequest(t, b, http.MethodGet, b.url+"/v1/whoami", "")).status,
			whoamiStatus(t, b, b.prime), // another account
		}
	}
	require.Equal(t, []int{200, 200, 200, 200, 200}, statuses())

	assert.Regexp(t, `(?m)^status: +disabled$`, cli.ok("accounts", "disable", demoAccount))
	assert.Equal(t, []int{401, 401, 401, 401, 200}, statuses(), "every credential of the account is refused at once")
	r = passwordGrant(t, http.DefaultClient, b.url, b)
	assert.Equal(t, http.StatusUnauthorized, r.status, "the token endpoint refuses the account's clients: %s", r.body)

	_, _, err := cli.run("accounts", "disable", adminAccount)
	require.Error(t, err, "the admin key may not disable its own account")
	assert.Contains(t, err.Error(), "own account")

	disabled := time.Now()
	assert.Regexp(t, `(?m)^status: +active$`, cli.ok("accounts", "enable", demoAccount))
	assert.Equal(t, []int{200, 200, 401, 200, 200}, statuses(), "the access token obtained before the disable stays refused")
	r = refreshGrant(t, http.DefaultClient, b.url, b, refresh)
	assert.Equal(t, http.StatusBadRequest, r.status, "the refresh family obtained before the disable ends: %s", r.body)
	assert.Equal(t, "invalid_grant", jsonBody(t, r)["error"])

	// The cut-off has the resolution of iat, one second: a token issued
	// in the second of the disable is refused too.
	time.Sleep(time.Until(time.Unix(disabled.Unix()+1, 0)))
	r = passwordGrant(t, http.DefaultClient, b.url, b)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	token = jsonBody(t, r)["access_token"].(string)
	assert.Equal(t, []int{200, 200, 200, 200, 200}, statuses(), "a token obtained after the enable works")
	r = refreshGrant(t, http.DefaultClient, b.url, b, jsonBody(t, r)["refresh_token"].(string))
	assert.Equal(t, http.StatusOK, r.status, "and so does its refresh token: %s", r.body)
}
