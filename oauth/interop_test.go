package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

// Interoperability with golang.org/x/oauth2, the client keygate's README
// recommends: no home-grown token client. x/oauth2 decides when a token
// has expired from expires_in alone, and treats it as expired 10 seconds
// early (its documented expiryDelta); the tests are built on that.

// x2Context makes x/oauth2 use the fixture server's HTTP client.
func (f *fixture) x2Context(t testing.TB) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, f.srv.Client())
}

// x2BubbleContext is x2Context for an x/oauth2 client in a synctest
// bubble: its transport is made in the bubble and keeps no connection
// open, so that no goroutine of the bubble waits on the network once a
// call has returned, and time.Sleep advances the bubble's clock.
func (f *fixture) x2BubbleContext(t testing.TB) context.Context {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return context.WithValue(t.Context(), oauth2.HTTPClient, client)
}

// whoamiVia calls the protected route through an x/oauth2 client.
func (f *fixture) whoamiVia(t testing.TB, c *http.Client) keygate.Principal {
	t.Helper()
	resp, err := c.Get(f.srv.URL + "/v1/whoami")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var p keygate.Principal
	require.NoError(t, json.Unmarshal(body, &p))
	return p
}

func TestInteropClientCredentials(t *testing.T) {
	f := newFixture(t, options{accessTTL: time.Hour})
	cfg := clientcredentials.Config{ClientID: f.sk.ID(), ClientSecret: f.sk.Reveal(), TokenURL: f.srv.URL + "/oauth/token"}
	client := cfg.Client(f.x2Context(t))

	var jti string
	for i := range 5 {
		p := f.whoamiVia(t, client)
		assert.Equal(t, keygate.MethodJWT, p.Method)
		assert.Equal(t, f.sk.ID(), p.KeyID)
		assert.Equal(t, f.sk.ID(), p.Subject)
		assert.Equal(t, testAccount, p.Account)
		assert.Equal(t, strings.Join(testPerms, " "), p.Scope)
		if i == 0 {
			jti = p.TokenID
		}
		assert.Equal(t, jti, p.TokenID, "the cached token is reused")
	}
	assert.Equal(t, 1, f.tokenHits(), "one token request for five calls: the token is cached for its expires_in")

	t.Run("scopes", func(t *testing.T) {
		cfg := cfg
		cfg.Scopes = []string{"orders:read", "products:read"}
		p := f.whoamiVia(t, cfg.Client(f.x2Context(t)))
		assert.Equal(t, "orders:read products:read", p.Scope)
		assert.Equal(t, []string{"orders:read", "products:read"}, p.Permissions)
	})

	t.Run("credentials in the body", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := cfg
			cfg.AuthStyle = oauth2.AuthStyleInParams
			tok, err := cfg.Token(f.x2BubbleContext(t))
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.Empty(t, tok.RefreshToken)
			// The bubble's clock stood still during the call: the expiry
			// is expires_in from now exactly.
			want := time.Now().Add(time.Hour)
			assert.True(t, tok.Expiry.Equal(want), "expiry %v, want %v", tok.Expiry, want)
		})
	})

	t.Run("wrong secret", func(t *testing.T) {
		cfg := cfg
		cfg.ClientSecret = f.sk2.Reveal()
		_, err := cfg.Token(f.x2Context(t))
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "invalid_client", re.ErrorCode)
		assert.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
	})

	t.Run("scope beyond the key", func(t *testing.T) {
		cfg := cfg
		cfg.Scopes = []string{"admin:all"}
		_, err := cfg.Token(f.x2Context(t))
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "invalid_scope", re.ErrorCode)
	})

	t.Run("public client", func(t *testing.T) {
		cfg := clientcredentials.Config{ClientID: f.pk.ID(), TokenURL: f.srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}
		_, err := cfg.Token(f.x2Context(t))
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "unauthorized_client", re.ErrorCode)
	})
}

func TestInteropClientCredentialsRenewal(t *testing.T) {
	t.Run("renewed after expires_in", func(t *testing.T) {
		// x/oauth2 keeps a token until expires_in has passed (less an
		// early margin of its own), then fetches a new one. In a bubble
		// its clock is the bubble's: a token of an hour, an hour later,
		// has expired for it whatever that margin is, and the hour takes
		// no time.
		f := newFixture(t, options{accessTTL: time.Hour})
		synctest.Test(t, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: f.sk.ID(), ClientSecret: f.sk.Reveal(), TokenURL: f.srv.URL + "/oauth/token"}
			client := cfg.Client(f.x2BubbleContext(t))

			first := f.whoamiVia(t, client)
			second := f.whoamiVia(t, client)
			require.Equal(t, 1, f.tokenHits(), "cached while valid")
			assert.Equal(t, first.TokenID, second.TokenID)

			time.Sleep(time.Hour)
			third := f.whoamiVia(t, client)
			assert.Equal(t, 2, f.tokenHits(), "renewed once expired")
			assert.NotEqual(t, first.TokenID, third.TokenID)
			fourth := f.whoamiVia(t, client)
			assert.Equal(t, 2, f.tokenHits())
			assert.Equal(t, third.TokenID, fourth.TokenID)
		})
	})

	t.Run("a lifetime under expiryDelta is never cached", func(t *testing.T) {
		// With 2 s, every token is already within x/oauth2's 10 s
		// margin when it arrives: each call fetches a new one, and each
		// works.
		f := newFixture(t, options{accessTTL: 2 * time.Second})
		cfg := clientcredentials.Config{ClientID: f.sk.ID(), ClientSecret: f.sk.Reveal(), TokenURL: f.srv.URL + "/oauth/token"}
		client := cfg.Client(f.x2Context(t))
		seen := map[string]bool{}
		for range 3 {
			seen[f.whoamiVia(t, client).TokenID] = true
		}
		assert.Len(t, seen, 3)
		assert.Equal(t, 3, f.tokenHits())
	})

	t.Run("server-side expiry", func(t *testing.T) {
		// The server's own clock, not x/oauth2's, decides: once it has
		// passed exp (and the leeway), the token gets 401.
		f := newFixture(t, options{accessTTL: time.Hour})
		cfg := clientcredentials.Config{ClientID: f.sk.ID(), ClientSecret: f.sk.Reveal(), TokenURL: f.srv.URL + "/oauth/token"}
		tok, err := cfg.Token(f.x2Context(t))
		require.NoError(t, err)
		status, _ := f.whoamiWith(t, tok.AccessToken)
		require.Equal(t, http.StatusOK, status)
		f.advance(time.Hour + jwt.DefaultLeeway + time.Second)
		status, _ = f.whoamiWith(t, tok.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, status)
		// A new token, issued at the server's new time, works.
		p := f.whoamiVia(t, cfg.Client(f.x2Context(t)))
		assert.NotEmpty(t, p.TokenID)
	})
}

func TestInteropPasswordAndRefresh(t *testing.T) {
	f := newFixture(t, options{})
	ctx := f.x2Context(t)
	conf := oauth2.Config{
		ClientID: f.pk.ID(), // a public client: no secret
		Endpoint: oauth2.Endpoint{TokenURL: f.srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
	}

	tok, err := conf.PasswordCredentialsToken(ctx, "alice", alicePassword)
	require.NoError(t, err)
	assert.Equal(t, "Bearer", tok.Type())
	assert.True(t, strings.HasPrefix(tok.RefreshToken, jwt.RefreshTokenPrefix))
	// The server's answer, exactly; how x/oauth2 turns it into Expiry is
	// checked in a bubble below.
	assert.Equal(t, jwt.DefaultAccessTTL.Seconds(), tok.Extra("expires_in"))
	assert.Equal(t, strings.Join(testPerms, " "), tok.Extra("scope"))
	assert.Equal(t, 1, f.tokenHits())

	p := f.whoamiVia(t, conf.Client(ctx, tok))
	assert.Equal(t, aliceSubject, p.Subject)
	assert.Equal(t, f.pk.ID(), p.KeyID)
	assert.Equal(t, 1, f.tokenHits(), "a valid token is used as is")

	// The access token expires: on the server (its clock moves past
	// exp), and for x/oauth2 (which only knows expires_in, so the
	// client's copy is marked expired).
	f.advance(jwt.DefaultAccessTTL + jwt.DefaultLeeway + time.Second)
	status, _ := f.whoamiWith(t, tok.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)

	// The TokenSource refreshes through the refresh_token grant.
	ts := conf.TokenSource(ctx, &expired)
	client := oauth2.NewClient(ctx, ts)
	p = f.whoamiVia(t, client)
	assert.Equal(t, aliceSubject, p.Subject)
	assert.Equal(t, 2, f.tokenHits())
	refreshed, err := ts.Token()
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
	assert.NotEqual(t, tok.RefreshToken, refreshed.RefreshToken, "rotated")
	assert.True(t, strings.HasPrefix(refreshed.RefreshToken, jwt.RefreshTokenPrefix))
	f.whoamiVia(t, client)
	assert.Equal(t, 2, f.tokenHits(), "the refreshed token is cached")

	// Reusing the first refresh token (as a stale copy of the client
	// would) fails, and kills the token the refresh returned.
	_, err = conf.TokenSource(ctx, &expired).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "invalid_grant", re.ErrorCode)

	stale := *refreshed
	stale.Expiry = time.Now().Add(-time.Minute)
	_, err = conf.TokenSource(ctx, &stale).Token()
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "invalid_grant", re.ErrorCode)
	require.NotEmpty(t, f.changesOf(keygate.ActionRefreshReuse))

	t.Run("scopes", func(t *testing.T) {
		conf := conf
		conf.Scopes = []string{"products:read"}
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", alicePassword)
		require.NoError(t, err)
		assert.Equal(t, "products:read", tok.Extra("scope"))
	})

	t.Run("wrong password", func(t *testing.T) {
		_, err := conf.PasswordCredentialsToken(ctx, "alice", "wrong")
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "invalid_grant", re.ErrorCode)
	})

	t.Run("expiry", func(t *testing.T) {
		// In a bubble the clock x/oauth2 reads stands still while it
		// waits on the network: the token expires exactly the access
		// TTL after the request.
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			tok, err := conf.PasswordCredentialsToken(f.x2BubbleContext(t), "alice", alicePassword)
			require.NoError(t, err)
			assert.Equal(t, start.Add(jwt.DefaultAccessTTL), tok.Expiry)
		})
	})
}
