package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keygate/keygate/middleware"
)

// FuzzForwardedRequest sends forward-auth questions with arbitrary
// forwarded-request headers and question paths. Whatever they hold, the
// answer is a refusal in the middleware's JSON (no credential is sent, so
// nothing is ever allowed): 400 invalid_request for a question that cannot
// be read, 401 for a request a route matches, 403 for one no route
// matches; never a 2xx, a redirect or a 5xx, never a panic.
func FuzzForwardedRequest(f *testing.F) {
	f.Add("GET", "/orders/1", "api.example.com", "https", "", "", "/auth/verify")
	f.Add("", "", "", "", "POST", "/orders?x=1", "/auth/verify")
	f.Add("GET", "/orders/../payouts", "api.example.com:8443", "http", "GET", "/orders/1", "/auth/verify")
	f.Add("", "", "[::1]:80", "", "", "", "/auth/verify/orders/%2e%2e/x?y")
	f.Add("GET\r\nX: y", "/a b", "a/b", "HTTPS", "", "//evil/x", "/auth/verify//x")
	fx := newFixture(f, nil, nil)
	h := fx.gw.ForwardAuth()
	f.Fuzz(func(t *testing.T, fMethod, fURI, fHost, fProto, oMethod, oURI, question string) {
		q := httptest.NewRequest("GET", "/", nil)
		q.RemoteAddr = loopback
		q.URL.Path = question
		q.URL.RawPath = ""
		for name, v := range map[string]string{
			"X-Forwarded-Method": fMethod, "X-Forwarded-Uri": fURI, "X-Forwarded-Host": fHost,
			"X-Forwarded-Proto": fProto, "X-Original-Method": oMethod, "X-Original-Uri": oURI,
		} {
			if v != "" {
				q.Header[name] = []string{v}
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, q)
		switch rec.Code {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		default:
			t.Fatalf("status %d for %q", rec.Code, q.Header)
		}
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" || body.Description == "" {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if rec.Code == http.StatusBadRequest && body.Error != middleware.CodeInvalidRequest {
			t.Fatalf("400 with %q", body.Error)
		}
	})
}
