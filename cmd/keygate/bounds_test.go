package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

// TestCheckoutStartQuota (issue 12 §8): a credential over its share of
// one-time tokens gets 429 too_many_requests from POST /v1/checkout/start,
// not 503, and another credential still gets its token.
func TestCheckoutStartQuota(t *testing.T) {
	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{MaxPerKey: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := &app{oneTime: ot}
	start := func(keyID string) (int, map[string]any) {
		p := keygate.Principal{Method: keygate.MethodAPIKey, KeyID: keyID, Account: "acct_1", Mode: keygate.ModeTest}
		r := httptest.NewRequest(http.MethodPost, "/v1/checkout/start", nil)
		r = r.WithContext(keygate.NewContext(r.Context(), p))
		w := httptest.NewRecorder()
		a.checkoutStart(w, r)
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", w.Body, err)
		}
		return w.Code, body
	}
	if code, body := start("key_a"); code != http.StatusOK {
		t.Fatalf("first token: %d %v", code, body)
	}
	code, body := start("key_a")
	if code != http.StatusTooManyRequests || body["error"] != "too_many_requests" {
		t.Fatalf("a token over the quota: %d %v, want 429 too_many_requests", code, body)
	}
	if code, body := start("key_b"); code != http.StatusOK {
		t.Fatalf("another credential: %d %v", code, body)
	}
}
