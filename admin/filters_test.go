package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
)

// TestListFilters: the account search (q), and the key filters kind and
// expires_before, with pagination.
func TestListFilters(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	for _, c := range []struct{ id, name string }{
		{"acct_corner", "Corner Shop"},
		{"acct_other", "Buyer"},
		{"acct_shopper", "Anyone"},
		{"acct_pct", "100% natural"},
	} {
		_, err := e.accounts.Create(ctx, account.CreateParams{ID: c.id, Name: c.name})
		require.NoError(t, err)
	}
	accounts := func(q string) []string {
		return walk(t, e, "/accounts?q="+url.QueryEscape(q), 1, func(a admin.Account) string { return a.ID }, nil)
	}
	assert.Equal(t, []string{"acct_corner", "acct_shopper"}, accounts("SHOP"))
	assert.Equal(t, []string{"acct_pct"}, accounts("0%"))
	assert.Empty(t, accounts("nothing"))
	assert.Len(t, accounts(""), 5, "an empty q: every account (acct_admin too)")

	now := e.clock.Now()
	var soon, later, never, pk string
	for _, c := range []struct {
		id      *string
		kind    keygate.Kind
		expires time.Time
	}{
		{&soon, keygate.KindSecret, now.Add(24 * time.Hour)},
		{&later, keygate.KindSecret, now.Add(30 * 24 * time.Hour)},
		{&never, keygate.KindSecret, time.Time{}},
		{&pk, keygate.KindPublishable, now.Add(2 * 24 * time.Hour)},
	} {
		k, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_corner", Mode: keygate.ModeTest}, Kind: c.kind, Expires: c.expires})
		require.NoError(t, err)
		*c.id = k.ID()
	}
	keys := func(query string) []string {
		return walk(t, e, "/keys?account=acct_corner&"+query, 1, func(k admin.Key) string { return k.ID }, nil)
	}
	week := url.QueryEscape(now.Add(7 * 24 * time.Hour).Format(time.RFC3339))
	assert.ElementsMatch(t, []string{soon, pk}, keys("expires_before="+week))
	assert.ElementsMatch(t, []string{soon}, keys("kind=sk&expires_before="+week))
	assert.ElementsMatch(t, []string{pk}, keys("kind=pk"))
	assert.ElementsMatch(t, []string{soon, later, never}, keys("kind=sk"))
	assert.Empty(t, keys("expires_before="+url.QueryEscape(now.Format(time.RFC3339))))

	for _, path := range []string{
		"/keys?kind=rk", "/keys?kind=", "/keys?expires_before=tomorrow", "/keys?expires_before=",
		"/accounts?q=%00", "/accounts?q=" + url.QueryEscape(string(make([]byte, 201))),
	} {
		r := e.get(e.readKey, path)
		mustStatus(t, r, http.StatusBadRequest)
		assert.Equal(t, admin.CodeInvalidRequest, errorCode(t, r), path)
	}
	e.checkDocumented(t)
}
