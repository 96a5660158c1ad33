package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/middleware"
)

// TestGrantsAreWhatRequireEnforces: for each credential, Grants allows a
// permission exactly when a route requiring it lets the credential in.
func TestGrantsAreWhatRequireEnforces(t *testing.T) {
	m := newKeyManager(t)
	auth, err := middleware.New(middleware.Config{APIKeys: m, Access: middleware.AccessConfig{
		Roles: access.Roles{"cashier": {"orders:read", "orders:write"}},
	}})
	require.NoError(t, err)
	perms := []string{"orders:read", "orders:write", "offers:read", "products:read", "admin:read"}
	for name, granted := range map[string][]string{
		"role":       {"@cashier", "products:read"},
		"wildcard":   {"*:*"},
		"none":       nil,
		"bad role":   {"@nope", "products:read"}, // grants nothing
		"malformed":  {"Products:read", "offers:read"},
		"admin only": {"admin:*"},
	} {
		t.Run(name, func(t *testing.T) {
			key := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Permissions: granted}})
			rec, err := m.Verify(context.Background(), key)
			require.NoError(t, err)
			p := keygate.Principal{Method: keygate.MethodAPIKey, KeyID: rec.ID, Account: rec.Account, Mode: rec.Mode,
				Kind: rec.Kind, Package: rec.Package, Permissions: rec.Permissions}
			g := auth.Grants(p)
			for _, perm := range perms {
				h := auth.Require(middleware.Rule{Permission: perm})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				assert.Equal(t, w.Code == http.StatusOK, g.Allows(access.MustParsePermission(perm)), "%s: status %d", perm, w.Code)
			}
		})
	}
	assert.Zero(t, (*middleware.Authenticator)(nil).Grants(keygate.Principal{Permissions: []string{"*:*"}}).Len())
	assert.Zero(t, new(middleware.Authenticator).Grants(keygate.Principal{Permissions: []string{"*:*"}}).Len())
}

// TestRefuseRequest: a handler's refusal after Require is recorded as a
// denial with its reason and the caller's identifiers.
func TestRefuseRequest(t *testing.T) {
	m := newKeyManager(t)
	key := mkKey(t, m, apikey.CreateParams{})
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Writer: w}})
	require.NoError(t, err)
	// Inside Audit, and inside Require alone (which audits the request
	// itself).
	for _, wrap := range []func(http.Handler) http.Handler{
		func(h http.Handler) http.Handler { return auth.Audit(auth.Handler(h)) },
		auth.Handler,
	} {
		for _, reason := range []string{"insufficient_scope", "Not A Code", ""} {
			h := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				middleware.RefuseRequest(r.Context(), reason)
				w.WriteHeader(http.StatusForbidden)
			}))
			req := httptest.NewRequest(http.MethodPost, "/x", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	// Without Audit, nothing happens.
	middleware.RefuseRequest(context.Background(), "insufficient_scope")
	require.NoError(t, w.Close(context.Background()))
	ev := sink.Events()
	require.Len(t, ev, 6)
	for i, want := range []string{"insufficient_scope", "refused", "refused", "insufficient_scope", "refused", "refused"} {
		assert.Equal(t, audit.Deny, ev[i].Decision)
		assert.Equal(t, want, ev[i].Reason)
		assert.Equal(t, http.StatusForbidden, ev[i].Status)
		assert.NotEmpty(t, ev[i].KeyID)
		assert.Equal(t, "api_key", ev[i].AuthMethod)
	}
}
