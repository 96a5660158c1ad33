package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// fakeClients is a ClientKeys and ClientCredentials over maps.
type fakeClients struct {
	mu    sync.Mutex
	keys  map[string]apikey.Record
	creds map[string]httpsig.Credential
	err   error
	gets  int
}

func (f *fakeClients) Lookup(_ context.Context, id string) (apikey.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return apikey.Record{}, f.err
	}
	rec, ok := f.keys[id]
	if !ok {
		return apikey.Record{}, apikey.ErrNotFound
	}
	return rec, nil
}

type fakeCreds struct{ *fakeClients }

func (f fakeCreds) Get(_ context.Context, id string) (httpsig.Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.creds[id]
	if !ok {
		return httpsig.Credential{}, httpsig.ErrNotFound
	}
	return c, nil
}

const clientID = "0jPS8MolTrPGFJph"

// activeClient is the client key of the tokens tokenOf issues, as it was
// when they were issued.
func activeClient() apikey.Record {
	return apikey.Record{ID: clientID, Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     "GO",
		Permissions: []string{"products:read"},
		Stores:      []string{"store_1", "store_2"},
	}, Kind: keygate.KindSecret,
		Status: apikey.StatusActive}
}

// TestTokenOfAnInvalidKeyIsRefused: with ClientKeys, an access token is
// only as good as the key that obtained it, on the very next request:
// revoked, disabled, expired, pending, gone, or cut off by a rotation
// without grace (in the token's iat second too) → 401 invalid_token; a
// key that cannot be looked up → 503. Without the check (today's code)
// every one of these tokens was accepted until it expired.
func TestTokenOfAnInvalidKeyIsRefused(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	clients := &fakeClients{keys: map[string]apikey.Record{}}
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, ClientKeys: clients})
	require.NoError(t, err)
	h := auth.Require(middleware.Rule{Permission: "products:read"})(principalJSON)
	tok := f.token(t, keygate.ModeTest) // iat: f.now, in whole seconds
	iat := f.clock().Truncate(time.Second)

	for _, tc := range []struct {
		name   string
		change func(r *apikey.Record)
		gone   bool
		err    error
		want   int
	}{
		{name: "active", change: func(*apikey.Record) {}, want: 200},
		{name: "revoked", change: func(r *apikey.Record) { r.Status = apikey.StatusRevoked }, want: 401},
		{name: "disabled", change: func(r *apikey.Record) { r.Disabled = true }, want: 401},
		{name: "expired", change: func(r *apikey.Record) { r.Expires = time.Now().Add(-time.Minute) }, want: 401},
		{name: "pending review", change: func(r *apikey.Record) { r.Status = apikey.StatusPendingReview }, want: 401},
		{name: "gone", gone: true, want: 401},
		{name: "rotated without grace after the token", change: func(r *apikey.Record) { r.TokensNotBefore = iat.Add(time.Minute) }, want: 401},
		{name: "rotated in the token's second", change: func(r *apikey.Record) { r.TokensNotBefore = iat.Add(999 * time.Millisecond) }, want: 401},
		{name: "rotated before the token", change: func(r *apikey.Record) { r.TokensNotBefore = iat.Add(-time.Millisecond) }, want: 200},
		{name: "another key's record", change: func(r *apikey.Record) { r.ID = "other" }, want: 401},
		{name: "store down", change: func(*apikey.Record) {}, err: errors.New("down"), want: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients.mu.Lock()
			clients.keys, clients.err = map[string]apikey.Record{}, tc.err
			if !tc.gone {
				rec := activeClient()
				tc.change(&rec)
				clients.keys[clientID] = rec
			}
			clients.mu.Unlock()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Store-Id", "store_1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == 401 {
				assert.JSONEq(t, `{"error":"invalid_token","error_description":"the key that obtained this token is no longer valid"}`, rec.Body.String())
			}
		})
	}
}

// TestTokenNarrowedToItsKey: a token never carries more than its key
// holds now: permissions and stores are intersected with the key's (a
// standard key, without permissions, keeps the token's), and the key's
// current origin rules apply as well as the token's.
func TestTokenNarrowedToItsKey(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	clients := &fakeClients{keys: map[string]apikey.Record{}}
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, ClientKeys: clients})
	require.NoError(t, err)
	tok := f.token(t, keygate.ModeTest)
	set := func(change func(r *apikey.Record)) {
		rec := activeClient()
		change(&rec)
		clients.mu.Lock()
		clients.keys[clientID] = rec
		clients.mu.Unlock()
	}
	do := func(h http.Handler, store, ip string) (*httptest.ResponseRecorder, keygate.Principal) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if store != "" {
			req.Header.Set("X-Store-Id", store)
		}
		if ip != "" {
			req.RemoteAddr = ip + ":1234"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var p keygate.Principal
		if rec.Code == 200 {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		}
		return rec, p
	}
	guarded := auth.Require(middleware.Rule{Permission: "products:read"})(principalJSON)
	open := auth.Handler(principalJSON)

	set(func(*apikey.Record) {})
	rec, p := do(guarded, "store_2", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"products:read"}, p.Permissions)
	assert.Equal(t, []string{"store_1", "store_2"}, p.Stores)

	// The key lost products:read: the token lost it too.
	set(func(r *apikey.Record) { r.Permissions = []string{"orders:read", "offers:write"} })
	rec, _ = do(guarded, "store_1", "")
	assert.Equal(t, 401, rec.Code, "no permission left is not a standard token: %s", rec.Body.String())
	rec, _ = do(open, "store_1", "")
	assert.Equal(t, 401, rec.Code, rec.Body.String())
	set(func(r *apikey.Record) { r.Permissions = []string{"orders:read", "products:read"} })
	rec, p = do(open, "store_1", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"products:read"}, p.Permissions, "what is left of the token's")

	// A standard key (no permissions of its own) holds exactly its
	// package, and without Packages no package includes anything: the token
	// keeps none of its permissions and is refused (TestNarrowToKey has
	// the packaged ones kept).
	set(func(r *apikey.Record) { r.Permissions = nil })
	rec, _ = do(guarded, "store_1", "")
	assert.Equal(t, 401, rec.Code, rec.Body.String())

	// A standard token (issued without permissions) takes its key's
	// restriction.
	standard, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: clientID, Grant: keygate.Grant{
		Account: "acct_1",
		Mode:    keygate.ModeTest,
		Stores:  []string{"store_1"},
	}, ClientKind: keygate.KindSecret})
	require.NoError(t, err)
	set(func(r *apikey.Record) { r.Permissions = []string{"orders:read"} })
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+standard)
	w := httptest.NewRecorder()
	open.ServeHTTP(w, req)
	require.Equal(t, 200, w.Code, w.Body.String())
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	assert.Equal(t, []string{"orders:read"}, p.Permissions)

	// The key lost store_2.
	set(func(r *apikey.Record) { r.Stores = []string{"store_1"} })
	rec, _ = do(guarded, "store_2", "")
	assert.Equal(t, 403, rec.Code, rec.Body.String())
	rec, p = do(guarded, "", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"store_1"}, p.Stores)

	// The key is now bound to 10.0.0.0/8 and denies 10.9.9.9.
	set(func(r *apikey.Record) { r.AllowedIPs, r.DeniedIPs = []string{"10.0.0.0/8"}, []string{"10.9.9.9"} })
	rec, _ = do(guarded, "store_1", "192.0.2.1")
	assert.Equal(t, 403, rec.Code, rec.Body.String())
	rec, _ = do(guarded, "store_1", "10.9.9.9")
	assert.Equal(t, 403, rec.Code, rec.Body.String())
	rec, _ = do(guarded, "store_1", "10.1.2.3")
	assert.Equal(t, 200, rec.Code, rec.Body.String())
}

// TestTokenOriginIntersection: the token's own IP anchor still applies
// beside the key's current rules.
func TestTokenOriginIntersection(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	clients := &fakeClients{keys: map[string]apikey.Record{}}
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, ClientKeys: clients})
	require.NoError(t, err)
	tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: clientID, Grant: keygate.Grant{
		Account:    "acct_1",
		Mode:       keygate.ModeTest,
		Stores:     []string{"store_1"},
		AllowedIPs: []string{"10.1.2.3"},
	}, ClientKind: keygate.KindSecret})
	require.NoError(t, err)
	for _, tc := range []struct {
		keyIPs []string
		ip     string
		want   int
	}{
		{nil, "10.1.2.3", 200},
		{nil, "10.1.2.4", 403},                                     // the token's anchor
		{[]string{"10.0.0.0/8"}, "10.1.2.3", 200},                  // both admit it
		{[]string{"10.0.0.0/8"}, "10.1.2.4", 403},                  // the anchor still holds
		{[]string{"192.0.2.0/24"}, "10.1.2.3", 403},                // nothing in common
		{[]string{"192.0.2.0/24", "10.1.0.0/16"}, "10.1.2.3", 200}, // one pair overlaps
	} {
		rec := activeClient()
		rec.AllowedIPs = tc.keyIPs
		clients.keys[clientID] = rec
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.RemoteAddr = tc.ip + ":1"
		w := httptest.NewRecorder()
		auth.Handler(principalJSON).ServeHTTP(w, req)
		assert.Equal(t, tc.want, w.Code, "key %v, from %s: %s", tc.keyIPs, tc.ip, w.Body.String())
	}
}

// TestTokenOfARealKey: the same, end to end with an apikey.Manager:
// revoking, disabling (even after Enable) and rotating without grace end
// the key's tokens; a rotation with grace keeps them.
func TestTokenOfARealKey(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(m *apikey.Manager, id string) error
		want   int
	}{
		{"untouched", func(*apikey.Manager, string) error { return nil }, 200},
		{"revoked", func(m *apikey.Manager, id string) error { _, err := m.Revoke(ctx, id); return err }, 401},
		{"disabled", func(m *apikey.Manager, id string) error { _, err := m.Disable(ctx, id); return err }, 401},
		{"disabled then enabled", func(m *apikey.Manager, id string) error {
			if _, err := m.Disable(ctx, id); err != nil {
				return err
			}
			_, err := m.Enable(ctx, id)
			return err
		}, 401},
		{"rotated with grace", func(m *apikey.Manager, id string) error { _, _, err := m.Rotate(ctx, id, time.Hour); return err }, 200},
		{"rotated without grace", func(m *apikey.Manager, id string) error { _, _, err := m.Rotate(ctx, id, 0); return err }, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTokenFixture(t, jwt.HS256, 0)
			auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, ClientKeys: f.keys})
			require.NoError(t, err)
			_, krec, err := f.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{
				Account:     "acct_1",
				Mode:        keygate.ModeTest,
				Package:     "GO",
				Permissions: []string{"products:read"},
				Stores:      []string{"store_1"},
			}, Kind: keygate.KindSecret,
			})
			require.NoError(t, err)
			tok, _, err := f.issuer.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: krec.ID, Grant: keygate.Grant{
				Account:     "acct_1",
				Mode:        keygate.ModeTest,
				Permissions: []string{"products:read"},
				Stores:      []string{"store_1"},
			}, ClientKind: keygate.KindSecret})
			require.NoError(t, err)
			h := auth.Require(middleware.Rule{Permission: "products:read"})(principalJSON)
			call := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			require.Equal(t, 200, call().Code, "before")
			require.NoError(t, tc.change(f.keys, krec.ID))
			rec := call()
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
		})
	}
}

// TestOneTimeTokenOfAnInvalidCredential: a one-time token is refused once
// the API key or HMAC credential that obtained it is no longer usable.
func TestOneTimeTokenOfAnInvalidCredential(t *testing.T) {
	f, ot, _, _ := newOneTimeFixture(t)
	clients := &fakeClients{keys: map[string]apikey.Record{clientID: activeClient()}, creds: map[string]httpsig.Credential{}}
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, OneTime: ot,
		ClientKeys: clients, ClientCredentials: fakeCreds{clients}})
	require.NoError(t, err)
	h := auth.Require(middleware.Rule{OneTime: "refund:create"})(principalJSON)
	const credID = "hk_0123456789abcdef"
	issue := func(keyID string) string {
		tok, _, err := ot.Issue(context.Background(), jwt.OneTimeParams{Purpose: "refund:create", Account: "acct_1", Mode: keygate.ModeTest, KeyID: keyID})
		require.NoError(t, err)
		return tok
	}
	activeCred := httpsig.Credential{KeyID: credID, Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Status: httpsig.StatusActive}

	assert.Equal(t, 200, post(h, "/v1/refunds", issue(clientID), "").Code, "usable key")
	revoked := activeClient()
	revoked.Status = apikey.StatusRevoked
	tok := issue(clientID)
	clients.keys[clientID] = revoked
	rec := post(h, "/v1/refunds", tok, "")
	assert.Equal(t, 401, rec.Code, "revoked key: %s", rec.Body.String())
	assert.Contains(t, rec.Body.String(), "no longer valid")

	clients.creds[credID] = activeCred
	assert.Equal(t, 200, post(h, "/v1/refunds", issue(credID), "").Code, "usable credential")
	tok = issue(credID)
	gone := activeCred
	gone.Status = httpsig.StatusRevoked
	clients.creds[credID] = gone
	assert.Equal(t, 401, post(h, "/v1/refunds", tok, "").Code, "revoked credential")
	tok = issue(credID)
	delete(clients.creds, credID)
	assert.Equal(t, 401, post(h, "/v1/refunds", tok, "").Code, "unknown credential")
}

// BenchmarkJWTMiddlewareClientCheck is BenchmarkJWTMiddleware/HS256/cached
// with the client-key check (Config.ClientKeys, an apikey.Manager over a
// memory store), whose key still holds what the token carries: nothing
// is narrowed.
func BenchmarkJWTMiddlewareClientCheck(b *testing.B) {
	f := newTokenFixture(b, jwt.HS256, 0)
	_, rec, err := f.keys.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     "GO",
		Permissions: []string{"products:read"},
		Stores:      []string{"store_1", "store_2"},
	}, Kind: keygate.KindSecret,
	})
	require.NoError(b, err)
	tok, _, err := f.issuer.Issue(b.Context(), jwt.Claims{Subject: "acct_1", ClientID: rec.ID, Scope: "products:read", Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     "GO",
		Permissions: []string{"products:read"},
		Stores:      []string{"store_1", "store_2"},
	}, ClientKind: keygate.KindSecret})
	require.NoError(b, err)
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, ClientKeys: f.keys})
	require.NoError(b, err)
	benchmarkHandler(b, auth.Handler(usesPrincipal), tok)
}
