package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// scribble writes into every element of p's stores and permissions and
// appends into their spare capacity: what a careless callback or handler
// might do to the Principal it was handed.
func scribble(p keygate.Principal) {
	for i := range p.Stores {
		p.Stores[i] = "victim_store"
	}
	_ = append(p.Stores, "appended")
	for i := range p.Permissions {
		p.Permissions[i] = "admin:*"
	}
}

// TestRateLimitCallbackCannotCorruptStoredGrant: the Principal that
// AccessConfig.RateLimit gets is the caller's to scribble on, whatever
// verified the credential (the Manager on the memory store or behind a
// cache, another KeyVerifier sharing its record, an access token from the
// verifier's cache): the next request, and what is stored, are unchanged.
func TestRateLimitCallbackCannotCorruptStoredGrant(t *testing.T) {
	policy := ratelimit.Policy{Name: "p", Limit: 1000, Window: 60e9}
	var seen [][]string // the stores each call was handed
	limit := func(p keygate.Principal) ratelimit.Policy {
		seen = append(seen, slices.Clone(p.Stores))
		scribble(p)
		return policy
	}
	type setup struct {
		auth  *middleware.Authenticator
		token string
		// stored returns the credential's stores as its store keeps them.
		stored func() []string
	}
	for _, stores := range [][]string{{"store_1"}, {"store_1", "store_2"}, {"store_1", "store_2", "store_3"}} {
		grant := keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: "GO", Stores: slices.Clone(stores), Permissions: []string{"products:read"}}
		manager := func(t *testing.T, store apikey.Store) setup {
			keys, err := apikey.NewManager(apikey.Config{Store: store})
			require.NoError(t, err)
			t.Cleanup(func() { keys.Close(context.Background()) })
			k, _, err := keys.Create(t.Context(), apikey.CreateParams{Kind: keygate.KindSecret, Grant: keygate.CloneGrant(grant)})
			require.NoError(t, err)
			auth, err := middleware.New(middleware.Config{APIKeys: keys, Access: middleware.AccessConfig{RateLimit: limit}})
			require.NoError(t, err)
			return setup{auth, k.Reveal(), func() []string {
				rec, err := store.Get(t.Context(), k.ID())
				require.NoError(t, err)
				return rec.Stores
			}}
		}
		for name, build := range map[string]func(t *testing.T) setup{
			"memory": func(t *testing.T) setup { return manager(t, apikey.NewMemoryStore()) },
			"cached": func(t *testing.T) setup {
				return manager(t, apikey.NewCachedStore(apikey.NewMemoryStore(), apikey.CacheConfig{}))
			},
			"sharing verifier": func(t *testing.T) setup {
				rec := apikey.Record{ID: "k", Kind: keygate.KindSecret, Grant: keygate.CloneGrant(grant)}
				auth, err := middleware.New(middleware.Config{
					APIKeys: verifierFunc(func(context.Context, string) (apikey.Record, error) { return rec, nil }),
					Access:  middleware.AccessConfig{RateLimit: limit}})
				require.NoError(t, err)
				return setup{auth, "anything", func() []string { return rec.Stores }}
			},
			"access token": func(t *testing.T) setup {
				f := newTokenFixture(t, jwt.HS256, 16)
				auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, Access: middleware.AccessConfig{RateLimit: limit}})
				require.NoError(t, err)
				tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: "0jPS8MolTrPGFJph",
					Grant: keygate.CloneGrant(grant), ClientKind: keygate.KindSecret})
				require.NoError(t, err)
				// The verifier's cache is what a later request reads.
				return setup{auth, tok, func() []string {
					c, err := f.verifier.Verify(t.Context(), tok)
					require.NoError(t, err)
					return c.Stores
				}}
			},
		} {
			t.Run(name+"/"+stores[len(stores)-1], func(t *testing.T) {
				s := build(t)
				seen = nil
				h := s.auth.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				for range 2 {
					req := httptest.NewRequest(http.MethodGet, "/", nil)
					req.Header.Set("Authorization", "Bearer "+s.token)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				}
				assert.Equal(t, stores, s.stored(), "the stored record")
				require.Len(t, seen, 2)
				assert.Equal(t, stores, seen[1], "the next request's stores")
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+s.token)
				p, err := s.auth.Check(req, middleware.Rule{})
				require.NoError(t, err)
				assert.Equal(t, stores, p.Stores, "Check's stores")
			})
		}
	}
}
