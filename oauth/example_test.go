package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/password"
)

// The server side: API keys are the clients, an issuer and a verifier
// share a key set, refresh tokens rotate, and the password grant signs
// users in through the public client of a publishable key.
func ExampleNewServer() {
	ctx := context.Background()
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		log.Fatal(err)
	}
	pk, sk, err := keys.CreatePair(ctx, apikey.CreateParams{
		Grant: keygate.Grant{Account: "acct_example", Mode: keygate.ModeTest, Package: "GO", Permissions: []string{"products:read", "products:write"}}})
	if err != nil {
		log.Fatal(err)
	}

	signing, err := jwt.GenerateKey("2025-01", jwt.ES256)
	if err != nil {
		log.Fatal(err)
	}
	keySet, err := jwt.NewKeySet(signing)
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: keySet, Issuer: "https://auth.example", Audience: "https://api.example"})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: keySet, Issuer: "https://auth.example", Audience: "https://api.example"})
	if err != nil {
		log.Fatal(err)
	}
	refresh, err := jwt.NewRefreshTokens(jwt.RefreshConfig{})
	if err != nil {
		log.Fatal(err)
	}
	// Tiny Argon2id parameters keep the example fast; in production pass
	// the zero password.Params, which mean password.DefaultParams.
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: password.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		log.Fatal(err)
	}
	if err := users.Add(context.Background(), "demo", "demo password", oauth.User{Subject: "user_demo", Account: "acct_example"}); err != nil {
		log.Fatal(err)
	}

	// The Authenticator of the protected routes guards the endpoints too:
	// one budget of failed authentications per client address, the
	// client's rate limit and one origin check for both.
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Tokens: verifier})
	if err != nil {
		log.Fatal(err)
	}
	server, err := oauth.NewServer(oauth.Config{Clients: keys, Issuer: issuer, Verifier: verifier, Refresh: refresh, Users: users, Guard: auth})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/token", server.TokenHandler())
	mux.Handle("POST /oauth/revoke", server.RevocationHandler())
	mux.Handle("POST /oauth/introspect", server.IntrospectionHandler())
	mux.Handle("GET /.well-known/jwks.json", keySet)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	type tokenResponse struct {
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		Scope        string `json:"scope"`
		RefreshToken string `json:"refresh_token"`
	}
	show := func(req *http.Request) {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var tok tokenResponse
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
			log.Fatal(err)
		}
		fmt.Println(resp.StatusCode, tok.TokenType, tok.ExpiresIn, tok.Scope, "| refresh token:", tok.RefreshToken != "")
	}

	// A confidential client: the secret key's ID and the whole secret key,
	// form-encoded into HTTP Basic (RFC 6749 §2.3.1).
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"products:read"}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body.Encode()))
	req.SetBasicAuth(url.QueryEscape(sk.ID()), url.QueryEscape(sk.Reveal()))
	show(req)

	// A public client: the publishable key's ID and no secret.
	body = url.Values{"grant_type": {"password"}, "client_id": {pk.ID()}, "username": {"demo"}, "password": {"demo password"}}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body.Encode()))
	show(req)

	// Output:
	// 200 Bearer 900 products:read | refresh token: false
	// 200 Bearer 900 products:read products:write | refresh token: true
}

// The client side: golang.org/x/oauth2/clientcredentials obtains a token
// with a secret key, caches it for its expires_in and renews it, and its
// http.Client calls a keygate-protected API with it.
func Example_clientCredentials() {
	ctx := context.Background()

	// The server: the token endpoint and an API behind the middleware.
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		log.Fatal(err)
	}
	_, sk, err := keys.CreatePair(ctx, apikey.CreateParams{
		Grant: keygate.Grant{Account: "acct_example", Mode: keygate.ModeTest, Permissions: []string{"products:read", "products:write"}}})
	if err != nil {
		log.Fatal(err)
	}
	signing, err := jwt.GenerateKey("2025-01", jwt.EdDSA)
	if err != nil {
		log.Fatal(err)
	}
	keySet, err := jwt.NewKeySet(signing)
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: keySet, Issuer: "https://auth.example", Audience: "https://api.example"})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: keySet, Issuer: "https://auth.example", Audience: "https://api.example"})
	if err != nil {
		log.Fatal(err)
	}
	server, err := oauth.NewServer(oauth.Config{Clients: keys, Issuer: issuer, Verifier: verifier})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Tokens: verifier})
	if err != nil {
		log.Fatal(err)
	}
	var tokenRequests atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		server.TokenHandler().ServeHTTP(w, r)
	})
	mux.Handle("GET /v1/whoami", auth.Require(middleware.Rule{Publishable: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		fmt.Fprintln(w, p.Method, p.Account, p.Kind, p.Scope)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The client: the secret key's ID and the whole secret key.
	cfg := clientcredentials.Config{
		ClientID:     sk.ID(),
		ClientSecret: sk.Reveal(),
		TokenURL:     srv.URL + "/oauth/token",
		Scopes:       []string{"products:read"},
	}
	client := cfg.Client(ctx)
	for range 3 {
		resp, err := client.Get(srv.URL + "/v1/whoami")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(body))
	}
	fmt.Println("token requests:", tokenRequests.Load())

	// Output:
	// 200 jwt acct_example sk products:read
	// 200 jwt acct_example sk products:read
	// 200 jwt acct_example sk products:read
	// token requests: 1
}
