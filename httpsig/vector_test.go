package httpsig

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// RFC 9421 Appendix B.2 "test-request" and B.2.5's HMAC signature, as
// recomputed in shared/VECTORS.md.
const (
	rfcSecret    = "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
	rfcInput     = `sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`
	rfcSignature = `sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:`
	rfcBase      = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n" +
		"\"@authority\": example.com\n" +
		"\"content-type\": application/json\n" +
		"\"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
	rfcDigest = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
)

func rfcRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://example.com/foo?param=Value&Pet=dog", strings.NewReader(`{"hello": "world"}`))
	r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Signature-Input", rfcInput)
	r.Header.Set("Signature", rfcSignature)
	r.Header.Set("Content-Digest", rfcDigest)
	return r
}

func TestRFC9421B25(t *testing.T) {
	r := rfcRequest()
	si, mac, err := parseSignature(r.Header)
	require.NoError(t, err)
	assert.Equal(t, "sig-b25", si.label)
	assert.Equal(t, "test-shared-secret", si.keyID)
	base, err := signatureBase(r, si)
	require.NoError(t, err)
	assert.Equal(t, rfcBase, base, "byte-exact signature base")
	secret, err := base64.StdEncoding.DecodeString(rfcSecret)
	require.NoError(t, err)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(base))
	assert.True(t, hmac.Equal(m.Sum(nil), mac), "the RFC's MAC verifies")

	// The v3 server policy refuses it: it leaves out required components
	// (and has no nonce).
	v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: staticCredentials{}, Now: func() time.Time { return time.Unix(1618884473, 0) }})
	require.NoError(t, err)
	_, err = v.Verify(rfcRequest())
	assert.ErrorIs(t, err, ErrMalformed, "no nonce")
}

func TestRFC9530Digest(t *testing.T) {
	assert.NoError(t, checkDigest([]string{rfcDigest}, []byte(`{"hello": "world"}`)))
	assert.NoError(t, checkDigest([]string{rfcDigest + ", sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"}, []byte(`{"hello": "world"}`)))
	assert.ErrorIs(t, checkDigest([]string{rfcDigest}, []byte(`{"hello": "World"}`)), ErrDigest)
}

// staticCredentials serves fixed credentials, for tests that are not about
// the credential store.
type staticCredentials map[string]Active

func (s staticCredentials) Lookup(_ context.Context, keyID string) (Active, error) {
	a, ok := s[keyID]
	if !ok {
		return Active{}, ErrNotFound
	}
	return a, nil
}

func TestSignVerifyRoundTrip(t *testing.T) {
	secret := []byte(strings.Repeat("s", 64))
	creds := staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Secrets: [][]byte{secret}}}
	v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: creds})
	require.NoError(t, err)
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := v.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got = make([]byte, 0)
		buf := new(strings.Builder)
		_, _ = io_Copy(buf, r)
		got = []byte(buf.String())
		w.Write([]byte(a.Account))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &Transport{Signer: &Signer{KeyID: "k1", Secret: secret}}}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/echo?b=2&a=1", strings.NewReader(`{"total":42}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Store-Id", "store_1")
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body := readAll(t, res)
	require.Equal(t, 200, res.StatusCode, body)
	assert.Equal(t, "acct_1", body)
	assert.Equal(t, `{"total":42}`, string(got), "the handler reads the verified body")
}

func TestCanonicalTarget(t *testing.T) {
	for raw, want := range map[string]bool{
		"/":                true,
		"/v1/orders":       true,
		"/v1/orders/":      true,
		"/a!b/c*d/(e)/f'g": true,
		"/a%20b":           true,
		"/caf%C3%A9":       true,
		"/a/../b":          false,
		"/a/./b":           false,
		"//a":              false,
		"/a//b":            false,
		"/a%2Fb":           false,
		"/a%2fb":           false,
		"/a%2E%2E/b":       false,
		"/%41":             false,
		"/a%25b":           false,
		"/a%7eb":           false,
	} {
		u, err := url.ParseRequestURI(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, canonicalTarget(u), raw)
	}
}

func TestAuthoritiesAreEnforced(t *testing.T) {
	secret := []byte(strings.Repeat("s", 64))
	creds := staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Secrets: [][]byte{secret}}}
	_, err := NewVerifier(VerifierConfig{Credentials: creds})
	require.Error(t, err, "Authorities is required")
	v, err := NewVerifier(VerifierConfig{Credentials: creds, Authorities: []string{"api.example", "api.example:8443"}})
	require.NoError(t, err)
	signer := &Signer{KeyID: "k1", Secret: secret}
	for target, want := range map[string]error{
		"http://api.example/v1/x":       nil,
		"http://API.example:80/v1/x":    nil, // normalized: lower case, default port dropped
		"https://api.example:8443/v1/x": nil,
		"http://other.example/v1/x":     ErrMisdirected,
		"http://api.example:8080/v1/x":  ErrMisdirected,
	} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		require.NoError(t, signer.Sign(req, nil))
		_, err := v.Verify(req)
		if want == nil {
			assert.NoError(t, err, target)
		} else {
			assert.ErrorIs(t, err, want, target)
			assert.ErrorIs(t, err, ErrRequestInvalid)
		}
	}
}
