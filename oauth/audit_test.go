package oauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// TestAuditNamesRefusedClient: a token request refused after its client
// authenticated (rate limited, a scope beyond the key) is recorded with
// the client's identifiers and the refusal's code; one refused before
// (a wrong secret) with the code and no caller; a success as allowed.
func TestAuditNamesRefusedClient(t *testing.T) {
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}})
	e := newGuardEnv(t, guardOptions{
		audit: middleware.AuditConfig{Writer: w},
		access: middleware.AccessConfig{RateLimit: func(keygate.Principal) ratelimit.Policy {
			return ratelimit.Policy{Name: "acct", Limit: 2, Window: time.Minute}
		}},
	})
	h := e.auth.Audit(e.token)
	const a = "192.0.2.1:1"
	scoped := clientCredentials()
	scoped.Set("scope", "admin:write")
	for i, want := range []int{
		http.StatusBadRequest,      // invalid_scope, after the client authenticated
		http.StatusOK,              // allowed
		http.StatusTooManyRequests, // rate_limited: the budget of 2 is spent
		http.StatusUnauthorized,    // invalid_client: a wrong secret
	} {
		form, secret := clientCredentials(), e.sk.Reveal()
		switch i {
		case 0:
			form = scoped
		case 3:
			secret = wrongSecret(e.sk, 1)
		}
		rec := post(h, a, form, e.sk.ID(), secret)
		require.Equal(t, want, rec.Code, "request %d: %s", i, rec.Body.String())
	}
	require.NoError(t, w.Close(context.Background()))
	events := sink.Events()
	require.Len(t, events, 4)
	for i, want := range []struct {
		decision audit.Decision
		reason   string
		named    bool
	}{
		{audit.Deny, "invalid_scope", true},
		{audit.Allow, "ok", true},
		{audit.Deny, "rate_limited", true},
		{audit.Deny, "invalid_client", false},
	} {
		ev := events[i]
		assert.Equal(t, want.decision, ev.Decision, "event %d", i)
		assert.Equal(t, want.reason, ev.Reason, "event %d", i)
		if want.named {
			assert.Equal(t, string(keygate.MethodAPIKey), ev.AuthMethod, "event %d", i)
			assert.Equal(t, e.sk.ID(), ev.KeyID, "event %d", i)
			assert.Equal(t, testAccount, ev.Account, "event %d", i)
			assert.Equal(t, string(keygate.ModeTest), ev.Mode, "event %d", i)
		} else {
			assert.Empty(t, ev.AuthMethod, "event %d", i)
			assert.Empty(t, ev.KeyID, "event %d", i)
		}
	}
}
