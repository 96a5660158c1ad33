package audit_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
)

// Secrets used in this file; none may appear in a recorded event.
var secrets = []string{
	"kg_live_FULLKEYabcdefghijklmnopqrstuvwx",
	"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA",
	"session=cookie-secret-value",
	"sig1=:c2lnbmF0dXJlLWJ5dGVz:",
	"sig1=(\"@method\");keyid=\"hk_1\"",
	"proxy-secret-42",
	"set-cookie-secret",
	"custom-secret-header-value",
	"x-auth-token-secret",
	"client-secret-xyz",
	"refresh-secret-abc",
	"pass-w0rd",
	"qs-sig-value",
	"oauth-code-value",
	"verifier-value",
}

func TestRedactHeaders(t *testing.T) {
	all := []string{
		"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
		"Signature", "Signature-Input", "X-Api-Key", "X-Custom-Secret",
		"X-Auth-Token", "Content-Type", "X-Request-Id",
	}
	r := audit.NewRedactor(audit.RedactorConfig{
		Headers:       []string{"x-custom-SECRET"},
		RecordHeaders: all,
	})
	h := http.Header{}
	h.Set("Authorization", "Bearer "+secrets[1])
	h.Set("Proxy-Authorization", "Basic "+secrets[5])
	h.Set("Cookie", secrets[2])
	h.Set("Set-Cookie", secrets[6])
	h.Set("Signature", secrets[3])
	h.Set("Signature-Input", secrets[4])
	h.Set("X-Api-Key", secrets[0])
	h.Set("X-Custom-Secret", secrets[7])
	h.Set("X-Auth-Token", secrets[8])
	h.Set("Content-Type", "application/json")
	h.Add("X-Request-Id", "a")
	h.Add("X-Request-Id", "b\r\nInjected: 1")
	got := r.Headers(h)
	for _, name := range all[:9] {
		if got[name] != audit.Redacted {
			t.Errorf("%s = %q, want %q", name, got[name], audit.Redacted)
		}
	}
	if got["Content-Type"] != "application/json" {
		t.Errorf("Content-Type = %q", got["Content-Type"])
	}
	if want := `a, b\r\nInjected: 1`; got["X-Request-Id"] != want {
		t.Errorf("X-Request-Id = %q, want %q", got["X-Request-Id"], want)
	}
	assertNoSecrets(t, audit.Event{Headers: got})
}

func TestRedactHeadersDefault(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+secrets[1])
	h.Set("X-Api-Key", secrets[0])
	h.Set("User-Agent", "curl/8")
	h.Set("Content-Type", "text/plain")
	h.Set("X-Forwarded-For", "198.51.100.7")
	h.Set("X-Store-Id", "eu")
	got := audit.NewRedactor(audit.RedactorConfig{}).Headers(h)
	want := map[string]string{"Content-Type": "text/plain", "X-Forwarded-For": "198.51.100.7", "X-Store-Id": "eu"}
	if len(got) != len(want) {
		t.Fatalf("Headers = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("Headers = %v, want %v", got, want)
		}
	}
	if got := (*audit.Redactor)(nil).Headers(http.Header{}); got != nil {
		t.Fatalf("no headers: %v, want nil", got)
	}
}

func TestRedactPath(t *testing.T) {
	r := audit.NewRedactor(audit.RedactorConfig{})
	cases := []struct{ in, want string }{
		{"/v1/things", "/v1/things"},
		{"/v1/things?page=2&sort=asc", "/v1/things?page=2&sort=asc"},
		{"/v1/x?access_token=" + secrets[1] + "&page=2", "/v1/x?access_token=REDACTED&page=2"},
		{"/v1/x?api_key=" + secrets[0], "/v1/x?api_key=REDACTED"},
		{"/v1/x?APIKEY=" + secrets[0], "/v1/x?APIKEY=REDACTED"},
		{"/v1/x?key=" + secrets[0], "/v1/x?key=REDACTED"},
		{"/v1/x?Token=" + secrets[1], "/v1/x?Token=REDACTED"},
		{"/v1/x?secret=" + secrets[9], "/v1/x?secret=REDACTED"},
		{"/v1/x?password=" + secrets[11], "/v1/x?password=REDACTED"},
		{"/oauth/token?client_id=app&client_secret=" + secrets[9], "/oauth/token?client_id=app&client_secret=REDACTED"},
		{"/v1/x?signature=" + secrets[12] + "&sig=" + secrets[12], "/v1/x?signature=REDACTED&sig=REDACTED"},
		{"/v1/x?refresh_token=" + secrets[10], "/v1/x?refresh_token=REDACTED"},
		{"/v1/x?my_api_key=" + secrets[0], "/v1/x?my_api_key=REDACTED"},
		{"/v1/x?db_password=" + secrets[11] + "&x_secret_y=" + secrets[9], "/v1/x?db_password=REDACTED&x_secret_y=REDACTED"},
		{"/v1/x?%74oken=" + secrets[1], "/v1/x?%74oken=REDACTED"}, // escaped name
		{"/v1/x?code=" + secrets[13] + "&code_verifier=" + secrets[14], "/v1/x?code=REDACTED&code_verifier=REDACTED"},
		{"/v1/x?token", "/v1/x?token"},
		{"/v1/x?token=", "/v1/x?token=REDACTED"},
		{"/v1/a%2Fb?q=1", "/v1/a%2Fb?q=1"},
		// A credential as a parameter's name, percent-encoded or not, with
		// or without a value.
		{"/v1/x?%65yJhbGciOiJIUzI1NiJ9.e30.sig", "/v1/x?%5BREDACTED%5D"},
		{"/v1/x?%65yJhbGciOiJIUzI1NiJ9=1&q=2", "/v1/x?%5BREDACTED%5D=1&q=2"},
		{"/v1/x?eyJhbGciOiJIUzI1NiJ9.e30.sig", "/v1/x?%5BREDACTED%5D"},
		{"/v1/x?a=%=%65yJhbGci", "/v1/x?a=REDACTED"}, // a stray "%" hides nothing
	}
	for _, c := range cases {
		u, err := url.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		got := r.Path(u)
		if got != c.want {
			t.Errorf("Path(%q) = %q, want %q", c.in, got, c.want)
		}
		assertNoSecrets(t, audit.Event{Path: got})
	}
	if got := r.Path(nil); got != "" {
		t.Errorf("Path(nil) = %q", got)
	}
}

func TestField(t *testing.T) {
	r := audit.NewRedactor(audit.RedactorConfig{})
	cases := []struct{ in, want string }{
		{"curl/8.5.0", "curl/8.5.0"},
		{"ünïcode ✓", "ünïcode ✓"},
		{"a\r\nb", `a\r\nb`},
		{"tab\there", `tab\there`},
		{"nul\x00bell\x07esc\x1bdel\x7f", `nul\u0000bell\u0007esc\u001bdel\u007f`},
		{"c1\u0085", `c1\u0085`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`},
		{"bidi\u202eevil", `bidi\u202eevil`},
		{`back\slash`, `back\\slash`},
		{"bad\xffutf8", `bad\ufffdutf8`},
	}
	for _, c := range cases {
		if got := r.Field(c.in); got != c.want {
			t.Errorf("Field(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Capping.
	long := strings.Repeat("a", 5000)
	got := r.Field(long)
	if len(got) > audit.DefaultMaxField || !strings.HasSuffix(got, "...") {
		t.Fatalf("Field(5000 bytes) = %d bytes %q...", len(got), got[:20])
	}
	exact := strings.Repeat("b", audit.DefaultMaxField)
	if r.Field(exact) != exact {
		t.Fatal("a field of exactly the cap was changed")
	}
	got = r.Field(strings.Repeat("\n", 2000))
	if len(got) > audit.DefaultMaxField || !strings.HasSuffix(got, "...") || strings.Contains(got, "\n") {
		t.Fatalf("escaped long field: %d bytes", len(got))
	}
	got = r.Field(strings.Repeat("é", 2000))
	if len(got) > audit.DefaultMaxField || !utf8.ValidString(got) {
		t.Fatalf("multibyte long field: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	small := audit.NewRedactor(audit.RedactorConfig{MaxField: 10})
	if got := small.Field("0123456789abc"); got != "0123456..." {
		t.Fatalf("MaxField 10: %q", got)
	}
	if got := small.Field("0123456789"); got != "0123456789" {
		t.Fatalf("MaxField 10, 10 bytes: %q", got)
	}
	for i := range 256 {
		s := r.Field("x" + string(rune(i)) + "y")
		for _, c := range []byte(s) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("Field(%q) = %q keeps a control byte", "x"+string(rune(i))+"y", s)
			}
		}
	}
}

// assertNoSecrets fails if the JSON form of e contains any of secrets.
func assertNoSecrets(t *testing.T, e audit.Event) {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s)} {
			if strings.Contains(string(b), form) {
				t.Errorf("secret %q appears in %s", s, b)
			}
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRedactorScrubsSecretPrefixes(t *testing.T) {
	r := audit.NewRedactor(audit.RedactorConfig{SecretPrefixes: []string{"bk_test_sk_", "kgrt_"}})
	key := "bk_test_sk_" + strings.Repeat("A1b2", 16)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	for _, tc := range []struct{ name, in, want string }{
		{"alone", key, audit.Redacted},
		{"inside text", "client " + key + " v2", "client " + audit.Redacted + " v2"},
		{"twice", key + "," + key, audit.Redacted + "," + audit.Redacted},
		{"a JWT, by default", "Bearer " + jwt, "Bearer " + audit.Redacted},
		{"refresh token", "x=kgrt_abc-DEF_123.~;y", "x=" + audit.Redacted + ";y"},
		{"nothing to scrub", "bk_test_pk_only a publishable prefix", "bk_test_pk_only a publishable prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, r.Field(tc.in))
		})
	}
	for _, target := range []string{
		"/v1/echo/" + key,
		"/v1/echo/" + strings.ReplaceAll(key, "_", "%5F"),
		"/v1/orders?q=" + key,
		"/v1/orders?q=" + strings.ReplaceAll(key, "_", "%5F"),
		"/v1/orders?q=" + url.QueryEscape("x "+key),
	} {
		u, err := url.Parse(target)
		require.NoError(t, err)
		got := r.Path(u)
		assert.NotContains(t, got, key[len("bk_test_sk_"):], target)
		assert.True(t, strings.Contains(got, audit.Redacted) || strings.Contains(got, "REDACTED"), got)
	}
}
