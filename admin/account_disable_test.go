package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
)

// TestAccountDisable drives POST /accounts/{id}/disable and /enable: the
// account shows disabled, its keys are refused on their next request (the
// Authenticator looks up accounts) and work again once it is enabled;
// only real changes are audited.
func TestAccountDisable(t *testing.T) {
	e := newEnv(t, envOptions{lookupAccounts: true})
	e.createAccount("acct_shop", "GO")
	assert.False(t, e.getAccount("acct_shop").Disabled)
	pair := e.createKeys(`{"account":"acct_shop","mode":"test"}`)
	require.Equal(t, http.StatusOK, e.whoami(pair.Secret.Key))
	require.Equal(t, http.StatusOK, e.whoami(pair.Publishable.Key))

	for _, body := range []string{"", "{}"} {
		r := e.post(e.writeKey, "/accounts/acct_shop/disable", body)
		mustStatus(t, r, http.StatusOK)
		var a admin.Account
		r.decode(t, &a)
		assert.True(t, a.Disabled)
		assert.Equal(t, true, r.json(t)["disabled"], "the JSON shows disabled")
	}
	assert.True(t, e.getAccount("acct_shop").Disabled)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(pair.Secret.Key), "a key of a disabled account is refused")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(pair.Publishable.Key))
	assert.Equal(t, http.StatusOK, e.whoami(e.adminKey), "other accounts are not affected")

	r := e.post(e.writeKey, "/accounts/acct_shop/enable", "{}")
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, false, r.json(t)["disabled"])
	r = e.post(e.writeKey, "/accounts/acct_shop/enable", "")
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, http.StatusOK, e.whoami(pair.Secret.Key), "enabled again")

	// Refusals.
	for _, tc := range []struct {
		key, path, body string
		status          int
		code            string
	}{
		{e.readKey, "/accounts/acct_shop/disable", "", http.StatusForbidden, "insufficient_scope"},
		{e.reviewKey, "/accounts/acct_shop/enable", "", http.StatusForbidden, "insufficient_scope"},
		{"", "/accounts/acct_shop/disable", "", http.StatusUnauthorized, "unauthorized"},
		{e.writeKey, "/accounts/acct_nobody/disable", "", http.StatusNotFound, "not_found"},
		{e.writeKey, "/accounts/bad%20id/enable", "", http.StatusNotFound, "not_found"},
		{e.writeKey, "/accounts/acct_shop/disable", `{"reason":"x"}`, http.StatusBadRequest, ""},
		{e.writeKey, "/accounts/acct_shop/disable", `[]`, http.StatusBadRequest, ""},
	} {
		r := e.post(tc.key, tc.path, tc.body)
		assert.Equal(t, tc.status, r.status, "%s %s: %s", tc.path, tc.body, r.body)
		if tc.code != "" {
			assert.Equal(t, tc.code, errorCode(t, r), "%s %s", tc.path, tc.body)
		}
	}
	// A caller may not lock itself out.
	r = e.post(e.writeKey, "/accounts/acct_admin/disable", "")
	mustStatus(t, r, http.StatusConflict)
	assert.Equal(t, "conflict", errorCode(t, r))
	assert.False(t, e.getAccount("acct_admin").Disabled)
	assert.Equal(t, http.StatusOK, e.whoami(e.adminKey))

	r = e.send(req{method: "GET", path: "/accounts/acct_shop/disable", key: e.adminKey})
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.False(t, e.getAccount("acct_shop").Disabled, "no refused call changed the account")

	// One event per real change, naming the caller.
	var got []string
	for _, ev := range e.events() {
		if ev.Action == "account.disabled" || ev.Action == "account.enabled" {
			assert.Equal(t, "acct_shop", ev.Account)
			assert.Equal(t, e.writeID, ev.Actor)
			got = append(got, ev.Action)
		}
	}
	assert.Equal(t, []string{"account.disabled", "account.enabled"}, got)
}

// getAccount reads an account through the API.
func (e *env) getAccount(id string) admin.Account {
	e.t.Helper()
	r := e.get(e.readKey, "/accounts/"+id)
	mustStatus(e.t, r, http.StatusOK)
	var a admin.Account
	r.decode(e.t, &a)
	return a
}
