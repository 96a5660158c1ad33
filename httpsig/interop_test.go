package httpsig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/yaronf/httpsign"

	"github.com/keygate/keygate"
)

// Interoperability with github.com/yaronf/httpsign v0.5.2, an independent
// RFC 9421 implementation: requests it signs verify with keygate's
// Verifier, and requests keygate's Transport signs verify with it.

// ioSecret is a 64-byte secret, as httpsign requires for HMAC.
var ioSecret = bytes.Repeat([]byte("interop!"), 8)

// ioKeygateServer is a server that verifies with keygate's Verifier and
// answers 200 "<account> <hex sha-256 of the body>", or 401 and the reason.
func ioKeygateServer(t *testing.T) *httptest.Server {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "acct_io", Mode: keygate.ModeTest}, Secrets: [][]byte{ioSecret}}}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := v.Verify(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "%v", err)
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		fmt.Fprintf(w, "%s %s", a.Account, hex.EncodeToString(sum[:]))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ioComponents is what keygate requires of req, as httpsign fields.
func ioComponents(hasBody bool, h http.Header) []string {
	c := []string{"@method", "@authority", "@path", "@query"}
	if hasBody {
		c = append(c, "content-digest")
	}
	if h.Get("Content-Type") != "" {
		c = append(c, "content-type")
	}
	if h.Get("X-Store-Id") != "" {
		c = append(c, "x-store-id")
	}
	return c
}

// ioHTTPSignClient is httpsign's client, signing one request with a fresh
// nonce (httpsign takes the nonce from its SignConfig).
func ioHTTPSignClient(t *testing.T, req *http.Request, hasBody bool) *httpsign.Client {
	t.Helper()
	cfg := httpsign.NewSignConfig().SetKeyID("k1").SetNonce(hmNonceForInterop())
	signer, err := httpsign.NewHMACSHA256Signer(ioSecret, cfg, httpsign.Headers(ioComponents(hasBody, req.Header)...))
	require.NoError(t, err)
	return httpsign.NewClient(http.Client{}, httpsign.NewClientConfig().SetSignatureName("sig1").SetSigner(signer))
}

var ioNonces struct {
	sync.Mutex
	n int
}

func hmNonceForInterop() string {
	ioNonces.Lock()
	defer ioNonces.Unlock()
	ioNonces.n++
	return fmt.Sprintf("httpsign-%d-%d", time.Now().UnixNano(), ioNonces.n)
}

func ioSend(t *testing.T, do func(*http.Request) (*http.Response, error), req *http.Request) (int, string) {
	t.Helper()
	res, err := do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func ioSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestInteropHTTPSignToKeygate: httpsign signs, keygate verifies.
func TestInteropHTTPSignToKeygate(t *testing.T) {
	srv := ioKeygateServer(t)
	cases := []struct {
		name, method, path, body string
		header                   http.Header
	}{
		{"GET with query", "GET", "/v1/orders?status=open&limit=10", "", nil},
		{"GET without query", "GET", "/v1/orders", "", nil},
		{"GET with duplicated and encoded query", "GET", "/v1/orders?a=1&a=2&q=caf%C3%A9+au+lait", "", nil},
		{"POST JSON", "POST", "/v1/echo", `{"amount":4200}`, http.Header{"Content-Type": {"application/json"}}},
		{"POST with X-Store-Id", "POST", "/v1/echo?notify=1", `{"order":"ord_1"}`, http.Header{"Content-Type": {"application/json"}, "X-Store-Id": {"store_1"}}},
		{"PUT binary", "PUT", "/v1/files/a%20b", "\x00\x01\xff", http.Header{"Content-Type": {"application/octet-stream"}}},
		{"path with sub-delimiters", "GET", "/v1/items/a!b*c", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = http.NoBody
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			require.NoError(t, err)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			status, got := ioSend(t, ioHTTPSignClient(t, req, tc.body != "").Do, req)
			require.Equal(t, 200, status, got)
			assert.Equal(t, "acct_io "+ioSHA(tc.body), got)
		})
	}

	t.Run("replayed", func(t *testing.T) {
		req, err := http.NewRequest("POST", srv.URL+"/v1/echo", strings.NewReader(`{"a":1}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		status, got := ioSend(t, ioHTTPSignClient(t, req, true).Do, req)
		require.Equal(t, 200, status, got)
		again, err := http.NewRequest("POST", srv.URL+"/v1/echo", strings.NewReader(`{"a":1}`))
		require.NoError(t, err)
		for _, h := range []string{"Content-Type", "Content-Digest", "Signature-Input", "Signature"} {
			again.Header.Set(h, req.Header.Get(h))
		}
		status, got = ioSend(t, http.DefaultClient.Do, again)
		assert.Equal(t, 401, status)
		assert.True(t, strings.HasPrefix(got, ErrReplayed.Error()), got)
	})
	t.Run("body tampered", func(t *testing.T) {
		req, err := http.NewRequest("POST", srv.URL+"/v1/echo", strings.NewReader(`{"a":1}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		signer, err := httpsign.NewHMACSHA256Signer(ioSecret, httpsign.NewSignConfig().SetKeyID("k1").SetNonce(hmNonceForInterop()),
			httpsign.Headers(ioComponents(true, req.Header)...))
		require.NoError(t, err)
		digest, err := httpsign.GenerateContentDigestHeader(&req.Body, []string{httpsign.DigestSha256})
		require.NoError(t, err)
		req.Header.Set("Content-Digest", digest)
		in, sig, err := httpsign.SignRequest("sig1", *signer, req)
		require.NoError(t, err)
		req.Header.Set("Signature-Input", in)
		req.Header.Set("Signature", sig)
		req.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
		status, got := ioSend(t, http.DefaultClient.Do, req)
		assert.Equal(t, 401, status)
		assert.True(t, strings.HasPrefix(got, ErrDigest.Error()), got)
	})
}

// ioHTTPSignServer verifies with httpsign: the v3 components, the nonce
// seen once, created within httpsign's default window, Content-Digest
// validated. It answers 200 "<hex sha-256 of the body>" or 401 and
// httpsign's error.
func ioHTTPSignServer(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	nonceOnce := func(n string) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[n] {
			return errors.New("nonce replayed")
		}
		seen[n] = true
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hasBody := r.ContentLength != 0
		cfg := httpsign.NewVerifyConfig().SetKeyID("k1").SetNonceValidator(nonceOnce).SetAllowedAlgs([]string{"hmac-sha256"})
		verifier, err := httpsign.NewHMACSHA256Verifier(ioSecret, cfg, httpsign.Headers(ioComponents(hasBody, r.Header)...))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := httpsign.VerifyRequest("sig1", *verifier, r); err != nil {
			http.Error(w, "httpsign: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if hasBody {
			if err := httpsign.ValidateContentDigestHeader(r.Header.Values("Content-Digest"), &r.Body, []string{httpsign.DigestSha256}); err != nil {
				http.Error(w, "httpsign digest: "+err.Error(), http.StatusUnauthorized)
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprint(w, ioSHA(string(body)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestInteropKeygateToHTTPSign: keygate's Transport signs, httpsign
// verifies.
func TestInteropKeygateToHTTPSign(t *testing.T) {
	srv := ioHTTPSignServer(t)
	client := &http.Client{Transport: &Transport{Signer: &Signer{KeyID: "k1", Secret: ioSecret}}}
	cases := []struct {
		name, method, path, body string
		header                   http.Header
	}{
		{"GET with query", "GET", "/v1/orders?status=open&limit=10", "", nil},
		{"GET without query", "GET", "/v1/orders", "", nil},
		{"GET with duplicated and encoded query", "GET", "/v1/orders?a=1&a=2&q=caf%C3%A9+au+lait", "", nil},
		{"POST JSON", "POST", "/v1/echo", `{"amount":4200}`, http.Header{"Content-Type": {"application/json"}}},
		{"POST with X-Store-Id", "POST", "/v1/echo?notify=1", `{"order":"ord_1"}`, http.Header{"Content-Type": {"application/json"}, "X-Store-Id": {"store_1"}}},
		{"PUT binary", "PUT", "/v1/files/a%20b", "\x00\x01\xff", http.Header{"Content-Type": {"application/octet-stream"}}},
		{"URL without a path", "GET", "?a=1", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = http.NoBody
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			require.NoError(t, err)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			status, got := ioSend(t, client.Do, req)
			require.Equal(t, 200, status, got)
			assert.Equal(t, ioSHA(tc.body), got)
		})
	}
	t.Run("the published vectors verify with httpsign", func(t *testing.T) {
		for _, v := range tvLoad(t) {
			r := tvServerRequest(t, v)
			cfg := httpsign.NewVerifyConfig().SetKeyID(v.KeyID).SetVerifyCreated(false)
			verifier, err := httpsign.NewHMACSHA256Verifier(tvSecret, cfg, httpsign.Headers(ioComponents(v.Request.Body != "", r.Header)...))
			require.NoError(t, err)
			assert.NoError(t, httpsign.VerifyRequest("sig1", *verifier, r), v.Name)
			if v.Request.Body != "" {
				assert.NoError(t, httpsign.ValidateContentDigestHeader(r.Header.Values("Content-Digest"), &r.Body, []string{httpsign.DigestSha256}), v.Name)
			}
		}
	})
}

// TestInteropDerivationDifferences documents where httpsign v0.5.2 derives
// a component differently from keygate, and which side RFC 9421 supports.
//
//   - @authority. RFC 9421 §2.2.3: the value "MUST be normalized according
//     to the rules provided in [HTTP], Section 4.2.3. Namely, the hostname
//     is normalized to all lowercase, and the default port is omitted."
//     keygate does that (base.go authority); httpsign uses req.Host
//     verbatim (httpparse.go parseRequest: authority: req.Host). A request
//     whose Host has upper-case letters or an explicit default port, signed
//     by httpsign, is refused by keygate, and the other way round. keygate
//     is right.
//   - @path. RFC 9421 §2.2.6: "an empty path string is normalized as a
//     single slash (/) character". keygate does that (escapedPath);
//     httpsign uses URL.EscapedPath() as is (scPath), which is "" for a
//     client URL without a path (http://host?a=1), although the request
//     line says "/?a=1". Such a request signed by httpsign is refused by
//     every server that derives @path from the request it receives.
//     keygate is right; on the server side (a path is never empty there)
//     both agree.
//   - @query, @method, header fields, @signature-params and Content-Digest
//     agree, as the tests above show.
func TestInteropDerivationDifferences(t *testing.T) {
	keygateBase := func(t *testing.T, r *http.Request) string {
		si, _, err := parseSignature(r.Header)
		require.NoError(t, err)
		base, err := signatureBase(r, si)
		require.NoError(t, err)
		return base
	}
	httpsignSign := func(t *testing.T, r *http.Request, components ...string) {
		signer, err := httpsign.NewHMACSHA256Signer(ioSecret, httpsign.NewSignConfig().SetKeyID("k1").SetNonce("n1"), httpsign.Headers(components...))
		require.NoError(t, err)
		in, sig, err := httpsign.SignRequest("sig1", *signer, r)
		require.NoError(t, err)
		r.Header.Set("Signature-Input", in)
		r.Header.Set("Signature", sig)
	}
	verifyBoth := func(t *testing.T, r *http.Request, components ...string) (keygateErr, httpsignErr error) {
		v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest}, Secrets: [][]byte{ioSecret}}}})
		require.NoError(t, err)
		_, keygateErr = v.Verify(r)
		hv, err := httpsign.NewHMACSHA256Verifier(ioSecret, httpsign.NewVerifyConfig().SetKeyID("k1"), httpsign.Headers(components...))
		require.NoError(t, err)
		return keygateErr, httpsign.VerifyRequest("sig1", *hv, r)
	}
	required := []string{"@method", "@authority", "@path", "@query"}

	for _, host := range []string{"API.Example.COM", "api.example.com:80"} {
		t.Run("@authority "+host, func(t *testing.T) {
			// As a server receives it.
			r := httptest.NewRequest("GET", "/v1/orders?a=1", nil)
			r.Host = host
			httpsignSign(t, r, required...)
			assert.Contains(t, keygateBase(t, r), "\"@authority\": api.example.com\n", "RFC 9421 §2.2.3 normalization")
			kErr, hErr := verifyBoth(t, r, required...)
			assert.NoError(t, hErr, "httpsign verifies its own signature")
			assert.ErrorIs(t, kErr, ErrInvalidSignature, "httpsign signed the Host verbatim; keygate normalizes it")

			// The other way: keygate signs the normalized authority,
			// httpsign verifies against the raw Host.
			c := httptest.NewRequest("GET", "http://"+host+"/v1/orders?a=1", nil)
			require.NoError(t, (&Signer{KeyID: "k1", Secret: ioSecret}).Sign(c, nil))
			s := httptest.NewRequest("GET", "/v1/orders?a=1", nil)
			s.Host = host
			for _, h := range []string{"Signature-Input", "Signature"} {
				s.Header.Set(h, c.Header.Get(h))
			}
			kErr, hErr = verifyBoth(t, s, required...)
			assert.NoError(t, kErr)
			assert.Error(t, hErr, "httpsign does not normalize @authority")
		})
	}

	t.Run("@path of a URL without a path", func(t *testing.T) {
		srv := ioKeygateServer(t)
		req, err := http.NewRequest("GET", srv.URL+"?a=1", nil)
		require.NoError(t, err)
		require.Equal(t, "", req.URL.Path)
		status, got := ioSend(t, ioHTTPSignClient(t, req, false).Do, req)
		assert.Equal(t, 401, status, "httpsign signs @path \"\", the server receives \"/\"")
		assert.True(t, strings.HasPrefix(got, ErrInvalidSignature.Error()), got)
		assert.Contains(t, req.Header.Get("Signature-Input"), `"@path"`)

		// keygate's Transport signs "/" for the same URL (RFC 9421 §2.2.6).
		req, err = http.NewRequest("GET", srv.URL+"?a=1", nil)
		require.NoError(t, err)
		client := &http.Client{Transport: &Transport{Signer: &Signer{KeyID: "k1", Secret: ioSecret}}}
		status, got = ioSend(t, client.Do, req)
		assert.Equal(t, 200, status, got)
	})
}

// ioBenchRequests are signed POSTs of 1 KiB, each with a fresh nonce, as
// keygate's Signer writes them.
func ioBenchRequests(b *testing.B, n int) ([]*http.Request, []byte) {
	body := bytes.Repeat([]byte("k"), 1024)
	reqs := make([]*http.Request, n)
	for i := range reqs {
		r := httptest.NewRequest("POST", "https://api.example.com/v1/orders", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		require.NoError(b, (&Signer{KeyID: "k1", Secret: ioSecret}).Sign(r, body))
		reqs[i] = r
	}
	return reqs, body
}

// ioBenchVerify verifies each request of a batch with verify; the batch
// and the nonce memory (reset) are renewed outside the timer.
func ioBenchVerify(b *testing.B, reset func(), verify func(*http.Request) error) {
	const batch = 4096
	reqs, body := ioBenchRequests(b, batch)
	reset()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			reset()
			i = 0
			b.StartTimer()
		}
		r := reqs[i]
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := verify(r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkInteropKeygateVerifyPOST1KiB and
// BenchmarkInteropHTTPSignVerifyPOST1KiB verify the same signed POSTs of
// 1 KiB, side by side in one process: keygate's Verifier (in-memory
// nonces) and httpsign (a nonce map, the Content-Digest checked).
func BenchmarkInteropKeygateVerifyPOST1KiB(b *testing.B) {
	var v *Verifier
	ioBenchVerify(b, func() {
		var err error
		v, err = NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: staticCredentials{"k1": {KeyID: "k1", Secrets: [][]byte{ioSecret}}}})
		require.NoError(b, err)
	}, func(r *http.Request) error { _, err := v.Verify(r); return err })
}

func BenchmarkInteropHTTPSignVerifyPOST1KiB(b *testing.B) {
	var seen map[string]bool
	ioBenchVerify(b, func() { seen = map[string]bool{} }, func(r *http.Request) error {
		cfg := httpsign.NewVerifyConfig().SetKeyID("k1").SetAllowedAlgs([]string{"hmac-sha256"}).SetNonceValidator(func(n string) error {
			if seen[n] {
				return errors.New("nonce replayed")
			}
			seen[n] = true
			return nil
		})
		verifier, err := httpsign.NewHMACSHA256Verifier(ioSecret, cfg, httpsign.Headers(ioComponents(true, r.Header)...))
		if err != nil {
			return err
		}
		if err := httpsign.VerifyRequest("sig1", *verifier, r); err != nil {
			return err
		}
		return httpsign.ValidateContentDigestHeader(r.Header.Values("Content-Digest"), &r.Body, []string{httpsign.DigestSha256})
	})
}
