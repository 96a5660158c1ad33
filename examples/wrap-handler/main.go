// Command wrap-handler puts an existing net/http handler behind keygate's
// API-key middleware, calls it with and without a test key, prints what came
// back and exits.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/middleware"
)

func main() {
	out, err := demo(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "wrap-handler:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

// orders is the service's existing handler. Behind the middleware it can
// read the authenticated caller from the request context.
func orders(w http.ResponseWriter, r *http.Request) {
	p, _ := keygate.FromContext(r.Context())
	fmt.Fprintf(w, "orders of %s (%s mode)\n", p.Account, p.Mode)
}

// demo wraps orders, calls it twice and returns the statuses and bodies.
func demo(ctx context.Context) (string, error) {
	keys, err := apikey.NewManager(apikey.Config{}) // in memory
	if err != nil {
		return "", err
	}
	defer keys.Close(ctx) // writes the last-used times and stops its goroutines
	secret, _, err := keys.Create(ctx, apikey.CreateParams{
		Grant: keygate.Grant{Account: "acct_demo", Mode: keygate.ModeTest}, Kind: keygate.KindSecret, Name: "example",
	})
	if err != nil {
		return "", err
	}
	auth, err := middleware.New(middleware.Config{APIKeys: keys})
	if err != nil {
		return "", err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /v1/orders", auth.Handler(http.HandlerFunc(orders)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var out strings.Builder
	for _, call := range []struct{ label, authorization string }{
		{"with the key", "Bearer " + secret.Reveal()},
		{"without a key", ""},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/orders", nil)
		if err != nil {
			return "", err
		}
		if call.authorization != "" {
			req.Header.Set("Authorization", call.authorization)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "%s: %d %s", call.label, resp.StatusCode, body)
	}
	return out.String(), nil
}
