package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/middleware"
)

// Wrap existing handlers: secret keys by default, publishable keys where a
// route opts in, live keys only where a route demands them.
func ExampleAuthenticator_Require() {
	keys, _ := apikey.NewManager(apikey.Config{})
	ctx := context.Background()
	pk, sk, _ := keys.CreatePair(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest, Stores: []string{"store_1"}}})

	auth, err := middleware.New(middleware.Config{APIKeys: keys})
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%s, %s, store %s)", p.Account, p.Mode, p.Kind, p.Store)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/orders", auth.Handler(hello))
	mux.Handle("GET /v1/products", auth.Require(middleware.Rule{Publishable: true})(hello))
	mux.Handle("POST /v1/payouts", auth.Require(middleware.Rule{Mode: keygate.ModeLive})(hello))

	call := func(method, path string, key apikey.Key) {
		req := httptest.NewRequest(method, path, nil)
		if key.Reveal() != "" {
			req.Header.Set("Authorization", "Bearer "+key.Reveal())
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
		if c := rec.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println("  WWW-Authenticate:", c)
		}
	}
	call("POST", "/v1/orders", sk)
	call("GET", "/v1/products", pk)
	call("POST", "/v1/orders", pk)
	call("POST", "/v1/payouts", sk)
	call("POST", "/v1/orders", apikey.Key{})
	// Output:
	// 200 hello acct_42 (test, sk, store store_1)
	// 200 hello acct_42 (test, pk, store store_1)
	// 403 {"error":"insufficient_scope","error_description":"this route does not accept publishable keys or tokens of public clients"}
	//   WWW-Authenticate: Bearer realm="keygate", error="insufficient_scope", error_description="this route does not accept publishable keys or tokens of public clients"
	// 403 {"error":"insufficient_scope","error_description":"this route requires a live-mode key"}
	//   WWW-Authenticate: Bearer realm="keygate", error="insufficient_scope", error_description="this route requires a live-mode key"
	// 401 {"error":"unauthorized","error_description":"authentication required: send Authorization: Bearer <API key or access token>"}
	//   WWW-Authenticate: Bearer realm="keygate"
}

// Check serves callers that are not middleware chains.
func ExampleAuthenticator_Check() {
	keys, _ := apikey.NewManager(apikey.Config{})
	key, _, _ := keys.Create(context.Background(), apikey.CreateParams{Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	auth, _ := middleware.New(middleware.Config{APIKeys: keys})

	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+key.Reveal())
	p, err := auth.Check(req, middleware.Rule{})
	fmt.Println(p.Account, p.Method, err)

	req.Header.Set("Authorization", "Bearer bk_test_sk_garbage")
	_, err = auth.Check(req, middleware.Rule{})
	f := middleware.Classify(err)
	fmt.Println(f.Status, f.Code)
	// Output:
	// acct_42 api_key <nil>
	// 401 invalid_token
}
