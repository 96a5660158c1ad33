package oauth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntrospectionIsLimitedToTheCallersAccount(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.accessToken(t, f.sk)
	resp := f.introspect(t, tok, req{basic: basicOf(f.otherSK)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, map[string]any{"active": false}, resp.json, "another account's resource server learns nothing")
	resp = f.introspect(t, tok, req{basic: basicOf(f.sk2)})
	assert.Equal(t, true, resp.json["active"], "a resource server of the same account sees it")
}

func TestIntrospectionOfRefreshTokens(t *testing.T) {
	f := newFixture(t, options{})
	_, rt := f.signIn(t)
	resp := f.introspect(t, rt, req{basic: basicOf(f.sk)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, true, resp.json["active"])
	assert.Equal(t, "refresh_token", resp.json["token_type"])
	assert.Equal(t, f.pk.ID(), resp.json["client_id"])
	resp = f.introspect(t, rt, req{basic: basicOf(f.otherSK)})
	assert.Equal(t, map[string]any{"active": false}, resp.json)

	// Once rotated, it is no longer active.
	next := f.refreshGrant(t, f.pk.ID(), rt, "")
	require.Equal(t, http.StatusOK, next.status, next.body)
	resp = f.introspect(t, rt, req{basic: basicOf(f.sk)})
	assert.Equal(t, map[string]any{"active": false}, resp.json)
}
