package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// stackAddr returns the address of a variable in its own stack frame:
// called at two depths of one goroutine (whose stack did not move in
// between), the difference is the stack between them.
//
//go:noinline
func stackAddr() uintptr {
	var b byte
	return uintptr(unsafe.Pointer(&b))
}

// depthStore is an apikey.Store (not a MemoryStore nor a CachedStore, so
// that the Manager calls its Get) that notes the stack's address when a
// key is read: the deepest point of a key's check.
type depthStore struct {
	apikey.Store
	at uintptr
}

func (s *depthStore) Get(ctx context.Context, id string) (apikey.Record, error) {
	s.at = stackAddr()
	return s.Store.Get(ctx, id)
}

// depthClients is a ClientKeys over a Manager that notes the stack's
// address when a token's client key is looked up: the deepest point of
// the token's check.
type depthClients struct {
	keys *apikey.Manager
	at   uintptr
}

func (c *depthClients) Lookup(ctx context.Context, id string) (apikey.Record, error) {
	c.at = stackAddr()
	return c.keys.Lookup(ctx, id)
}

// TestRequestPathStackDepth: the checks of an API key and of an access
// token keep their stack frames small. A garbage collection shrinks the
// stack of a server's goroutine that waits for its connection's next
// request (it then uses little of it); a protected request that goes
// deeper than the shrunk stack grows it again, which copies it whole: in
// the load server that was 1.6 % of all CPU, on every connection after
// every collection, until the frames were split (net/http takes about
// 1.5 KB above the handler). The probes are where a
// store returns a whole record by value, deeper than a CachedStore's hit
// or the token path's in-place lookup (about 1 KB less); the budget there
// is 6 KB below Require's caller (7 KB under the race detector, whose
// instrumentation makes frames larger), where the code before its frames
// were split took 10.5 KB (12 KB). Frame sizes are the compiler's, the
// same on every run: this is not a timing.
func TestRequestPathStackDepth(t *testing.T) {
	budget := uintptr(6 << 10)
	if raceDetector {
		budget = 7 << 10
	}
	ctx := context.Background()
	store := &depthStore{Store: apikey.NewMemoryStore()}
	keys, err := apikey.NewManager(apikey.Config{Store: store})
	require.NoError(t, err)
	grant := keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: "GO", Permissions: []string{"products:read"}, Stores: []string{"store_1"}}
	key, rec, err := keys.Create(ctx, apikey.CreateParams{Grant: grant, Kind: keygate.KindSecret})
	require.NoError(t, err)

	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	set, err := jwt.NewKeySet(signing)
	require.NoError(t, err)
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: set, Issuer: "https://keygate.test", Audience: "api"})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: set, Issuer: "https://keygate.test", Audience: "api"})
	require.NoError(t, err)
	token, _, err := issuer.Issue(ctx, jwt.Claims{Subject: "acct_1", ClientID: rec.ID, ClientKind: keygate.KindSecret, Scope: "products:read", Grant: grant})
	require.NoError(t, err)

	clients := &depthClients{keys: keys}
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Tokens: verifier, ClientKeys: clients})
	require.NoError(t, err)
	h := auth.Require(middleware.Rule{Permission: "products:read"})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))

	for _, tc := range []struct {
		name       string
		credential string
		at         *uintptr
	}{
		{"api key", key.Reveal(), &store.at},
		{"access token", token, &clients.at},
	} {
		t.Run(tc.name, func(t *testing.T) {
			depth := func() uintptr {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+tc.credential)
				w := httptest.NewRecorder()
				*tc.at = 0
				top := stackAddr()
				h.ServeHTTP(w, r)
				require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
				require.NotZero(t, *tc.at, "the probe was not reached")
				if stackAddr() != top {
					return 0 // the stack moved (it grew): measure again
				}
				return top - *tc.at
			}
			d := depth()
			if d == 0 {
				d = depth() // the stack has grown once and for all
			}
			require.NotZero(t, d, "the stack moved twice")
			t.Logf("%d bytes of stack below Require's caller", d)
			require.Less(t, d, budget, "the request path's stack frames grew")
		})
	}
}
