package main

import (
	"strings"
	"testing"

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
