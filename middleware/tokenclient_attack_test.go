package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// failingKeys is a KeyVerifier other than an *apikey.Manager: it verifies
// nothing.
type failingKeys struct{}

func (failingKeys) Verify(context.Context, string) (apikey.Record, error) {
	return apikey.Record{}, apikey.ErrUnknownKey
}

// auditedAuth is an Authenticator of cfg auditing into a memory sink, and
// a handler behind Require(rule) that counts the requests it gets.
type auditedAuth struct {
	writer  *audit.Writer
	sink    *audit.MemorySink
	h       http.Handler
	reached atomic.Int64
	got     chan keygate.Principal
}

func newAuditedAuth(t *testing.T, cfg middleware.Config, rule middleware.Rule) *auditedAuth {
	t.Helper()
	f := &auditedAuth{sink: audit.NewMemorySink(1000), got: make(chan keygate.Principal, 100)}
	f.writer = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{f.sink}, FlushInterval: time.Millisecond})
	cfg.Audit = middleware.AuditConfig{Writer: f.writer}
	auth, err := middleware.New(cfg)
	require.NoError(t, err)
	f.h = auth.Require(rule)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.reached.Add(1)
		p, _ := keygate.FromContext(r.Context())
		select {
		case f.got <- p:
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))
	return f
}

func (f *auditedAuth) events(t *testing.T) []audit.Event {
	t.Helper()
	require.NoError(t, f.writer.Close(context.Background()))
	return f.sink.Events()
}

// TestAttackTokenWithoutClientIDRefused: with ClientKeys, an access token
// without client_id is refused (CheckTokenClient's contract), whichever
// lookup the middleware uses for the key (an *apikey.Manager's in place,
// or any ClientKeys'), the refusal reaches no handler, and its audit event
// names nobody (the token verified, its client check did not). A token
// of a usable key is the control.
func TestAttackTokenWithoutClientIDRefused(t *testing.T) {
	keys := newKeyManager(t)
	_, active, err := keys.Create(context.Background(), apikey.CreateParams{Kind: keygate.KindSecret,
		Grant: keygate.Grant{Account: "acct_tok", Mode: keygate.ModeTest, Stores: []string{"store_7"}}})
	require.NoError(t, err)
	grant := keygate.Grant{Account: "acct_tok", Mode: keygate.ModeTest, Stores: []string{"store_7"}}
	noClient := jwt.Claims{ID: "jti_nc", Subject: "user_1", Grant: grant, ClientKind: keygate.KindSecret}
	withClient := noClient
	withClient.ID, withClient.ClientID = "jti_ok", active.ID
	tokens := stubTokens{"h.p.none": noClient, "h.p.ok": withClient}

	for name, ck := range map[string]middleware.ClientKeys{
		"manager": keys,
		"func":    middleware.ClientKeysFunc(keys.Lookup),
	} {
		t.Run(name, func(t *testing.T) {
			f := newAuditedAuth(t, middleware.Config{APIKeys: keys, Tokens: tokens, ClientKeys: ck}, middleware.Rule{})
			rec := serve(f.h, areq{key: "h.p.none", remote: "192.0.2.1:1"})
			assertRefused(t, rec, http.StatusUnauthorized, "invalid_token")
			assert.JSONEq(t, `{"error":"invalid_token","error_description":"the key that obtained this token is no longer valid"}`, rec.Body.String())
			assert.Zero(t, f.reached.Load(), "a refused token reaches no handler")

			rec = serve(f.h, areq{key: "h.p.ok", remote: "192.0.2.1:1"})
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			p := <-f.got
			assert.Equal(t, keygate.MethodJWT, p.Method)
			assert.Equal(t, active.ID, p.KeyID)
			assert.Equal(t, "jti_ok", p.TokenID)

			events := f.events(t)
			require.Len(t, events, 2)
			e := events[0]
			assert.Equal(t, audit.Deny, e.Decision)
			assert.Equal(t, "invalid_token", e.Reason)
			assert.Equal(t, http.StatusUnauthorized, e.Status)
			assert.Empty(t, e.AuthMethod+e.KeyID+e.TokenID+e.Account+e.Mode+e.Store, "an unverified client names nobody")
			assert.NotEmpty(t, e.IP)
			assert.Equal(t, audit.Allow, events[1].Decision)
			assert.Equal(t, active.ID, events[1].KeyID)
			assert.Equal(t, "jti_ok", events[1].TokenID)
		})
	}

	rec, err := middleware.CheckTokenClient(context.Background(), keys, noClient, time.Now())
	assert.ErrorIs(t, err, middleware.ErrClientInvalid)
	assert.Equal(t, apikey.Record{}, rec)
	rec, err = middleware.CheckTokenClient(context.Background(), keys, withClient, time.Now())
	require.NoError(t, err)
	assert.Equal(t, active.ID, rec.ID)
}

// TestAttackClientKeyLookupErrors: the client key's lookup error reaches
// the caller as before the in-place lookup: not found is
// ErrClientInvalid (401), a store error is wrapped (503) and keeps its
// cause, through an *apikey.Manager as through another ClientKeys; a
// KeyVerifier other than a Manager that refuses a key answers 401 and
// names nobody.
func TestAttackClientKeyLookupErrors(t *testing.T) {
	down := errors.New("store down")
	broken, err := apikey.NewManager(apikey.Config{Store: failingStore{apikey.NewMemoryStore(), down}})
	require.NoError(t, err)
	claims := jwt.Claims{ID: "jti_1", ClientID: "key_gone", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, ClientKind: keygate.KindSecret}

	_, err = middleware.CheckTokenClient(context.Background(), newKeyManager(t), claims, time.Now())
	assert.ErrorIs(t, err, middleware.ErrClientInvalid, "an unknown key through a Manager")
	_, err = middleware.CheckTokenClient(context.Background(), middleware.ClientKeysFunc(newKeyManager(t).Lookup), claims, time.Now())
	assert.ErrorIs(t, err, middleware.ErrClientInvalid, "an unknown key through a ClientKeysFunc")
	_, err = middleware.CheckTokenClient(context.Background(), broken, claims, time.Now())
	assert.ErrorIs(t, err, down, "a Manager's store error")
	assert.NotErrorIs(t, err, middleware.ErrClientInvalid)
	assert.Contains(t, err.Error(), "apikey: lookup")

	f := newAuditedAuth(t, middleware.Config{APIKeys: broken, Tokens: stubTokens{"h.p.s": claims}, ClientKeys: broken}, middleware.Rule{})
	assert.Equal(t, http.StatusServiceUnavailable, serve(f.h, areq{key: "h.p.s", remote: "192.0.2.1:1"}).Code)

	g := newAuditedAuth(t, middleware.Config{APIKeys: failingKeys{}}, middleware.Rule{})
	assertRefused(t, serve(g.h, areq{key: "sk_test_whatever", remote: "192.0.2.1:1"}), http.StatusUnauthorized, "invalid_token")
	assert.Zero(t, g.reached.Load())
	events := g.events(t)
	require.Len(t, events, 1)
	assert.Empty(t, events[0].AuthMethod+events[0].KeyID+events[0].Account)
	assert.Equal(t, "invalid_token", events[0].Reason)
}

// failingStore is a Store whose Get fails with err.
type failingStore struct {
	apikey.Store
	err error
}

func (s failingStore) Get(context.Context, string) (apikey.Record, error) {
	return apikey.Record{}, s.err
}

// TestAttackTokenPrincipalOwnsItsStores: a token narrowed to its client
// key looked up in place in the Manager's memory hands the handler and
// the RateLimit stores of their own: a handler (or a RateLimit) that
// writes into them changes neither the key's record nor the next
// request's Principal. Run with -race, concurrently with updates of the
// key, to catch a record read in place while it is replaced.
func TestAttackTokenPrincipalOwnsItsStores(t *testing.T) {
	keys := newKeyManager(t)
	ctx := context.Background()
	_, key, err := keys.Create(ctx, apikey.CreateParams{Kind: keygate.KindSecret,
		Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_1", "store_2", "store_3"}}})
	require.NoError(t, err)
	claims := jwt.Claims{ID: "jti_1", Subject: "user_1", ClientID: key.ID, ClientKind: keygate.KindSecret,
		Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_1", "store_2", "store_3"}}}
	tokens := stubTokens{"h.p.s": claims}
	var limited atomic.Int64
	f := newAuditedAuth(t, middleware.Config{APIKeys: keys, Tokens: tokens, ClientKeys: keys,
		Access: middleware.AccessConfig{RateLimit: func(p keygate.Principal) ratelimit.Policy {
			limited.Add(1)
			if len(p.Stores) != 3 || p.Stores[0] != "store_1" {
				panic("the RateLimit got a Principal another request wrote into")
			}
			return ratelimit.Policy{}
		}}}, middleware.Rule{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		// The RateLimit wrote Stores[2]: it gets the handler's copy.
		if len(p.Stores) != 3 || p.Stores[0] != "store_1" || p.Stores[1] != "store_2" {
			http.Error(w, "stores "+p.Store, http.StatusInternalServerError)
			return
		}
		p.Stores[0] = "handler_wrote"
		w.WriteHeader(http.StatusOK)
	})
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Tokens: tokens, ClientKeys: keys,
		Access: middleware.AccessConfig{RateLimit: func(p keygate.Principal) ratelimit.Policy {
			if len(p.Stores) != 3 || p.Stores[2] != "store_3" {
				panic("the RateLimit got a Principal another request wrote into")
			}
			p.Stores[2] = "rl_wrote"
			return ratelimit.Policy{}
		}}})
	require.NoError(t, err)
	direct := auth.Require(middleware.Rule{})(h)

	// The key's record is replaced for as long as the requests run.
	var updater, requests sync.WaitGroup
	stop := make(chan struct{})
	updater.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			name := "renamed"
			if _, err := keys.Update(ctx, key.ID, apikey.Changes{Name: &name}); err != nil {
				panic(err)
			}
		}
	})
	var failed atomic.Int64
	for range 4 {
		requests.Go(func() {
			for range 200 {
				if c := serve(direct, areq{key: "h.p.s", remote: "192.0.2.1:1", header: http.Header{"X-Store-Id": {"store_1"}}}).Code; c != http.StatusOK {
					failed.Add(1)
				}
				if c := serve(f.h, areq{key: "h.p.s", remote: "192.0.2.1:1", header: http.Header{"X-Store-Id": {"store_1"}}}).Code; c != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	requests.Wait()
	close(stop)
	updater.Wait()
	assert.Zero(t, failed.Load())
	assert.Positive(t, limited.Load())

	got, err := keys.Get(ctx, key.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"store_1", "store_2", "store_3"}, got.Stores, "the key's record")
	looked, err := keys.Lookup(ctx, key.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"store_1", "store_2", "store_3"}, looked.Stores, "the key's record as looked up")
	assert.Equal(t, []string{"store_1", "store_2", "store_3"}, tokens["h.p.s"].Stores, "the verifier's claims")
	for range len(f.got) {
		p := <-f.got
		assert.Equal(t, []string{"store_1", "store_2", "store_3"}, p.Stores)
	}
}

// TestAttackRevokedClientKeySeenAtOnce: the in-place lookup of a token's
// client key never serves a stale record: once Revoke (or Disable)
// returns, the next request with a token of that key is refused, from a
// Manager over a MemoryStore as over a CachedStore, while other requests
// with the same token run concurrently (-race).
func TestAttackRevokedClientKeySeenAtOnce(t *testing.T) {
	ctx := context.Background()
	for name, store := range map[string]apikey.Store{
		"memory": apikey.NewMemoryStore(),
		"cached": apikey.NewCachedStore(apikey.NewMemoryStore(), apikey.CacheConfig{TTL: time.Hour}),
	} {
		t.Run(name, func(t *testing.T) {
			keys, err := apikey.NewManager(apikey.Config{Store: store})
			require.NoError(t, err)
			tokens := stubTokens{}
			auth, err := middleware.New(middleware.Config{APIKeys: keys, Tokens: tokens, ClientKeys: keys})
			require.NoError(t, err)
			h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
			ids := make([]string, 20)
			for i := range ids {
				_, rec, err := keys.Create(ctx, apikey.CreateParams{Kind: keygate.KindSecret,
					Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_1"}}})
				require.NoError(t, err)
				ids[i] = rec.ID
				tokens["h.p."+rec.ID] = jwt.Claims{ID: "jti", ClientID: rec.ID, ClientKind: keygate.KindSecret, IssuedAt: time.Now().Add(-time.Minute),
					Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_1"}}}
			}
			for i, id := range ids {
				tok := "h.p." + id
				// Each client its own address: the concurrent requests'
				// failures block theirs, not the checked ones.
				checked := areq{key: tok, remote: fmt.Sprintf("198.51.100.%d:1", i)}
				require.Equal(t, http.StatusOK, serve(h, checked).Code)
				var wg sync.WaitGroup
				for g := range 2 {
					wg.Go(func() {
						for range 20 {
							serve(h, areq{key: tok, remote: fmt.Sprintf("203.0.113.%d:1", 2*i+g)})
						}
					})
				}
				if i%2 == 0 {
					_, err = keys.Revoke(ctx, id)
				} else {
					_, err = keys.Disable(ctx, id)
				}
				require.NoError(t, err)
				assertRefused(t, serve(h, checked), http.StatusUnauthorized, "invalid_token", id)
				wg.Wait()
				assertRefused(t, serve(h, checked), http.StatusUnauthorized, "invalid_token", id)
			}
		})
	}
}

// TestAttackNarrowedTokenRefusalNamesCaller: a token narrowed to its
// client key (looked up in place) and then refused by the route names
// its caller in the audit event, with the store the request selected
// among the narrowed stores, or the store it asked for when the key no
// longer grants it, and never the permissions or stores it holds.
func TestAttackNarrowedTokenRefusalNamesCaller(t *testing.T) {
	keys := newKeyManager(t)
	_, key, err := keys.Create(context.Background(), apikey.CreateParams{Kind: keygate.KindSecret,
		Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_2"}, Permissions: []string{"products:read"}}})
	require.NoError(t, err)
	tokens := stubTokens{"h.p.s": {ID: "jti_n", Subject: "user_1", ClientID: key.ID, ClientKind: keygate.KindSecret,
		Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_1", "store_2"}, Permissions: []string{"products:read"}}}}
	f := newAuditedAuth(t, middleware.Config{APIKeys: keys, Tokens: tokens, ClientKeys: keys}, middleware.Rule{Permission: "offers:write"})
	g := newAuditedAuth(t, middleware.Config{APIKeys: keys, Tokens: tokens, ClientKeys: keys}, middleware.Rule{Permission: "products:read"})
	// The key narrowed the token to store_2, the only one: selected.
	assertRefused(t, serve(f.h, areq{key: "h.p.s", remote: "192.0.2.1:1"}), http.StatusForbidden, "insufficient_scope")
	// store_1 is the token's but no longer the key's.
	assertRefused(t, serve(g.h, areq{key: "h.p.s", remote: "192.0.2.1:1", header: http.Header{"X-Store-Id": {"store_1"}}}),
		http.StatusForbidden, "insufficient_scope")
	require.Equal(t, http.StatusOK, serve(g.h, areq{key: "h.p.s", remote: "192.0.2.1:1"}).Code, "the control")
	p := <-g.got
	assert.Equal(t, []string{"store_2"}, p.Stores)
	assert.Equal(t, "store_2", p.Store)
	assert.Zero(t, f.reached.Load())

	type who struct{ method, keyID, tokenID, account, mode, store string }
	fe, ge := f.events(t), g.events(t)
	require.Len(t, fe, 1)
	require.Len(t, ge, 2)
	for i, c := range []struct {
		e     audit.Event
		store string
	}{{fe[0], "store_2"}, {ge[0], "store_1"}} {
		assert.Equal(t, audit.Deny, c.e.Decision, i)
		assert.Equal(t, who{"jwt", key.ID, "jti_n", "acct_1", "test", c.store},
			who{c.e.AuthMethod, c.e.KeyID, c.e.TokenID, c.e.Account, c.e.Mode, c.e.Store}, i)
	}
}
