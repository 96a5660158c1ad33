package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// brokenBody is a request body whose reads fail.
type brokenBody struct{ strings.Reader }

func (*brokenBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
func (*brokenBody) Close() error             { return nil }

// TestAttackOneTimeCallers: redeem writes the one-time caller into the
// Principal in place. The handler gets exactly the token's caller; a body
// that cannot be read is refused before the token is spent, and names
// nobody; a token redeemed on a route that then refuses it (its mode)
// names the token's caller in the audit event, without a store; a one-time
// token whose client check fails names nobody.
func TestAttackOneTimeCallers(t *testing.T) {
	f := newTokenFixture(t, jwt.HS256, 0)
	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: jwt.NewMemoryOneTimeStore()})
	require.NoError(t, err)
	a := newAuditedAuth(t, middleware.Config{APIKeys: f.keys, Tokens: f.verifier, OneTime: ot}, middleware.Rule{OneTime: "refund:create"})
	live := newAuditedAuth(t, middleware.Config{APIKeys: f.keys, Tokens: f.verifier, OneTime: ot}, middleware.Rule{OneTime: "refund:create", Mode: keygate.ModeLive})
	issue := func() string {
		tok, _, err := ot.Issue(context.Background(), jwt.OneTimeParams{Purpose: "refund:create",
			Account: "acct_1", Mode: keygate.ModeTest, KeyID: "0jPS8MolTrPGFJph", Subject: "user_9"})
		require.NoError(t, err)
		return tok
	}
	send := func(h http.Handler, tok string, body *brokenBody) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/refunds", strings.NewReader("{}"))
		if body != nil {
			req.Body = body
		}
		req.RemoteAddr = "192.0.2.1:1"
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	tok := issue()
	assertRefused(t, send(a.h, tok, &brokenBody{}), http.StatusBadRequest, "invalid_request")
	require.Equal(t, http.StatusOK, send(a.h, tok, nil).Code, "the token survived the unreadable body")
	p := <-a.got
	assert.Equal(t, keygate.Principal{Method: keygate.MethodOneTime, KeyID: "0jPS8MolTrPGFJph", Subject: "user_9",
		Account: "acct_1", Mode: keygate.ModeTest, ClientIP: p.ClientIP}, p)
	assert.True(t, p.ClientIP.IsValid())
	assertRefused(t, send(a.h, tok, nil), http.StatusUnauthorized, "invalid_token", "spent")

	assertRefused(t, send(live.h, issue(), nil), http.StatusForbidden, "insufficient_scope")
	assert.Zero(t, live.reached.Load())

	ev := a.events(t)
	require.Len(t, ev, 3)
	for i, e := range ev {
		if i == 1 {
			assert.Equal(t, audit.Allow, e.Decision)
			assert.Equal(t, "one_time", e.AuthMethod)
			assert.Equal(t, "0jPS8MolTrPGFJph", e.KeyID)
			continue
		}
		assert.Equal(t, audit.Deny, e.Decision, i)
		assert.Empty(t, e.AuthMethod+e.KeyID+e.Account, i)
	}
	ev = live.events(t)
	require.Len(t, ev, 1)
	e := ev[0]
	assert.Equal(t, audit.Deny, e.Decision)
	assert.Equal(t, "insufficient_scope", e.Reason)
	want := [...]string{"one_time", "0jPS8MolTrPGFJph", "acct_1", "test", ""}
	assert.Equal(t, want, [...]string{e.AuthMethod, e.KeyID, e.Account, e.Mode, e.Store})
}
