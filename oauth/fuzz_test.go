package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/password"
)

// FuzzEndpoints sends arbitrary form bodies, Authorization headers and
// content types to the token, revocation and introspection endpoints:
// never a panic, never a 5xx (the stores are in memory and up), and never
// the secret key in a response.
func FuzzEndpoints(f *testing.F) {
	ctx := context.Background()
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		f.Fatal(err)
	}
	pk, sk, err := keys.CreatePair(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Permissions: []string{"products:read"}}})
	if err != nil {
		f.Fatal(err)
	}
	signing, err := jwt.GenerateKey("k1", jwt.HS256)
	if err != nil {
		f.Fatal(err)
	}
	set, err := jwt.NewKeySet(signing)
	if err != nil {
		f.Fatal(err)
	}
	issuer, _ := jwt.NewIssuer(jwt.IssuerConfig{Keys: set, Issuer: "https://kg.test", Audience: "api"})
	verifier, _ := jwt.NewVerifier(jwt.VerifierConfig{Keys: set, Issuer: "https://kg.test", Audience: "api"})
	refresh, _ := jwt.NewRefreshTokens(jwt.RefreshConfig{Store: jwt.NewMemoryRefreshStore()})
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: password.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		f.Fatal(err)
	}
	if err := users.Add(context.Background(), "alice", "pw", oauth.User{Subject: "u1", Account: "acct_1"}); err != nil {
		f.Fatal(err)
	}
	srv, err := oauth.NewServer(oauth.Config{Clients: keys, Issuer: issuer, Verifier: verifier, Refresh: refresh, Users: users})
	if err != nil {
		f.Fatal(err)
	}
	handlers := []http.Handler{srv.TokenHandler(), srv.RevocationHandler(), srv.IntrospectionHandler()}
	secret := sk.Reveal()

	f.Add(0, "grant_type=client_credentials", "Basic "+basicValue(sk.ID(), secret), "application/x-www-form-urlencoded")
	f.Add(0, "grant_type=password&username=alice&password=pw&client_id="+pk.ID(), "", "application/x-www-form-urlencoded")
	f.Add(0, "grant_type=refresh_token&refresh_token=kgrt_x&client_id="+pk.ID(), "", "application/x-www-form-urlencoded")
	f.Add(1, "token=abc&client_id="+sk.ID()+"&client_secret="+secret, "", "application/x-www-form-urlencoded")
	f.Add(2, "token=a.b.c", "Basic "+basicValue(sk.ID(), secret), "application/x-www-form-urlencoded; charset=utf-8")
	f.Add(0, "%zz=1&grant_type=client_credentials&grant_type=x", "Basic !!!", "text/plain")
	f.Fuzz(func(t *testing.T, which int, body, authorization, contentType string) {
		h := handlers[((which%3)+3)%3]
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), secret) || strings.Contains(strings.Join(rec.Header().Values("WWW-Authenticate"), ""), secret) {
			t.Fatal("the secret key reached a response")
		}
	})
}

func basicValue(id, secret string) string {
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth(id, secret)
	return req.Header.Get("Authorization")
}
