package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
)

// TestCLIIPRulesEndToEnd adds, lists and deletes IP rules through the
// command line against keygate serve (in memory): a rule of the demo
// account for the loopback address the tests call from refuses the
// account's key on the next request (403 ip_forbidden) and its clients at
// the token endpoint, leaves the other accounts alone, and stops refusing
// once deleted.
func TestCLIIPRulesEndToEnd(t *testing.T) {
	b := startServe(t)
	cli := &adminCLI{t: t, b: b}
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, b.secret))
	assert.Equal(t, "No IP rules.\n", cli.ok("ip-rules", "list"))

	out := cli.ok("ip-rules", "add", "deny", "127.0.0.1", "--account", demoAccount, "--note", "loopback", "--json")
	var rule admin.IPRule
	require.NoError(t, json.Unmarshal([]byte(out), &rule), out)
	assert.Equal(t, admin.IPRule{ID: rule.ID, Account: demoAccount, Action: "deny", CIDR: "127.0.0.1/32", Note: "loopback",
		Created: rule.Created, CreatedBy: rule.CreatedBy}, rule)
	assert.NotEmpty(t, rule.CreatedBy)

	r := get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+b.secret)
	assert.Equal(t, http.StatusForbidden, r.status, "body: %s", r.body)
	assert.Equal(t, "ip_forbidden", jsonBody(t, r)["error"])
	assert.Equal(t, http.StatusOK, whoamiStatus(t, b, b.prime), "another account")
	r = passwordGrant(t, http.DefaultClient, b.url, b)
	assert.Equal(t, http.StatusUnauthorized, r.status, "the token endpoint applies the account's rules: %s", r.body)

	// A service-wide IPv6 rule (an allow list without loopback would lock
	// everybody out), shown beside it.
	out = cli.ok("ip-rules", "add", "deny", "2001:db8::/32")
	assert.Regexp(t, `(?m)^account: +\(service\)$`, out)
	assert.Regexp(t, `(?m)^cidr: +2001:db8::/32$`, out)
	list := cli.ok("ip-rules", "list")
	assert.Contains(t, list, rule.ID)
	assert.Contains(t, list, "(service)")
	assert.Equal(t, 3, strings.Count(list, "\n"), "a header and two rules: %s", list)
	acct := cli.ok("ip-rules", "list", "--account", demoAccount)
	assert.Contains(t, acct, rule.ID)
	assert.NotContains(t, acct, "(service)")
	svc := cli.ok("ip-rules", "list", "--service")
	assert.NotContains(t, svc, rule.ID)
	assert.Contains(t, svc, "2001:db8::/32")

	out = cli.ok("ip-rules", "delete", rule.ID)
	assert.Regexp(t, `(?m)^id: +`+rule.ID+`$`, out)
	assert.Equal(t, http.StatusOK, whoamiStatus(t, b, b.secret), "the key works again on the next request")
	_, _, err := cli.run("ip-rules", "delete", rule.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no IP rule has this ID")

	// Bad input: the server's field error, or a usage error before any
	// request.
	_, _, err = cli.run("ip-rules", "add", "deny", "10.1.2.3/8")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cidr")
	for _, args := range [][]string{
		{"ip-rules", "add", "block", "192.0.2.1"},
		{"ip-rules", "add", "deny"},
		{"ip-rules", "list", "--account", demoAccount, "--service"},
		{"ip-rules", "delete"},
		{"ip-rules", "nope"},
	} {
		_, _, err := cli.run(args...)
		assert.ErrorIs(t, err, errUsage, "%q", args)
	}
}
