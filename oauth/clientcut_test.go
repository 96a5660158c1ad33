package oauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntrospectionOfARevokedClientsToken: a token whose client key was
// revoked is inactive (the middleware's rule, middleware.CheckTokenClient,
// applied at introspection); so is a refresh token of a disabled client.
// Today's code reported both active until they expired.
func TestIntrospectionOfARevokedClientsToken(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.accessToken(t, f.sk2)
	resp := f.introspect(t, tok, req{basic: basicOf(f.sk)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	require.Equal(t, true, resp.json["active"])
	_, err := f.keys.Revoke(t.Context(), f.sk2.ID())
	require.NoError(t, err)
	requireInactive(t, f.introspect(t, tok, req{basic: basicOf(f.sk)}))

	_, rt := f.signIn(t)
	resp = f.introspect(t, rt, req{basic: basicOf(f.sk)})
	require.Equal(t, true, resp.json["active"], resp.body)
	_, err = f.keys.Disable(t.Context(), f.pk.ID())
	require.NoError(t, err)
	requireInactive(t, f.introspect(t, rt, req{basic: basicOf(f.sk)}))
}

// TestRotationWithoutGraceEndsRefreshFamilies: the refresh families a key
// obtained before a rotation without grace cannot be refreshed; those
// obtained after it, or kept by a rotation with grace, can.
func TestRotationWithoutGraceEndsRefreshFamilies(t *testing.T) {
	f := newFixture(t, options{})
	_, before := f.signIn(t)
	f.advance(2 * time.Second)
	_, _, err := f.keys.Rotate(t.Context(), f.pk.ID(), time.Hour)
	require.NoError(t, err)
	resp := f.refreshGrant(t, f.pk.ID(), before, "")
	require.Equal(t, http.StatusOK, resp.status, "a rotation with grace keeps the family: %s", resp.body)
	before = resp.str("refresh_token")

	f.advance(2 * time.Second)
	_, _, err = f.keys.Rotate(t.Context(), f.pk.ID(), 0)
	require.NoError(t, err)
	f.advance(2 * time.Second)
	_, after := f.signIn(t)

	resp = f.refreshGrant(t, f.pk.ID(), before, "")
	assert.Equal(t, http.StatusBadRequest, resp.status, resp.body)
	assert.Equal(t, "invalid_grant", resp.json["error"])
	resp = f.refreshGrant(t, f.pk.ID(), after, "")
	assert.Equal(t, http.StatusOK, resp.status, "a family obtained after the rotation: %s", resp.body)
}

// TestRevokedFamilyTakesItsAccessTokens: revoking a refresh token (RFC
// 7009) or reusing a rotated one ends the access tokens of its family at
// once (RFC 9700 §4.14.2), and only those. Today's code let them run
// until they expired.
func TestRevokedFamilyTakesItsAccessTokens(t *testing.T) {
	t.Run("revocation", func(t *testing.T) {
		f := newFixture(t, options{})
		access, rt := f.signIn(t)
		otherAccess, _ := f.signIn(t)
		code, _ := f.whoamiWith(t, access)
		require.Equal(t, http.StatusOK, code)
		requireRevoked(t, f.revoke(t, rt, req{form: form("client_id", f.pk.ID())}))
		code, _ = f.whoamiWith(t, access)
		assert.Equal(t, http.StatusUnauthorized, code, "the family's access token")
		code, _ = f.whoamiWith(t, otherAccess)
		assert.Equal(t, http.StatusOK, code, "another family's")
		requireInactive(t, f.introspect(t, access, req{basic: basicOf(f.sk)}))
	})
	t.Run("reuse", func(t *testing.T) {
		f := newFixture(t, options{})
		first, rt := f.signIn(t)
		resp := f.refreshGrant(t, f.pk.ID(), rt, "")
		require.Equal(t, http.StatusOK, resp.status, resp.body)
		second := resp.str("access_token")
		code, _ := f.whoamiWith(t, second)
		require.Equal(t, http.StatusOK, code)
		requireError(t, f.refreshGrant(t, f.pk.ID(), rt, ""), http.StatusBadRequest, "invalid_grant") // reuse
		for _, tok := range []string{first, second} {
			code, _ := f.whoamiWith(t, tok)
			assert.Equal(t, http.StatusUnauthorized, code)
		}
	})
}

// TestAccountDisableEndsRefreshFamilies: disabling the client's account
// and enabling it again ends the refresh families and access tokens
// obtained before the disable, as a key's disable does: the refresh grant
// answers invalid_grant and the middleware refuses the access token. What
// is obtained after the enable works. Before the account cut-off, both
// worked again once the account was enabled.
func TestAccountDisableEndsRefreshFamilies(t *testing.T) {
	f := newFixture(t, options{accounts: true})
	access, before := f.signIn(t)
	code, _ := f.whoamiWith(t, access)
	require.Equal(t, http.StatusOK, code)

	f.advance(2 * time.Second)
	_, err := f.accounts.Disable(t.Context(), testAccount)
	require.NoError(t, err)
	f.advance(2 * time.Second)
	_, err = f.accounts.Enable(t.Context(), testAccount)
	require.NoError(t, err)
	f.advance(2 * time.Second)
	newAccess, after := f.signIn(t)

	resp := f.refreshGrant(t, f.pk.ID(), before, "")
	assert.Equal(t, http.StatusBadRequest, resp.status, resp.body)
	assert.Equal(t, "invalid_grant", resp.json["error"])
	code, _ = f.whoamiWith(t, access)
	assert.Equal(t, http.StatusUnauthorized, code, "an access token obtained before the disable")
	requireInactive(t, f.introspect(t, access, req{basic: basicOf(f.sk)}))
	requireInactive(t, f.introspect(t, before, req{basic: basicOf(f.sk)}))
	resp = f.introspect(t, newAccess, req{basic: basicOf(f.sk)})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	assert.Equal(t, true, resp.json["active"], "a token obtained after the enable: %s", resp.body)

	resp = f.refreshGrant(t, f.pk.ID(), after, "")
	assert.Equal(t, http.StatusOK, resp.status, "a family obtained after the enable: %s", resp.body)
	code, _ = f.whoamiWith(t, newAccess)
	assert.Equal(t, http.StatusOK, code, "an access token obtained after the enable")
	code, _ = f.whoamiWith(t, resp.str("access_token"))
	assert.Equal(t, http.StatusOK, code, "a refreshed access token of that family")
}
