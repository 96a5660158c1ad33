package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// scribble writes into every element of p's stores and permissions and
// appends into the stores' spare capacity: what a careless callback or
// handler might do to the Principal it was handed (the permissions are
// documented read-only, the list the credential's requests share, which
// the middleware notices as changed: see scribbleStores).
func scribble(p keygate.Principal) {
	scribbleStores(p)
	for i := range p.Permissions {
		p.Permissions[i] = "admin:*"
	}
}

// scribbleStores is scribble on the stores alone, which are the request's
// own once out of the middleware, so that writing them concurrently is no
// data race.
func scribbleStores(p keygate.Principal) {
	for i := range p.Stores {
		p.Stores[i] = "victim_store"
	}
	_ = append(p.Stores, "appended")
}

// TestRateLimitCallbackCannotCorruptStoredGrant: the stores of the
// Principal that AccessConfig.RateLimit gets (as those of the handler's and
// of Check's) are the caller's to scribble on, whatever verified the
// credential (the Manager on the memory store or behind a cache, another
// KeyVerifier sharing its record, a RequestVerifier sharing its
// credential, an access token from the verifier's cache): the next
// request, and what is stored, are unchanged.
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
		// request, when set, makes the request (else a bearer one with
		// token).
		request func() *http.Request
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
			}, nil}
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
				return setup{auth, "anything", func() []string { return rec.Stores }, nil}
			},
			"sharing signature verifier": func(t *testing.T) setup {
				act := httpsig.Active{KeyID: "hk_1", Grant: keygate.CloneGrant(grant)}
				auth, err := middleware.New(middleware.Config{
					Signatures: sharingSignatures{&act},
					Access:     middleware.AccessConfig{RateLimit: limit}})
				require.NoError(t, err)
				return setup{auth, "", func() []string { return act.Stores }, func() *http.Request {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.Header.Set("Signature-Input", `sig1=("@method");keyid="hk_1"`)
					r.Header.Set("Signature", "sig1=:AAAA:")
					return r
				}}
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
				}, nil}
			},
		} {
			t.Run(name+"/"+stores[len(stores)-1], func(t *testing.T) {
				s := build(t)
				newRequest := s.request
				if newRequest == nil {
					newRequest = func() *http.Request {
						req := httptest.NewRequest(http.MethodGet, "/", nil)
						req.Header.Set("Authorization", "Bearer "+s.token)
						return req
					}
				}
				seen = nil
				h := s.auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					p, _ := keygate.FromContext(r.Context())
					scribbleStores(p)
				}))
				for range 2 {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, newRequest())
					require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				}
				assert.Equal(t, stores, s.stored(), "the stored record")
				require.Len(t, seen, 2)
				assert.Equal(t, stores, seen[1], "the next request's stores")
				req := newRequest()
				p, err := s.auth.Check(req, middleware.Rule{})
				require.NoError(t, err)
				assert.Equal(t, stores, p.Stores, "Check's stores")
				scribble(p)
				p, err = s.auth.Check(req, middleware.Rule{})
				require.NoError(t, err)
				assert.Equal(t, stores, p.Stores, "Check's stores after a caller wrote the last")
				assert.Equal(t, stores, s.stored(), "the stored record after Check")
			})
		}
	}
}

// TestConcurrentVerifyWhileKeyChanges runs requests, with a RateLimit
// callback and a handler that scribble on their Principal's stores, while the key's
// stores are updated, it is rotated with grace, disabled and enabled (run
// with -race): every admitted request sees one of the store lists the key
// had, the stored record is never written through a Principal, and once
// revoked the key is refused.
func TestConcurrentVerifyWhileKeyChanges(t *testing.T) {
	keys, err := apikey.NewManager(apikey.Config{Store: apikey.NewMemoryStore()})
	require.NoError(t, err)
	t.Cleanup(func() { keys.Close(context.Background()) })
	lists := [][]string{{"store_1", "store_2"}, {"store_3"}, {"store_4", "store_5", "store_6"}}
	k, _, err := keys.Create(t.Context(), apikey.CreateParams{Kind: keygate.KindSecret,
		Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: slices.Clone(lists[0]), Permissions: []string{"products:read"}}})
	require.NoError(t, err)
	legit := func(s []string) bool {
		return slices.ContainsFunc(lists, func(l []string) bool { return slices.Equal(l, s) })
	}
	var bad, admitted atomic.Int64
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Access: middleware.AccessConfig{RateLimit: func(p keygate.Principal) ratelimit.Policy {
		if !legit(p.Stores) {
			bad.Add(1)
		}
		scribbleStores(p)
		return ratelimit.Policy{}
	}}})
	require.NoError(t, err)
	h := auth.Require(middleware.Rule{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		scribbleStores(p)
	}))
	secret := k.Reveal()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+secret)
				h.ServeHTTP(httptest.NewRecorder(), req)
				if p, err := auth.Check(req, middleware.Rule{}); err == nil {
					admitted.Add(1)
					if !legit(p.Stores) {
						bad.Add(1)
					}
					scribbleStores(p)
				}
			}
		})
	}
	for i := range 2000 {
		l := slices.Clone(lists[i%len(lists)])
		_, err := keys.Update(t.Context(), k.ID(), apikey.Changes{Stores: &l})
		require.NoError(t, err)
		switch {
		case i == 3 || i == 1003: // twice: the first secret stays among the four kept
			_, _, err = keys.Rotate(t.Context(), k.ID(), time.Hour) // the old secret stays valid
		case i%10 == 5:
			_, err = keys.Disable(t.Context(), k.ID())
		case i%10 == 6:
			_, err = keys.Enable(t.Context(), k.ID())
		}
		require.NoError(t, err)
		rec, err := keys.Get(t.Context(), k.ID())
		require.NoError(t, err)
		require.True(t, legit(rec.Stores), "stored %q", rec.Stores)
	}
	_, err = keys.Revoke(t.Context(), k.ID())
	require.NoError(t, err)
	close(stop)
	wg.Wait()
	assert.Zero(t, bad.Load(), "requests with stores the key never had")
	assert.NotZero(t, admitted.Load(), "no request was admitted while the key changed")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	_, err = auth.Check(req, middleware.Rule{})
	assert.ErrorIs(t, err, apikey.ErrRevoked)
}

// sharingSignatures is a RequestVerifier that accepts every signed request
// as its one credential and hands out that credential's own grant, as a
// verifier reading a shared record may (RequestVerifier allows it).
type sharingSignatures struct{ act *httpsig.Active }

func (s sharingSignatures) Verify(*http.Request) (httpsig.Active, error) { return *s.act, nil }
func (sharingSignatures) RequiresHeader(string) bool                     { return true }
