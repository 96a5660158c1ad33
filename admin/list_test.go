package admin_test

import (
	"context"
	"fmt"
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
	"github.com/keygate/keygate/httpsig"
)

// walk pages through a list with limit, calling during after each page,
// and returns the IDs in the order received.
func walk[T any](t *testing.T, e *env, path string, limit int, id func(T) string, during func(page int)) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		sep := "?"
		if u, _ := url.Parse(path); u.RawQuery != "" {
			sep = "&"
		}
		r := e.get(e.readKey, path+sep+q.Encode())
		mustStatus(t, r, http.StatusOK)
		var l admin.List[T]
		r.decode(t, &l)
		require.LessOrEqual(t, len(l.Data), limit)
		for _, x := range l.Data {
			ids = append(ids, id(x))
		}
		if l.NextCursor == "" {
			return ids
		}
		require.Len(t, l.Data, limit, "only the last page is short")
		cursor = l.NextCursor
		if during != nil {
			during(page)
		}
		require.Less(t, page, 10000)
	}
}

// TestPagination: a walk over 1,000 keys returns each exactly once, oldest
// first, even while new keys are added and with many keys created in the
// same instant.
func TestPagination(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	_, err := e.accounts.Create(ctx, account.CreateParams{ID: "acct_p", Name: "Many keys"})
	require.NoError(t, err)
	_, err = e.accounts.Create(ctx, account.CreateParams{ID: "acct_other", Name: "Others"})
	require.NoError(t, err)
	want := map[string]bool{}
	for i := range 1000 {
		if i%2 == 0 {
			e.clock.Advance(time.Millisecond) // the other half share their instant
		}
		_, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_p", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
		require.NoError(t, err)
		want[rec.ID] = true
		if i%100 == 0 {
			_, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_other", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
			require.NoError(t, err)
		}
	}

	for _, limit := range []int{100, 7} {
		added := map[string]bool{}
		ids := walk(t, e, "/keys?account=acct_p", limit, func(k admin.Key) string { return k.ID }, func(page int) {
			if page%3 == 0 { // new keys arrive during the walk
				e.clock.Advance(time.Millisecond)
				_, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_p", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
				require.NoError(t, err)
				added[rec.ID] = true
			}
		})
		seen := map[string]int{}
		for _, id := range ids {
			seen[id]++
		}
		for id := range want {
			assert.Equal(t, 1, seen[id], "key %s seen %d times (limit %d)", id, seen[id], limit)
		}
		for id, n := range seen {
			assert.Equal(t, 1, n, "key %s seen %d times", id, n)
			assert.True(t, want[id] || added[id], "key %s of another account", id)
		}
		for id := range added {
			want[id] = true // created before the next walk
		}
	}

	// The order is (created, id), oldest first.
	recs, err := e.keys.List(ctx, apikey.ListFilter{Account: "acct_p"})
	require.NoError(t, err)
	var order []string
	for _, r := range recs {
		order = append(order, r.ID)
	}
	assert.Equal(t, order, walk(t, e, "/keys?account=acct_p", 100, func(k admin.Key) string { return k.ID }, nil))

	// Without an account filter: every key, the admin keys included.
	all := walk(t, e, "/keys", 100, func(k admin.Key) string { return k.ID }, nil)
	assert.Len(t, all, len(want)+10+4)

	// The default page size, and the last page's cursor.
	r := e.get(e.readKey, "/keys?account=acct_other")
	mustStatus(t, r, http.StatusOK)
	var l admin.List[admin.Key]
	r.decode(t, &l)
	assert.Len(t, l.Data, 10)
	assert.Empty(t, l.NextCursor)
	assert.NotContains(t, string(r.body), "next_cursor")
	r = e.get(e.readKey, "/keys?account=acct_none")
	mustStatus(t, r, http.StatusOK)
	assert.JSONEq(t, `{"data":[]}`, string(r.body))

	// Filters.
	_, _, err = e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_other", Mode: keygate.ModeLive}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	live := walk(t, e, "/keys?mode=live&status=pending_review", 5, func(k admin.Key) string { return k.Status + " " + k.Mode }, nil)
	assert.Equal(t, []string{"pending_review live"}, live)
	e.checkDocumented(t)
}

func TestPaginationAccountsAndHMAC(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	var accts, creds []string
	for i := range 45 {
		if i%3 == 0 {
			e.clock.Advance(time.Second)
		}
		a, err := e.accounts.Create(ctx, account.CreateParams{Name: fmt.Sprint("shop ", i)})
		require.NoError(t, err)
		accts = append(accts, a.ID)
		_, c, err := e.hmac.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: a.ID, Mode: keygate.ModeTest}})
		require.NoError(t, err)
		creds = append(creds, c.KeyID)
	}
	gotAccts := walk(t, e, "/accounts", 10, func(a admin.Account) string { return a.ID }, nil)
	assert.ElementsMatch(t, append([]string{"acct_admin"}, accts...), gotAccts)
	gotCreds := walk(t, e, "/hmac-keys?mode=test", 4, func(c admin.HMACKey) string { return c.ID }, nil)
	assert.ElementsMatch(t, creds, gotCreds)
	one := walk(t, e, "/hmac-keys?account="+accts[7], 4, func(c admin.HMACKey) string { return c.ID }, nil)
	assert.Equal(t, []string{creds[7]}, one)

	// A cursor of one list is refused by another.
	r := e.get(e.readKey, "/accounts?limit=1")
	var l admin.List[admin.Account]
	r.decode(t, &l)
	require.NotEmpty(t, l.NextCursor)
	for _, path := range []string{"/keys", "/hmac-keys"} {
		r := e.get(e.readKey, path+"?cursor="+l.NextCursor)
		mustStatus(t, r, http.StatusBadRequest)
		assert.Equal(t, admin.CodeInvalidRequest, errorCode(t, r))
	}
	e.checkDocumented(t)
}
