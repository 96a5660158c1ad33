package middleware

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		token  string
		err    error
	}{
		{"none", nil, "", ErrNoCredentials},
		{"bearer", []string{"Bearer abc"}, "abc", nil},
		{"lower case scheme", []string{"bearer abc"}, "abc", nil},
		{"upper case scheme", []string{"BEARER abc"}, "abc", nil},
		{"several spaces", []string{"Bearer    abc"}, "abc", nil},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", ErrNoCredentials},
		{"scheme glued to token", []string{"Bearerabc"}, "", ErrNoCredentials},
		{"scheme only", []string{"Bearer"}, "", errEmptyBearer},
		{"scheme and spaces", []string{"Bearer   "}, "", errEmptyBearer},
		{"short", []string{"Bea"}, "", ErrNoCredentials},
		{"empty", []string{""}, "", ErrNoCredentials},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", errMultipleAuthorization},
		{"8 KiB exactly", []string{"Bearer " + strings.Repeat("a", MaxAuthorizationLen-len("Bearer "))}, strings.Repeat("a", MaxAuthorizationLen-len("Bearer ")), nil},
		{"one byte over 8 KiB", []string{"Bearer " + strings.Repeat("a", MaxAuthorizationLen-len("Bearer ")+1)}, "", errAuthorizationTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.values != nil {
				h["Authorization"] = tt.values
			}
			token, err := bearerToken(h)
			if !errors.Is(err, tt.err) || token != tt.token {
				t.Fatalf("bearerToken(%.40q) = %.40q, %v; want %.40q, %v", tt.values, token, err, tt.token, tt.err)
			}
		})
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x", "Basic y", "Bearer", "", "Bearer \x00", "Bearerx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		token, err := bearerToken(http.Header{"Authorization": {v}})
		if err != nil {
			if token != "" {
				t.Fatal("token returned with an error")
			}
			if Classify(err).Status == http.StatusServiceUnavailable {
				t.Fatalf("a header error %v maps to 503", err)
			}
			return
		}
		if len(v) > MaxAuthorizationLen || token == "" || token[0] == ' ' || !strings.HasSuffix(v, token) ||
			!strings.EqualFold(v[:6], "Bearer") || v[6] != ' ' {
			t.Fatalf("bearerToken(%q) = %q", v, token)
		}
	})
}

func FuzzRefuseQueryCredentials(f *testing.F) {
	a, err := New(Config{APIKeys: nopVerifier{}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "a=b", "api_key=x", "q=bk_test_sk_abc", "&&==", "ACCESS_TOKEN", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		err := a.refuseQueryCredentials(q)
		if err != nil && !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("unexpected error %v", err)
		}
		if strings.Contains(q, "bk_live_sk_") && err == nil {
			t.Fatalf("a key-looking value passed in %q", q)
		}
	})
}
