package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
)

// marker is put in bad input: no response may echo it.
const marker = "ZQXJmarkerZQXJ"

// TestBadInputs: every bad input gets its documented 4xx and error code,
// never a 5xx, and no response echoes the input.
func TestBadInputs(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_b", "GO")
	pair := e.createKeys(`{"account":"acct_b","mode":"test"}`)
	sk := pair.Secret.ID
	live := e.createKeys(`{"account":"acct_b","mode":"live","kind":"sk"}`).Secret.ID
	mustStatus(t, e.post(e.adminKey, "/keys/"+live+"/approve", ""), http.StatusOK)
	hk := e.post(e.adminKey, "/hmac-keys", `{"account":"acct_b","mode":"test"}`).json(t)["id"].(string)
	acctsCursor := e.get(e.readKey, "/accounts?limit=1").json(t)["next_cursor"].(string)
	big := `{"name":"` + strings.Repeat("a", admin.MaxBodyBytes) + `"}`
	past := "2001-01-01T00:00:00Z"

	const (
		invalid    = admin.CodeInvalidRequest
		validation = admin.CodeValidationFailed
	)
	tests := []struct {
		name   string
		req    req
		status int
		code   string
		field  string // for validation_failed: a field that must be named
	}{
		// Malformed bodies.
		{"malformed JSON", req{method: "POST", path: "/accounts", body: `{"name":`}, 400, invalid, ""},
		{"not an object", req{method: "POST", path: "/accounts", body: `["` + marker + `"]`}, 400, invalid, ""},
		{"a string", req{method: "POST", path: "/accounts", body: `"x"`}, 400, invalid, ""},
		{"null", req{method: "POST", path: "/accounts", body: `null`}, 400, invalid, ""},
		{"two values", req{method: "POST", path: "/accounts", body: `{"name":"a"} {}`}, 400, invalid, ""},
		{"trailing garbage", req{method: "POST", path: "/accounts", body: `{"name":"a"}x`}, 400, invalid, ""},
		{"unknown field", req{method: "POST", path: "/accounts", body: `{"name":"a","` + strings.Repeat(marker, 3) + `":1}`}, 400, invalid, ""},
		{"unknown field, odd name", req{method: "POST", path: "/accounts", body: `{"name":"a","` + marker + `<>":1}`}, 400, invalid, ""},
		{"field in another case", req{method: "POST", path: "/accounts", body: `{"Name":"a"}`}, 400, invalid, ""},
		{"repeated field", req{method: "POST", path: "/accounts", body: `{"name":"a","name":"b"}`}, 400, invalid, ""},
		{"invalid UTF-8", req{method: "POST", path: "/accounts", body: "{\"name\":\"\xff\"}"}, 400, invalid, ""},
		{"control character", req{method: "POST", path: "/accounts", body: `{"name":"a\u0007` + marker + `"}`}, 400, validation, "name"},
		{"body on an action", req{method: "POST", path: "/keys/" + sk + "/disable", body: `{"why":"x"}`}, 400, invalid, ""},
		{"oversized body", req{method: "POST", path: "/accounts", body: big}, 413, admin.CodeRequestTooLarge, ""},
		{"oversized PATCH", req{method: "PATCH", path: "/keys/" + sk, body: big}, 413, admin.CodeRequestTooLarge, ""},
		{"text/plain", req{method: "POST", path: "/accounts", body: `{"name":"a"}`, contentType: "text/plain"}, 415, admin.CodeUnsupportedMediaType, ""},
		{"form", req{method: "POST", path: "/keys/" + sk + "/rotate", body: `grace_seconds=1`, contentType: "application/x-www-form-urlencoded"}, 415, admin.CodeUnsupportedMediaType, ""},
		{"bad media type", req{method: "POST", path: "/accounts", body: `{"name":"a"}`, contentType: "application/json; charset"}, 415, admin.CodeUnsupportedMediaType, ""},
		{"query on a POST", req{method: "POST", path: "/accounts?x=1", body: `{"name":"a"}`}, 400, invalid, ""},

		// Wrong types.
		{"number for a string", req{method: "POST", path: "/accounts", body: `{"name":5}`}, 400, validation, "name"},
		{"string for a list", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","stores":"s"}`}, 400, validation, "stores"},
		{"number in a list", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","permissions":[1]}`}, 400, validation, "permissions"},
		{"string for grace", req{method: "POST", path: "/keys/" + sk + "/rotate", body: `{"grace_seconds":"60"}`}, 400, validation, "grace_seconds"},
		{"fractional grace", req{method: "POST", path: "/keys/" + sk + "/rotate", body: `{"grace_seconds":1.5}`}, 400, validation, "grace_seconds"},
		{"huge grace", req{method: "POST", path: "/keys/" + sk + "/rotate", body: `{"grace_seconds":1e30}`}, 400, validation, "grace_seconds"},
		{"object for expires", req{method: "PATCH", path: "/keys/" + sk, body: `{"expires":{}}`}, 400, validation, "expires"},
		{"bool for name", req{method: "PATCH", path: "/accounts/acct_b", body: `{"name":true}`}, 400, validation, "name"},

		// Invalid values.
		{"missing name", req{method: "POST", path: "/accounts", body: `{}`}, 400, validation, "name"},
		{"empty body create", req{method: "POST", path: "/keys"}, 400, validation, "account"},
		{"bad account ID", req{method: "POST", path: "/accounts", body: `{"id":"a b` + marker + `","name":"x"}`}, 400, validation, "id"},
		{"duplicate account", req{method: "POST", path: "/accounts", body: `{"id":"acct_b","name":"x"}`}, 409, admin.CodeConflict, ""},
		{"bad package", req{method: "PATCH", path: "/accounts/acct_b", body: `{"package":"G O"}`}, 400, validation, "package"},
		{"empty name", req{method: "PATCH", path: "/accounts/acct_b", body: `{"name":""}`}, 400, validation, "name"},
		{"missing mode", req{method: "POST", path: "/keys", body: `{"account":"acct_b"}`}, 400, validation, "mode"},
		{"bad mode", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"prod` + marker + `"}`}, 400, validation, "mode"},
		{"bad kind", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","kind":"xx"}`}, 400, validation, "kind"},
		{"unknown account", req{method: "POST", path: "/keys", body: `{"account":"acct_none","mode":"test"}`}, 400, validation, "account"},
		{"bad account", req{method: "POST", path: "/keys", body: `{"account":"../x","mode":"test"}`}, 400, validation, "account"},
		{"bad store", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","stores":["a b"]}`}, 400, validation, "stores"},
		{"bad permission", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","permissions":["Admin:read"]}`}, 400, validation, "permissions"},
		{"unknown role", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","roles":["root"]}`}, 400, validation, "roles"},
		{"bad IP", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","allowed_ips":["10.0.0.1/8"]}`}, 400, validation, "allowed_ips"},
		{"bad denied IP", req{method: "PATCH", path: "/keys/" + sk, body: `{"denied_ips":["nope"]}`}, 400, validation, "denied_ips"},
		{"bad country", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","denied_countries":["se"]}`}, 400, validation, "denied_countries"},
		{"expiry in the past", req{method: "POST", path: "/keys", body: `{"account":"acct_b","mode":"test","expires":"` + past + `"}`}, 400, validation, "expires"},
		{"expiry not a time", req{method: "PATCH", path: "/keys/" + sk, body: `{"expires":"tomorrow` + marker + `"}`}, 400, validation, "expires"},
		{"negative grace", req{method: "POST", path: "/keys/" + sk + "/rotate", body: `{"grace_seconds":-1}`}, 400, validation, "grace_seconds"},
		{"grace over 30 days", req{method: "POST", path: "/keys/" + sk + "/rotate", body: `{"grace_seconds":2592001}`}, 400, validation, "grace_seconds"},
		{"HMAC bad mode", req{method: "POST", path: "/hmac-keys", body: `{"account":"acct_b","mode":"x"}`}, 400, validation, "mode"},
		{"HMAC kind", req{method: "POST", path: "/hmac-keys", body: `{"account":"acct_b","mode":"test","kind":"sk"}`}, 400, invalid, ""},
		{"two token members", req{method: "POST", path: "/tokens/revoke", body: `{"jti":"a","subject":"b"}`}, 400, validation, "jti"},
		{"no token member", req{method: "POST", path: "/tokens/revoke", body: `{}`}, 400, validation, "family"},
		{"bad jti", req{method: "POST", path: "/tokens/revoke", body: `{"jti":"a b"}`}, 400, validation, "jti"},
		{"bad family", req{method: "POST", path: "/tokens/revoke", body: `{"family":"abc"}`}, 400, validation, "family"},
		{"long subject", req{method: "POST", path: "/tokens/revoke", body: `{"subject":"` + strings.Repeat("s", 257) + `"}`}, 400, validation, "subject"},

		// Query parameters.
		{"limit 0", req{method: "GET", path: "/keys?limit=0"}, 400, invalid, ""},
		{"limit 101", req{method: "GET", path: "/accounts?limit=101"}, 400, invalid, ""},
		{"limit negative", req{method: "GET", path: "/keys?limit=-1"}, 400, invalid, ""},
		{"limit not a number", req{method: "GET", path: "/hmac-keys?limit=1e2"}, 400, invalid, ""},
		{"limit empty", req{method: "GET", path: "/audit?limit="}, 400, invalid, ""},
		{"cursor garbage", req{method: "GET", path: "/keys?cursor=" + marker}, 400, invalid, ""},
		{"cursor padded", req{method: "GET", path: "/accounts?cursor=" + acctsCursor + "%3D"}, 400, invalid, ""},
		{"cursor of another list", req{method: "GET", path: "/keys?cursor=" + acctsCursor}, 400, invalid, ""},
		{"cursor too long", req{method: "GET", path: "/keys?cursor=" + strings.Repeat("A", 300)}, 400, invalid, ""},
		{"audit cursor garbage", req{method: "GET", path: "/audit?cursor=" + marker}, 400, invalid, ""},
		{"audit cursor with spaces", req{method: "GET", path: "/audit?cursor=a%20b"}, 400, invalid, ""},
		{"unknown parameter", req{method: "GET", path: "/keys?acount=acct_b"}, 400, invalid, ""},
		{"repeated parameter", req{method: "GET", path: "/keys?mode=test&mode=live"}, 400, invalid, ""},
		{"malformed query", req{method: "GET", path: "/keys?mode=%zz"}, 400, invalid, ""},
		{"bad mode filter", req{method: "GET", path: "/keys?mode=prod"}, 400, invalid, ""},
		{"bad status filter", req{method: "GET", path: "/keys?status=gone"}, 400, invalid, ""},
		{"bad account filter", req{method: "GET", path: "/hmac-keys?account=a%20b"}, 400, invalid, ""},
		{"parameter on a get", req{method: "GET", path: "/keys/" + sk + "?expand=1"}, 400, invalid, ""},
		{"audit bad since", req{method: "GET", path: "/audit?since=yesterday"}, 400, invalid, ""},
		{"audit bad decision", req{method: "GET", path: "/audit?decision=maybe"}, 400, invalid, ""},
		{"audit bad ip", req{method: "GET", path: "/audit?ip=1.2.3"}, 400, invalid, ""},
		{"audit bad mode", req{method: "GET", path: "/audit?mode=x"}, 400, invalid, ""},

		// Unknown IDs, routes and methods.
		{"unknown key", req{method: "GET", path: "/keys/0000000000000000"}, 404, admin.CodeNotFound, ""},
		{"impossible key ID", req{method: "GET", path: "/keys/" + marker + "%20x"}, 404, admin.CodeNotFound, ""},
		{"rotate unknown key", req{method: "POST", path: "/keys/0000000000000000/rotate"}, 404, admin.CodeNotFound, ""},
		{"approve unknown key", req{method: "POST", path: "/keys/0000000000000000/approve"}, 404, admin.CodeNotFound, ""},
		{"patch unknown key", req{method: "PATCH", path: "/keys/0000000000000000", body: `{"name":"x"}`}, 404, admin.CodeNotFound, ""},
		{"unknown account", req{method: "GET", path: "/accounts/acct_nope"}, 404, admin.CodeNotFound, ""},
		{"patch unknown account", req{method: "PATCH", path: "/accounts/acct_nope", body: `{"name":"x"}`}, 404, admin.CodeNotFound, ""},
		{"unknown HMAC key", req{method: "GET", path: "/hmac-keys/hk_nope"}, 404, admin.CodeNotFound, ""},
		{"revoke unknown HMAC key", req{method: "POST", path: "/hmac-keys/hk_nope/revoke"}, 404, admin.CodeNotFound, ""},
		{"unknown route", req{method: "GET", path: "/" + marker}, 404, admin.CodeNotFound, ""},
		{"trailing slash", req{method: "GET", path: "/keys/"}, 404, admin.CodeNotFound, ""},
		{"no HMAC disable route", req{method: "POST", path: "/hmac-keys/" + hk + "/disable"}, 404, admin.CodeNotFound, ""},
		{"DELETE a key", req{method: "DELETE", path: "/keys/" + sk}, 405, admin.CodeMethodNotAllowed, ""},
		{"PUT keys", req{method: "PUT", path: "/keys", body: `{}`}, 405, admin.CodeMethodNotAllowed, ""},
		{"GET rotate", req{method: "GET", path: "/keys/" + sk + "/rotate"}, 405, admin.CodeMethodNotAllowed, ""},
		{"POST openapi", req{method: "POST", path: "/openapi.json"}, 405, admin.CodeMethodNotAllowed, ""},

		// State conflicts.
		{"approve an active key", req{method: "POST", path: "/keys/" + live + "/approve"}, 409, admin.CodeConflict, ""},
		{"approve a test key", req{method: "POST", path: "/keys/" + sk + "/approve"}, 409, admin.CodeConflict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.key == "" {
				tt.req.key = e.adminKey
			}
			r := e.send(tt.req)
			require.Equal(t, tt.status, r.status, "body: %s", r.body)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			m := r.json(t)
			assert.Equal(t, tt.code, m["error"])
			assert.NotEmpty(t, m["error_description"])
			assert.NotContains(t, string(r.body), marker, "the input is echoed")
			if tt.field != "" {
				fields, _ := m["fields"].(map[string]any)
				assert.Contains(t, fields, tt.field)
			} else {
				assert.NotContains(t, m, "fields")
			}
			if tt.status == http.StatusMethodNotAllowed {
				assert.NotEmpty(t, r.header.Get("Allow"))
			}
		})
	}

	// A short, plain unknown member is named, to help the caller.
	r0 := e.post(e.adminKey, "/accounts", `{"nme":"x"}`)
	mustStatus(t, r0, http.StatusBadRequest)
	assert.Contains(t, r0.json(t)["error_description"], `"nme"`)

	// Allow lists the path's methods.
	r := e.send(req{method: "DELETE", path: "/keys", key: e.adminKey})
	assert.Equal(t, "GET, HEAD, POST", r.header.Get("Allow"))
	r = e.send(req{method: "PUT", path: "/keys/" + sk, key: e.adminKey})
	assert.Equal(t, "GET, HEAD, PATCH", r.header.Get("Allow"))

	// Authorization: none, the wrong permission, a publishable key.
	for _, tt := range []struct {
		key, method, path string
		status            int
		code              string
	}{
		{"", "GET", "/keys", 401, "unauthorized"},
		{"bk_test_sk_" + marker, "GET", "/keys", 401, "invalid_token"},
		{e.readKey, "POST", "/accounts", 403, "insufficient_scope"},
		{e.writeKey, "GET", "/accounts", 403, "insufficient_scope"},
		{e.readKey, "POST", "/keys/" + sk + "/approve", 403, "insufficient_scope"},
		{e.reviewKey, "POST", "/keys/" + sk + "/revoke", 403, "insufficient_scope"},
		{pair.Publishable.Key, "GET", "/keys", 403, "insufficient_scope"},
		{pair.Secret.Key, "GET", "/keys", 403, "insufficient_scope"},
	} {
		r := e.send(req{method: tt.method, path: tt.path, key: tt.key, body: "{}"})
		assert.Equal(t, tt.status, r.status, "%s %s: %s", tt.method, tt.path, r.body)
		assert.Equal(t, tt.code, errorCode(t, r))
		assert.NotContains(t, string(r.body), marker)
	}
	e.checkDocumented(t)
	e.checkNoSecrets(t)
}
