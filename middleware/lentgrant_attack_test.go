package middleware_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
)

// TestAttackLentGrantConcurrentCredentials: concurrent signed requests of
// three credentials of a Manager (the path of VerifyLentGrant, which
// writes the Manager's grant in place), interleaved with requests signed
// with another credential's secret (refused after the lookup wrote the
// claimed credential's grant) and with a store the credential does not
// hold: every accepted request's Principal is its own credential's (key
// ID, account, mode, store, permissions), never another's, and every
// forged or out-of-grant request is refused. Run it with -race.
func TestAttackLentGrantConcurrentCredentials(t *testing.T) {
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{7}, httpsig.MasterKeyLen)})
	require.NoError(t, err)
	type cred struct {
		keyID  string
		secret []byte
		grant  keygate.Grant
	}
	var creds []cred
	for i, mode := range []keygate.Mode{keygate.ModeTest, keygate.ModeLive, keygate.ModeTest} {
		g := keygate.Grant{Account: fmt.Sprintf("acct_%d", i), Mode: mode, Package: testpackages.Go,
			Permissions: []string{"offers:write"}, Stores: []string{fmt.Sprintf("store_%d", i)}}
		s, c, err := m.Create(t.Context(), httpsig.CreateParams{Grant: g})
		require.NoError(t, err)
		creds = append(creds, cred{c.KeyID, s.Reveal(), g})
	}
	v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: m})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{Signatures: v, Access: middleware.AccessConfig{Packages: testpackages.Retail()}})
	require.NoError(t, err)
	bad := make(chan string, 16)
	h := auth.Require(middleware.Rule{Permission: "offers:write"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		want := creds[int(r.Header.Get("X-Who")[0]-'0')]
		if p.KeyID != want.keyID || p.Account != want.grant.Account || p.Mode != want.grant.Mode ||
			p.Store != want.grant.Stores[0] || len(p.Stores) != 1 || p.Stores[0] != want.grant.Stores[0] {
			select {
			case bad <- fmt.Sprintf("%s's request got %+v", want.keyID, p):
			default:
			}
		}
		p.Stores[0] = "evil" // the handler's own copy
	}))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				who := (g + i) % len(creds)
				c := creds[who]
				secret, store, ok := c.secret, c.grant.Stores[0], true
				switch i % 5 {
				case 3: // another credential's secret under this key ID
					secret, ok = creds[(who+1)%len(creds)].secret, false
				case 4: // another credential's store
					store, ok = creds[(who+1)%len(creds)].grant.Stores[0], false
				}
				body := `{"n":` + fmt.Sprint(i) + `}`
				r := httptest.NewRequest(http.MethodPost, "/v1/offers", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-Store-Id", store)
				r.Header.Set("X-Who", fmt.Sprint(who))
				r.RemoteAddr = fmt.Sprintf("10.%d.%d.1:1234", g, i) // no failure limit reached
				if err := (&httpsig.Signer{KeyID: c.keyID, Secret: secret}).Sign(r, []byte(body)); err != nil {
					bad <- err.Error()
					return
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if (rec.Code == http.StatusOK) != ok {
					select {
					case bad <- fmt.Sprintf("request %d of %s (ok %v): %d %s", i, c.keyID, ok, rec.Code, rec.Body.String()):
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}
	// The Manager's records are untouched.
	for _, c := range creds {
		got, err := m.Get(t.Context(), c.keyID)
		require.NoError(t, err)
		require.Equal(t, c.grant.Stores, got.Stores)
	}
}
