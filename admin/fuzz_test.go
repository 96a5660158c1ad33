package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler throws arbitrary methods, paths, bodies and headers at the
// admin API behind the real middleware, with healthy in-memory stores:
// never a panic, never a 5xx, always a JSON error body for a 4xx, and no
// secret in any body but the one-time plaintext of create and rotate.
func FuzzHandler(f *testing.F) {
	e := newEnv(f, envOptions{})
	e.createAccount("acct_f", "GO")
	seeds := []struct {
		method, path, body, ct, idem string
		who                          uint8
	}{
		{"POST", "/accounts", `{"name":"x"}`, "application/json", "", 0},
		{"POST", "/keys", `{"account":"acct_f","mode":"test"}`, "application/json", "k1", 0},
		{"POST", "/keys", `{"account":"acct_f","mode":"live","kind":"sk","roles":["viewer"]}`, "application/json", "", 0},
		{"GET", "/keys?account=acct_f&limit=1", "", "", "", 1},
		{"PATCH", "/keys/0000000000000000", `{"expires":null}`, "application/json", "", 0},
		{"POST", "/keys/0000000000000000/rotate", `{"grace_seconds":5}`, "application/json", "", 2},
		{"POST", "/tokens/revoke", `{"family":"ABC"}`, "application/json", "x", 0},
		{"GET", "/audit?since=2030-01-01T00:00:00Z", "", "", "", 0},
		{"DELETE", "/accounts/acct_f", "", "", "", 0},
		{"GET", "/openapi.json", "", "", "", 3},
		{"POST", "/hmac-keys", `{"account":"acct_f","mode":"test"}`, "application/json; charset=utf-8", "h", 0},
		{"GET", "/../../etc/passwd", "", "", "", 0},
		{"PATCH", "/accounts/acct_f", `{"package":"PRIME"}`, "application/json", "", 0},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), s.ct, s.idem, s.who)
	}
	creds := []string{e.adminKey, e.readKey, e.writeKey, "", e.reviewKey, "bk_test_sk_garbage"}
	f.Fuzz(func(t *testing.T, method, path string, body []byte, ct, idem string, who uint8) {
		u, err := url.Parse(path)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Method = method
		r.URL = u
		r.URL.Path = prefix + "/" + strings.TrimPrefix(u.Path, "/")
		r.URL.RawPath = ""
		r.RequestURI = r.URL.RequestURI()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if ct != "" {
			r.Header["Content-Type"] = []string{ct}
		}
		if idem != "" {
			r.Header["Idempotency-Key"] = []string{idem}
		}
		if key := creds[int(who)%len(creds)]; key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		e.outer.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, path, w.Code, w.Body)
		}
		out := w.Body.String()
		if w.Code >= 400 {
			var m map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m["error"] == nil {
				t.Fatalf("%s %q: %d with a body that is not a JSON error: %q", method, path, w.Code, out)
			}
		}
		for _, c := range creds[:5] {
			if c != "" && strings.Contains(out, c) {
				t.Fatalf("%s %q: the response holds an admin key", method, path)
			}
		}
	})
}
