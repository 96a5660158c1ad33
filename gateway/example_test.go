package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/middleware"
)

// A gateway in front of a service that does not import keygate: Traefik
// (or nginx, Caddy, Envoy) asks /auth/verify about each request, and the
// routes with an upstream are also served by the reverse proxy.
func ExampleGateway_ForwardAuth() {
	keys, _ := apikey.NewManager(apikey.Config{})
	key, _, _ := keys.Create(context.Background(), apikey.CreateParams{
		Grant: keygate.Grant{
			Account: "acct_42",
			Mode:    keygate.ModeTest,
			Stores:  []string{"store_1"},
		}, Kind: keygate.KindSecret})
	auth, _ := middleware.New(middleware.Config{APIKeys: keys})
	orders, _ := url.Parse("http://127.0.0.1:9000")
	gw, err := gateway.New(gateway.Config{
		Auth: auth,
		Routes: []gateway.Route{
			{Pattern: "GET /orders/{id}", Upstream: orders},
			{Pattern: "GET /payouts", Rule: middleware.Rule{Mode: keygate.ModeLive}},
		},
		// TrustedProxies: nil, so loopback proxies only.
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/verify", gw.ForwardAuth())
	mux.Handle("/", gw.Proxy())

	ask := func(method, uri string) {
		q := httptest.NewRequest("GET", "/auth/verify", nil)
		q.RemoteAddr = "127.0.0.1:50000" // the front proxy
		q.Header.Set("X-Forwarded-Method", method)
		q.Header.Set("X-Forwarded-Uri", uri)
		q.Header.Set("X-Forwarded-Host", "api.example.com")
		q.Header.Set("Authorization", "Bearer "+key.Reveal())
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, q)
		if rec.Code != http.StatusOK {
			fmt.Print(method, " ", uri, " -> ", rec.Code, " ", rec.Body.String())
			return
		}
		fmt.Println(method, uri, "->", rec.Code, rec.Header().Get(gateway.HeaderAccount), rec.Header().Get(gateway.HeaderStore))
	}
	ask("GET", "/orders/7")
	ask("GET", "/payouts")
	ask("DELETE", "/orders/7")
	// Output:
	// GET /orders/7 -> 200 acct_42 store_1
	// GET /payouts -> 403 {"error":"insufficient_scope","error_description":"this route requires a live-mode key"}
	// DELETE /orders/7 -> 403 {"error":"insufficient_scope","error_description":"no route matches this request"}
}
