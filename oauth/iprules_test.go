package oauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/middleware"
)

// TestGuardIPRulesAtTokenEndpoint: the token endpoint applies the
// service-wide IP rules and those of the client's account, through the
// Guard's CheckOrigin, as the protected routes do: a client calling from
// a denied address is invalid_client.
func TestGuardIPRulesAtTokenEndpoint(t *testing.T) {
	store := iprule.NewMemoryStore()
	checker := iprule.NewChecker(store, iprule.CheckerConfig{})
	e := newGuardEnv(t, guardOptions{access: middleware.AccessConfig{IPRules: checker}})
	add := func(acct, cidr string) {
		t.Helper()
		_, err := store.Create(context.Background(), iprule.Rule{ID: iprule.NewID(), Account: acct, Action: iprule.Deny, CIDR: cidr})
		require.NoError(t, err)
		checker.Invalidate()
	}
	add(testAccount, "192.0.2.66/32")
	add("acct_other", "192.0.2.1/32")
	add("", "2001:db8::/32")
	for _, tc := range []struct {
		name, remote string
		want         int
	}{
		{"the account's deny rule", "192.0.2.66:1", 401},
		{"another account's rule", "192.0.2.1:1", 200},
		{"a service-wide IPv6 rule", "[2001:db8::9]:1", 401},
		{"no rule", "198.51.100.1:1", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(e.token, tc.remote, clientCredentials(), e.sk.ID(), e.sk.Reveal())
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == 401 {
				assert.Equal(t, "invalid_client", oauthCode(t, rec))
				assert.Equal(t, http.StatusForbidden, bearer(e.protected, tc.remote, e.sk.Reveal()).Code)
			}
		})
	}
}
