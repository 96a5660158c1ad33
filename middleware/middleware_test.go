package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/middleware"
)

// fixture holds a manager with keys in every state and an authenticator.
type fixture struct {
	keys                       *apikey.Manager
	auth                       *middleware.Authenticator
	store                      *flakyStore
	testSK, testPK, liveSK     string
	pending, revoked, disabled string
	multiStoreSK               string
	revokedID                  string
	allKeys                    []string
}

// flakyStore fails every call when down is set: the one fault (an
// unreachable backend) that the in-memory store cannot produce itself.
type flakyStore struct {
	apikey.Store
	down atomic.Bool
}

func (s *flakyStore) Get(ctx context.Context, id string) (apikey.Record, error) {
	if s.down.Load() {
		return apikey.Record{}, errors.New("dial tcp 127.0.0.1:5432: connection refused")
	}
	return s.Store.Get(ctx, id)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{store: &flakyStore{Store: apikey.NewMemoryStore()}}
	return f.populate(t, f.store)
}

// newPlainFixture is a fixture on the memory store itself, for benchmarks.
func newPlainFixture(t testing.TB) *fixture {
	return new(fixture).populate(t, apikey.NewMemoryStore())
}

func (f *fixture) populate(t testing.TB, store apikey.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	var err error
	f.keys, err = apikey.NewManager(apikey.Config{Store: store})
	require.NoError(t, err)
	create := func(mode keygate.Mode, kind keygate.Kind, stores ...string) (string, string) {
		k, _, err := f.keys.Create(ctx, apikey.CreateParams{
			Grant: keygate.Grant{Account: "acct_1", Mode: mode, Stores: stores, Package: "GO", Permissions: []string{"products:read"}}, Kind: kind})
		require.NoError(t, err)
		f.allKeys = append(f.allKeys, k.Reveal())
		return k.Reveal(), k.ID()
	}
	f.testSK, _ = create(keygate.ModeTest, keygate.KindSecret, "store_1")
	f.testPK, _ = create(keygate.ModeTest, keygate.KindPublishable, "store_1")
	var liveID string
	f.liveSK, liveID = create(keygate.ModeLive, keygate.KindSecret, "store_1")
	_, err = f.keys.Approve(ctx, liveID, "reviewer")
	require.NoError(t, err)
	f.pending, _ = create(keygate.ModeLive, keygate.KindSecret)
	f.revoked, f.revokedID = create(keygate.ModeTest, keygate.KindSecret)
	_, err = f.keys.Revoke(ctx, f.revokedID)
	require.NoError(t, err)
	var disabledID string
	f.disabled, disabledID = create(keygate.ModeTest, keygate.KindSecret)
	_, err = f.keys.Disable(ctx, disabledID)
	require.NoError(t, err)
	f.multiStoreSK, _ = create(keygate.ModeTest, keygate.KindSecret, "store_1", "store_2")
	f.auth, err = middleware.New(middleware.Config{APIKeys: f.keys, Realm: "shop"})
	require.NoError(t, err)
	return f
}

// principalJSON is the handler behind the middleware: it echoes the
// Principal.
var principalJSON = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := keygate.FromContext(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(p)
})

// routers mounts the same routes on a ServeMux and on chi.
func routers(f *fixture) map[string]http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /secret", f.auth.Handler(principalJSON))
	mux.Handle("GET /public", f.auth.Require(middleware.Rule{Publishable: true})(principalJSON))
	mux.Handle("GET /live", f.auth.Require(middleware.Rule{Mode: keygate.ModeLive})(principalJSON))
	mux.Handle("GET /test", f.auth.Require(middleware.Rule{Mode: keygate.ModeTest})(principalJSON))

	r := chi.NewRouter()
	r.With(f.auth.Handler).Get("/secret", principalJSON)
	r.With(f.auth.Require(middleware.Rule{Publishable: true})).Get("/public", principalJSON)
	r.Group(func(r chi.Router) {
		r.Use(f.auth.Require(middleware.Rule{Mode: keygate.ModeLive}))
		r.Get("/live", principalJSON)
	})
	r.With(f.auth.Require(middleware.Rule{Mode: keygate.ModeTest})).Get("/test", principalJSON)
	return map[string]http.Handler{"ServeMux": mux, "chi": r}
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	alter := func(k string) string { // change one body character, staying base62
		i := len(k) - 10
		c := byte('a')
		if k[i] == 'a' {
			c = 'b'
		}
		return k[:i] + string(c) + k[i+1:]
	}
	tests := []struct {
		name      string
		path      string
		header    http.Header
		status    int
		code      string // the JSON "error"
		challenge string // a substring of WWW-Authenticate; "" for none
		store     string // the Principal's store on success
	}{
		{"secret key", "/secret", bearer(f.testSK), 200, "", "", "store_1"},
		{"scheme is case-insensitive", "/secret", http.Header{"Authorization": {"bearer " + f.testSK}}, 200, "", "", "store_1"},
		{"several spaces after the scheme", "/secret", http.Header{"Authorization": {"Bearer   " + f.testSK}}, 200, "", "", "store_1"},
		{"no credentials", "/secret", nil, 401, "unauthorized", `Bearer realm="shop"`, ""},
		{"another scheme", "/secret", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, 401, "unauthorized", `Bearer realm="shop"`, ""},
		{"one character changed", "/secret", bearer(alter(f.testSK)), 401, "invalid_token", `error="invalid_token"`, ""},
		{"truncated key", "/secret", bearer(f.testSK[:40]), 401, "invalid_token", `error="invalid_token"`, ""},
		{"garbage token", "/secret", bearer("hello"), 401, "invalid_token", `error="invalid_token"`, ""},
		{"token with a comma", "/secret", bearer("a,b"), 401, "invalid_token", `error="invalid_token"`, ""},
		{"revoked", "/secret", bearer(f.revoked), 401, "invalid_token", `error="invalid_token"`, ""},
		{"disabled", "/secret", bearer(f.disabled), 401, "invalid_token", `error="invalid_token"`, ""},
		{"pending review", "/secret", bearer(f.pending), 401, "invalid_token", `error="invalid_token"`, ""},
		{"empty bearer", "/secret", http.Header{"Authorization": {"Bearer "}}, 400, "invalid_request", `error="invalid_request"`, ""},
		{"two Authorization headers", "/secret", http.Header{"Authorization": {"Bearer " + f.testSK, "Bearer " + f.testSK}}, 400, "invalid_request", `error="invalid_request"`, ""},
		{"header over 8 KiB", "/secret", bearer(strings.Repeat("a", 9000)), 400, "invalid_request", `error="invalid_request"`, ""},
		{"key in the query", "/secret?api_key=" + f.testSK, bearer(f.testSK), 400, "invalid_request", `error="invalid_request"`, ""},
		{"key value in the query", "/secret?q=" + f.testSK, nil, 400, "invalid_request", `error="invalid_request"`, ""},
		{"access_token in the query", "/secret?ACCESS_TOKEN=x", bearer(f.testSK), 400, "invalid_request", `error="invalid_request"`, ""},
		{"harmless query", "/secret?page=2&key_id=abc", bearer(f.testSK), 200, "", "", "store_1"},
		{"percent-encoded parameter name", "/secret?access%5Ftoken=x", bearer(f.testSK), 400, "invalid_request", `error="invalid_request"`, ""},
		{"percent-encoded key", "/secret?q=" + strings.ReplaceAll(f.testSK, "_", "%5F"), bearer(f.testSK), 400, "invalid_request", `error="invalid_request"`, ""},
		{"harmless encoded query", "/secret?q=a%20b+c", bearer(f.testSK), 200, "", "", "store_1"},
		{"publishable on a secret route", "/secret", bearer(f.testPK), 403, "insufficient_scope", `error="insufficient_scope"`, ""},
		{"publishable on a publishable route", "/public", bearer(f.testPK), 200, "", "", "store_1"},
		{"secret on a publishable route", "/public", bearer(f.testSK), 200, "", "", "store_1"},
		{"test key where live is required", "/live", bearer(f.testSK), 403, "insufficient_scope", `error="insufficient_scope"`, ""},
		{"live key where live is required", "/live", bearer(f.liveSK), 200, "", "", "store_1"},
		{"live key where test is required", "/test", bearer(f.liveSK), 403, "insufficient_scope", `error="insufficient_scope"`, ""},
		{"store selected", "/secret", http.Header{"Authorization": {"Bearer " + f.multiStoreSK}, "X-Store-Id": {"store_2"}}, 200, "", "", "store_2"},
		{"no store selected among several", "/secret", bearer(f.multiStoreSK), 200, "", "", ""},
		{"store not the key's", "/secret", http.Header{"Authorization": {"Bearer " + f.testSK}, "X-Store-Id": {"store_9"}}, 403, "insufficient_scope", `error="insufficient_scope"`, ""},
		{"malformed store", "/secret", http.Header{"Authorization": {"Bearer " + f.testSK}, "X-Store-Id": {"store 1\r\n"}}, 400, "invalid_request", `error="invalid_request"`, ""},
		{"two store headers", "/secret", http.Header{"Authorization": {"Bearer " + f.multiStoreSK}, "X-Store-Id": {"store_1", "store_2"}}, 400, "invalid_request", `error="invalid_request"`, ""},
	}
	for name, h := range routers(f) {
		t.Run(name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req := httptest.NewRequest(http.MethodGet, tt.path, nil)
					for k, v := range tt.header {
						req.Header[k] = v
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					res := rec.Result()
					assert.Equal(t, tt.status, res.StatusCode)
					if tt.challenge == "" {
						assert.Empty(t, res.Header.Get("WWW-Authenticate"))
					} else {
						assert.Contains(t, res.Header.Get("WWW-Authenticate"), tt.challenge)
					}
					if tt.status == 401 && tt.code == "unauthorized" {
						assert.NotContains(t, res.Header.Get("WWW-Authenticate"), "error=", "RFC 6750 §3.1: no error code without credentials")
					}
					body := rec.Body.String()
					for _, k := range f.allKeys {
						assert.NotContains(t, body, k)
						assert.NotContains(t, strings.Join(res.Header.Values("WWW-Authenticate"), " "), k)
					}
					if tt.status != 200 {
						assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
						assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
						var e struct {
							Error       string `json:"error"`
							Description string `json:"error_description"`
						}
						require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), body)
						assert.Equal(t, tt.code, e.Error)
						assert.NotEmpty(t, e.Description)
						return
					}
					var p keygate.Principal
					require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), body)
					assert.Equal(t, keygate.MethodAPIKey, p.Method)
					assert.Equal(t, "acct_1", p.Account)
					assert.Equal(t, "GO", p.Package)
					assert.Equal(t, []string{"products:read"}, p.Permissions)
					assert.Equal(t, tt.store, p.Store)
					assert.NotEmpty(t, p.KeyID)
				})
			}
		})
	}
}

// reseal replaces a key's checksum with the right one, as a forger can:
// the checksum is no secret.
func reseal(key string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	signed := key[:len(key)-apikey.ChecksumLen]
	c := uint64(crc32.ChecksumIEEE([]byte(signed)))
	sum := make([]byte, apikey.ChecksumLen)
	for i := len(sum) - 1; i >= 0; i-- {
		sum[i] = alphabet[c%62]
		c /= 62
	}
	return signed + string(sum)
}

func TestUnknownAndRevokedLookAlikeToStrangers(t *testing.T) {
	// A caller who does not hold the key cannot tell an unknown ID from a
	// revoked key: same status, same body, same challenge.
	f := newFixture(t)
	stranger, err := apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	unknown, _, err := stranger.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "acct_x", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	// The revoked key's ID with another secret and a valid checksum.
	idEnd := len("bk_test_sk_") + apikey.IDLen
	wrongSecret := reseal(f.revoked[:idEnd] + unknown.Reveal()[idEnd:])
	info, err := apikey.Parse(wrongSecret)
	require.NoError(t, err, "the forgery is well formed")
	require.Equal(t, f.revokedID, info.ID)

	answer := func(key string) (int, string, string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		f.auth.Handler(principalJSON).ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), rec.Header().Get("WWW-Authenticate")
	}
	s1, b1, c1 := answer(unknown.Reveal())
	s2, b2, c2 := answer(wrongSecret)
	assert.Equal(t, 401, s1)
	assert.Equal(t, []any{s1, b1, c1}, []any{s2, b2, c2})
	s3, b3, _ := answer(f.revoked) // the holder of the revoked key learns why
	assert.Equal(t, 401, s3)
	assert.Contains(t, b3, "revoked")
	assert.NotContains(t, b1, "revoked")
}

func TestPrincipalIsTheRequestsOwn(t *testing.T) {
	// A handler that scribbles on its Principal changes nothing stored.
	f := newFixture(t)
	scribbler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		p.Stores[0] = "victim_store"
		p.Permissions[0] = "admin"
		_ = append(p.Stores, "appended")
	})
	h := f.auth.Handler(scribbler)
	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+f.testSK)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+f.testSK)
	req.Header.Set("X-Store-Id", "victim_store")
	_, err := f.auth.Check(req, middleware.Rule{})
	assert.ErrorIs(t, err, middleware.ErrInsufficientScope)
	req.Header.Del("X-Store-Id")
	p, err := f.auth.Check(req, middleware.Rule{})
	require.NoError(t, err)
	assert.Equal(t, []string{"store_1"}, p.Stores)
	assert.Equal(t, []string{"products:read"}, p.Permissions)
}

func TestPrincipalIsTheRequestsOwnWithASharingVerifier(t *testing.T) {
	// A KeyVerifier other than apikey.Manager may hand out the slices of
	// its store: a handler that scribbles on its Principal changes nothing
	// stored there either.
	stored := apikey.Record{ID: "k", Kind: keygate.KindSecret, Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest,
		Package: "GO", Permissions: []string{"products:read"}, Stores: []string{"store_1"}}}
	auth, err := middleware.New(middleware.Config{APIKeys: verifierFunc(func(context.Context, string) (apikey.Record, error) { return stored, nil })})
	require.NoError(t, err)
	h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		p.Stores[0] = "victim_store"
		p.Permissions[0] = "admin"
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer anything")
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, []string{"store_1"}, stored.Stores)
	assert.Equal(t, []string{"products:read"}, stored.Permissions)
}

func TestPrincipalIsTheRequestsOwnOnTheMemoryStore(t *testing.T) {
	// The Manager's request path (VerifyGrant) hands over the memory
	// store's own slices: the Principal in the context and the one Check
	// returns still have stores of their own, however many there are
	// (keygate.NewContext keeps up to two in its own allocation).
	for _, stores := range [][]string{{"store_1"}, {"store_1", "store_2"}, {"store_1", "store_2", "store_3"}} {
		keys, err := apikey.NewManager(apikey.Config{Store: apikey.NewMemoryStore()})
		require.NoError(t, err)
		t.Cleanup(func() { keys.Close(context.Background()) })
		k, _, err := keys.Create(t.Context(), apikey.CreateParams{Kind: keygate.KindSecret,
			Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: slices.Clone(stores), Permissions: []string{"products:read"}}})
		require.NoError(t, err)
		auth, err := middleware.New(middleware.Config{APIKeys: keys})
		require.NoError(t, err)
		h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := keygate.FromContext(r.Context())
			require.Equal(t, stores, p.Stores)
			p.Stores[0] = "victim_store"
			_ = append(p.Stores[:1], "appended")
		}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+k.Reveal())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		p, err := auth.Check(req, middleware.Rule{})
		require.NoError(t, err)
		require.Equal(t, stores, p.Stores)
		p.Stores[0] = "victim_store"
		got, err := keys.Get(t.Context(), k.ID())
		require.NoError(t, err)
		assert.Equal(t, stores, got.Stores, "the stored record is unchanged")
		p, err = auth.Check(req, middleware.Rule{})
		require.NoError(t, err)
		assert.Equal(t, stores, p.Stores)
	}
}

// verifierFunc adapts a function to middleware.KeyVerifier: for records
// that apikey.Manager never returns.
type verifierFunc func(context.Context, string) (apikey.Record, error)

func (f verifierFunc) Verify(ctx context.Context, key string) (apikey.Record, error) {
	return f(ctx, key)
}

func TestUninterpretableRecordsFailClosed(t *testing.T) {
	for _, rec := range []apikey.Record{
		{ID: "k", Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest}, Kind: ""},
		{ID: "k", Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest}, Kind: "rk"},
		{ID: "k", Grant: keygate.Grant{Account: "a", Mode: ""}, Kind: keygate.KindSecret},
	} {
		auth, err := middleware.New(middleware.Config{APIKeys: verifierFunc(func(context.Context, string) (apikey.Record, error) { return rec, nil })})
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer anything")
		_, err = auth.Check(req, middleware.Rule{})
		assert.ErrorIs(t, err, middleware.ErrInvalidToken, "%+v", rec)
	}
}

func TestMisuseFailsClosed(t *testing.T) {
	var zero middleware.Authenticator
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer x")
	_, err := zero.Check(req, middleware.Rule{})
	assert.Equal(t, http.StatusServiceUnavailable, middleware.Classify(err).Status)

	f := newFixture(t)
	noURL := &http.Request{Header: http.Header{"Authorization": {"Bearer " + f.testSK}}}
	p, err := f.auth.Check(noURL.WithContext(context.Background()), middleware.Rule{})
	require.NoError(t, err)
	assert.Equal(t, "acct_1", p.Account)
}

func TestStoreDownFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.store.down.Store(true)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+f.testSK)
	rec := httptest.NewRecorder()
	called := false
	f.auth.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })).ServeHTTP(rec, req)
	assert.False(t, called)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"error":"temporarily_unavailable","error_description":"credentials cannot be checked right now; retry later"}`, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "5432", "the cause is not revealed")
}

func TestRevocationTakesEffectOnTheNextRequest(t *testing.T) {
	f := newFixture(t)
	h := f.auth.Handler(principalJSON)
	do := func() int {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+f.multiStoreSK)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, 200, do())
	info, err := apikey.Parse(f.multiStoreSK)
	require.NoError(t, err)
	_, err = f.keys.Revoke(context.Background(), info.ID)
	require.NoError(t, err)
	assert.Equal(t, 401, do())
}

func TestCustomErrorHandler(t *testing.T) {
	f := newFixture(t)
	var got error
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(middleware.Classify(err).Status)
	}})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+f.revoked)
	rec := httptest.NewRecorder()
	auth.Handler(principalJSON).ServeHTTP(rec, req)
	assert.Equal(t, 401, rec.Code)
	assert.ErrorIs(t, got, apikey.ErrRevoked)
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+f.testPK)
	p, err := f.auth.Check(req, middleware.Rule{Publishable: true})
	require.NoError(t, err)
	assert.Equal(t, keygate.KindPublishable, p.Kind)
	_, err = f.auth.Check(req, middleware.Rule{})
	assert.ErrorIs(t, err, middleware.ErrInsufficientScope)
	_, err = f.auth.Check(req, middleware.Rule{Publishable: true, Mode: "Live"})
	assert.ErrorIs(t, err, middleware.ErrInsufficientScope, "a misconfigured rule admits nobody")
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFixture(t)
	_, err := middleware.New(middleware.Config{})
	assert.Error(t, err)
	_, err = middleware.New(middleware.Config{APIKeys: f.keys, Realm: `a"b`})
	assert.Error(t, err)
}

func TestCustomStoreHeaderAndPrefix(t *testing.T) {
	keys, err := apikey.NewManager(apikey.Config{Prefix: "acme"})
	require.NoError(t, err)
	k, _, err := keys.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest, Stores: []string{"s1", "s2"}}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{APIKeys: keys, StoreHeader: "x-shop"}) // prefix from the manager
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+k.Reveal())
	req.Header.Set("X-Shop", "s2")
	p, err := auth.Check(req, middleware.Rule{})
	require.NoError(t, err)
	assert.Equal(t, "s2", p.Store)
	req = httptest.NewRequest(http.MethodGet, "/?x="+k.Reveal(), nil)
	_, err = auth.Check(req, middleware.Rule{})
	assert.ErrorIs(t, err, middleware.ErrInvalidRequest)
}

func TestClassifyDescriptionsAreSafeInAChallenge(t *testing.T) {
	// error_description must be a quoted-string without '"' or '\' (RFC 6750 §3).
	errs := []error{middleware.ErrNoCredentials, middleware.ErrInvalidRequest, middleware.ErrInvalidToken,
		middleware.ErrInsufficientScope, apikey.ErrRevoked, apikey.ErrExpired, apikey.ErrDisabled,
		apikey.ErrPendingReview, apikey.ErrMalformed, apikey.ErrUnknownKey, errors.New("anything else")}
	for _, err := range errs {
		d := middleware.Classify(err).Description
		for _, c := range []byte(d) {
			assert.True(t, c >= 0x20 && c <= 0x7e && c != '"' && c != '\\', "%q", d)
		}
	}
	assert.Equal(t, http.StatusServiceUnavailable, middleware.Classify(context.Canceled).Status)
}
