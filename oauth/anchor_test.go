package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
)

// anchorSetup is a token endpoint and a protected route, in process, so
// that tests choose each request's peer address.
func anchorSetup(t *testing.T, anchor bool, allowedIPs []string) (token, protected http.Handler, key apikey.Key) {
	t.Helper()
	ctx := context.Background()
	keys, err := apikey.NewManager(apikey.Config{})
	require.NoError(t, err)
	key, _, err = keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, AllowedIPs: allowedIPs}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	sk, err := jwt.GenerateKey("k1", jwt.HS256)
	require.NoError(t, err)
	set, err := jwt.NewKeySet(sk)
	require.NoError(t, err)
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: set, Issuer: "https://kg.test", Audience: "api"})
	require.NoError(t, err)
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: set, Issuer: "https://kg.test", Audience: "api"})
	require.NoError(t, err)
	srv, err := oauth.NewServer(oauth.Config{Clients: keys, Issuer: issuer, Verifier: verifier, AnchorToClientIP: anchor})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{Tokens: verifier})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return srv.TokenHandler(), auth.Handler(ok), key
}

func tokenFrom(t *testing.T, h http.Handler, key apikey.Key, peer string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(key.ID(), key.Reveal())
	req.RemoteAddr = peer
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, ""
	}
	tok := rec.Body.String()
	start := strings.Index(tok, `"access_token":"`) + len(`"access_token":"`)
	return rec.Code, tok[start : start+strings.Index(tok[start:], `"`)]
}

func use(h http.Handler, token, peer string) int {
	req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.RemoteAddr = peer
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestTokensAnchoredToTheIssuingClient(t *testing.T) {
	tokenH, protected, key := anchorSetup(t, true, nil)
	status, tok := tokenFrom(t, tokenH, key, "198.51.100.7:4000")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusNoContent, use(protected, tok, "198.51.100.7:5000"), "from the issuing address")
	assert.Equal(t, http.StatusForbidden, use(protected, tok, "198.51.100.8:5000"), "from anywhere else")

	tokenH, protected, key = anchorSetup(t, false, nil)
	_, tok = tokenFrom(t, tokenH, key, "198.51.100.7:4000")
	assert.Equal(t, http.StatusNoContent, use(protected, tok, "198.51.100.8:5000"), "without anchoring")
}

func TestIPBoundClientsObtainTokensOnlyFromTheirAddresses(t *testing.T) {
	tokenH, protected, key := anchorSetup(t, false, []string{"203.0.113.0/24"})
	status, _ := tokenFrom(t, tokenH, key, "198.51.100.7:4000")
	assert.Equal(t, http.StatusUnauthorized, status, "outside the key's binding")
	status, tok := tokenFrom(t, tokenH, key, "203.0.113.9:4000")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusNoContent, use(protected, tok, "203.0.113.10:1"), "the token carries the key's binding")
	assert.Equal(t, http.StatusForbidden, use(protected, tok, "198.51.100.7:1"))
}
