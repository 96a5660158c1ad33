package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/middleware"
)

// TestAttackRequireAloneHandsAuditedRequest: Require alone (which audits
// the request itself) hands next the request with the Principal over the
// audit state, in each of WithPrincipal's layouts (an API key's compact
// Principal, a token's with one store and with three): next sees the
// request's method, path, header and body, its own Principal, and a
// RefuseRequest inside turns the one event into a denial that names the
// caller.
func TestAttackRequireAloneHandsAuditedRequest(t *testing.T) {
	keys := newKeyManager(t)
	key := mkKey(t, keys, apikey.CreateParams{Grant: keygate.Grant{Stores: []string{"store_1"}}})
	grant := func(stores ...string) keygate.Grant {
		return keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: stores}
	}
	tokens := stubTokens{
		"h.p.one":   {ID: "jti_1", ClientID: "key_c", Subject: "u", ClientKind: keygate.KindSecret, Grant: grant("store_1")},
		"h.p.three": {ID: "jti_3", ClientID: "key_c", Subject: "u", ClientKind: keygate.KindSecret, Grant: grant("store_1", "store_2", "store_3")},
	}
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Tokens: tokens, Audit: middleware.AuditConfig{Writer: w}})
	require.NoError(t, err)
	type seen struct {
		method, path, hdr, body string
		p                       keygate.Principal
	}
	var got []seen
	h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		b := make([]byte, 16)
		n, _ := r.Body.Read(b)
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("X-Probe"), string(b[:n]), p})
		middleware.RefuseRequest(r.Context(), "insufficient_scope")
		w.WriteHeader(http.StatusForbidden)
	}))
	creds := []string{key, "h.p.one", "h.p.three"}
	for _, cred := range creds {
		req := httptest.NewRequest(http.MethodPut, "/v1/things/7", strings.NewReader("payload"))
		req.RemoteAddr = "192.0.2.1:1"
		req.Header.Set("Authorization", "Bearer "+cred)
		req.Header.Set("X-Probe", cred)
		req.Header.Set("X-Store-Id", "store_1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusForbidden, rec.Code)
	}
	require.Len(t, got, len(creds))
	for i, s := range got {
		assert.Equal(t, seen{http.MethodPut, "/v1/things/7", creds[i], "payload", s.p}, s)
		assert.Equal(t, "store_1", s.p.Store, i)
		assert.Equal(t, "acct_1", s.p.Account, i)
	}
	assert.Equal(t, keygate.MethodAPIKey, got[0].p.Method)
	assert.Equal(t, []string{"store_1"}, got[1].p.Stores)
	assert.Equal(t, "jti_3", got[2].p.TokenID)
	assert.Equal(t, []string{"store_1", "store_2", "store_3"}, got[2].p.Stores)

	require.NoError(t, w.Close(context.Background()))
	ev := sink.Events()
	require.Len(t, ev, len(creds), "one event per request")
	for i, e := range ev {
		assert.Equal(t, audit.Deny, e.Decision, i)
		assert.Equal(t, "insufficient_scope", e.Reason, i)
		assert.Equal(t, http.StatusForbidden, e.Status, i)
		assert.Equal(t, "store_1", e.Store, i)
		assert.NotEmpty(t, e.KeyID, i)
	}
	assert.Equal(t, "jti_3", ev[2].TokenID)
}
