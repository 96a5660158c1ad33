package httpsig

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// Attacks on the Verifier and the Signer that are easier to state at the
// package level than through the middleware (see middleware/hmac_test.go
// for the HTTP table), and the benchmarks of the verification path.

var atkSecret = bytes.Repeat([]byte{0xa7}, 64)

const atkNow = tvCreated

func atkClock() time.Time { return time.Unix(atkNow, 0) }

func atkCreds() staticCredentials {
	return staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "acct_atk", Mode: keygate.ModeTest}, Secrets: [][]byte{atkSecret}}}
}

func atkVerifier(t testing.TB, cfg VerifierConfig) *Verifier {
	t.Helper()
	if cfg.Credentials == nil {
		cfg.Credentials = atkCreds()
	}
	if cfg.Now == nil {
		cfg.Now = atkClock
	}
	if cfg.Nonces == nil {
		cfg.Nonces = NewMemoryNonceStore(MemoryNonceConfig{Now: cfg.Now})
	}
	v, err := NewVerifier(cfg)
	require.NoError(t, err)
	return v
}

// atkRequest is a signed POST as a server receives it.
func atkRequest(t testing.TB, body string, nonce string, edit func(si *fieldEdit)) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "https://api.example.com/v1/orders?x=1", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	_, err := tvSign(r, []byte(body), "k1", atkSecret, atkNow, nonce)
	require.NoError(t, err)
	if edit != nil {
		e := &fieldEdit{r: r}
		edit(e)
	}
	return r
}

// fieldEdit re-signs a request with a changed Signature-Input.
type fieldEdit struct{ r *http.Request }

// resign replaces the Signature-Input member with input (without the
// label) and sets the MAC that secret gives over the resulting base, when
// input parses.
func (e *fieldEdit) resign(t testing.TB, input string, secret []byte) {
	t.Helper()
	e.r.Header.Set("Signature-Input", "sig1="+input)
	e.r.Header.Set("Signature", "sig1=:AAAA:")
	si, _, err := parseSignature(e.r.Header)
	if err != nil {
		return // a malformed input: the Verifier must refuse it before any MAC
	}
	base, err := signatureBase(e.r, si)
	require.NoError(t, err)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(base))
	e.r.Header.Set("Signature", "sig1=:"+b64std(m.Sum(nil))+":")
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestAttackAlgMustBeHMACSHA256: alg, when present, is hmac-sha256; an
// empty alg is present and is not.
func TestAttackAlgMustBeHMACSHA256(t *testing.T) {
	comps := `("@method" "@authority" "@path" "@query" "content-digest" "content-type")`
	for alg, ok := range map[string]bool{
		`;alg="hmac-sha256"`:  true,
		``:                    true,
		`;alg=""`:             false,
		`;alg="hmac-sha512"`:  false,
		`;alg="HMAC-SHA256"`:  false,
		`;alg="hmac-sha256 "`: false,
	} {
		r := atkRequest(t, `{"a":1}`, "n", func(e *fieldEdit) {
			e.resign(t, comps+`;created=1767225600;nonce="n";keyid="k1"`+alg, atkSecret)
		})
		_, err := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority}).Verify(r)
		if ok {
			assert.NoError(t, err, alg)
		} else {
			assert.ErrorIs(t, err, ErrMalformed, "alg %s", alg)
		}
	}
}

// TestAttackSignerEmptyHeader: a request that carries Content-Type or the
// store header with an empty value must still be signed so that it
// verifies: the verifier requires any header that is present.
func TestAttackSignerEmptyHeader(t *testing.T) {
	for _, h := range []string{"Content-Type", "X-Store-Id"} {
		t.Run(h, func(t *testing.T) {
			v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, Now: time.Now})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := v.Verify(r); err != nil {
					http.Error(w, err.Error(), http.StatusUnauthorized)
				}
			}))
			defer srv.Close()
			client := &http.Client{Transport: &Transport{Signer: &Signer{KeyID: "k1", Secret: atkSecret}}}
			req, err := http.NewRequest("POST", srv.URL+"/v1/echo", strings.NewReader(`{}`))
			require.NoError(t, err)
			req.Header.Set(h, "")
			res, err := client.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			assert.Equal(t, 200, res.StatusCode, "keygate's own signature refused: %s", b)
		})
	}
}

// TestAttackDefaultNoncesFollowTheClock: with an injected clock and no
// nonce store, the default store uses the same clock, so a valid request
// is accepted (and a replay refused) whatever the wall clock says.
func TestAttackDefaultNoncesFollowTheClock(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: atkCreds(), Now: atkClock})
	require.NoError(t, err)
	_, err = v.Verify(atkRequest(t, `{"a":1}`, "n1", nil))
	require.NoError(t, err)
	_, err = v.Verify(atkRequest(t, `{"a":1}`, "n1", nil))
	assert.ErrorIs(t, err, ErrReplayed)
}

// TestAttackNonceOnlyAfterEverything: a request refused for its MAC or its
// digest does not use up its nonce.
func TestAttackNonceOnlyAfterEverything(t *testing.T) {
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority})
	bad := atkRequest(t, `{"a":1}`, "n-mac", nil)
	bad.Header.Set("Signature", "sig1=:"+b64std(make([]byte, 32))+":")
	_, err := v.Verify(bad)
	require.ErrorIs(t, err, ErrInvalidSignature)
	_, err = v.Verify(atkRequest(t, `{"a":1}`, "n-mac", nil))
	require.NoError(t, err, "the bad MAC did not use up the nonce")

	tampered := atkRequest(t, `{"a":1}`, "n-digest", nil)
	tampered.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
	_, err = v.Verify(tampered)
	require.ErrorIs(t, err, ErrDigest)
	_, err = v.Verify(atkRequest(t, `{"a":1}`, "n-digest", nil))
	require.NoError(t, err, "the bad digest did not use up the nonce")
	_, err = v.Verify(atkRequest(t, `{"a":1}`, "n-digest", nil))
	assert.ErrorIs(t, err, ErrReplayed)
}

// atkFailing is a credential or nonce store that is down.
type atkFailing struct{}

var errAtkDown = errors.New("dial tcp 10.0.0.1:5432: connection refused")

func (atkFailing) Lookup(context.Context, string) (Active, error) { return Active{}, errAtkDown }
func (atkFailing) Claim(context.Context, string, string, time.Time) (bool, error) {
	return false, errAtkDown
}

// TestAttackStoresDown: a store failure is neither an acceptance nor a
// refusal of the credential: it is "unavailable" (503 in the middleware).
func TestAttackStoresDown(t *testing.T) {
	_, err := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, Credentials: atkFailing{}}).Verify(atkRequest(t, `{}`, "n", nil))
	assert.ErrorIs(t, err, errAtkDown)
	assert.NotErrorIs(t, err, ErrInvalidSignature)
	assert.NotErrorIs(t, err, ErrRequestInvalid)

	_, err = atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, Nonces: atkFailing{}}).Verify(atkRequest(t, `{}`, "n", nil))
	assert.ErrorIs(t, err, errAtkDown)
	assert.NotErrorIs(t, err, ErrRequestInvalid)
}

// TestAttackRotation: any of the credential's secrets verifies, no other.
func TestAttackRotation(t *testing.T) {
	old, cur := bytes.Repeat([]byte{1}, 64), atkSecret
	creds := staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "a", Mode: keygate.ModeTest}, Secrets: [][]byte{cur, old}}}
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, Credentials: creds})
	for i, secret := range [][]byte{cur, old, bytes.Repeat([]byte{2}, 64)} {
		r := atkRequest(t, `{}`, "n", func(e *fieldEdit) {
			e.resign(t, `("@method" "@authority" "@path" "@query" "content-digest" "content-type");created=1767225600;nonce="rot`+strconv.Itoa(i)+`";keyid="k1"`, secret)
		})
		_, err := v.Verify(r)
		if i < 2 {
			assert.NoError(t, err, i)
		} else {
			assert.ErrorIs(t, err, ErrInvalidSignature)
		}
	}
}

// TestAttackVerifyLeavesHeaders: Verify reads the headers, never changes
// them; the body it leaves is the verified one, also when it refuses for
// the digest.
func TestAttackVerifyLeavesHeaders(t *testing.T) {
	r := atkRequest(t, `{"a":1}`, "n", nil)
	before := r.Header.Clone()
	_, err := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority}).Verify(r)
	require.NoError(t, err)
	assert.Equal(t, before, r.Header)
	b, _ := io.ReadAll(r.Body)
	assert.Equal(t, `{"a":1}`, string(b))
}

// atkErrReader fails after some bytes.
type atkErrReader struct{ n int }

func (e *atkErrReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(e.n, len(p))
	for i := range p[:n] {
		p[i] = '{'
	}
	e.n -= n
	return n, nil
}

// TestAttackBodyUnreadable: a body that cannot be read is refused, never
// accepted with what was read.
func TestAttackBodyUnreadable(t *testing.T) {
	r := atkRequest(t, `{{{{`, "n", nil)
	r.Body = io.NopCloser(&atkErrReader{n: 4})
	_, err := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority}).Verify(r)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRequestInvalid)
}

// TestAttackTransportRedirect: a redirect is signed again, for its own
// target, with a new nonce; the caller's request is never modified.
func TestAttackTransportRedirect(t *testing.T) {
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, Now: time.Now})
	var nonces []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		si, _, _ := parseSignature(r.Header)
		if _, err := v.Verify(r); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		nonces = append(nonces, si.nonce)
		if r.URL.Path == "/a" {
			http.Redirect(w, r, "/b?moved=1", http.StatusTemporaryRedirect)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &Transport{Signer: &Signer{KeyID: "k1", Secret: atkSecret}}}
	req, err := http.NewRequest("POST", srv.URL+"/a", strings.NewReader(`{"n":1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, 200, res.StatusCode, "%s", b)
	assert.Equal(t, `{"n":1}`, string(b))
	require.Len(t, nonces, 2)
	assert.NotEqual(t, nonces[0], nonces[1])
	assert.Empty(t, req.Header.Get("Signature"), "the caller's request is not modified")
	assert.Empty(t, req.Header.Get("Content-Digest"))
}

// TestAttackUnknownKeyIsABadMAC: the caller cannot tell an unknown key ID
// from a bad MAC by the error's response reason.
func TestAttackUnknownKeyIsABadMAC(t *testing.T) {
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority})
	unknown := atkRequest(t, `{}`, "n1", func(e *fieldEdit) {
		e.resign(t, `("@method" "@authority" "@path" "@query" "content-digest" "content-type");created=1767225600;nonce="n1";keyid="nobody"`, atkSecret)
	})
	_, errUnknown := v.Verify(unknown)
	bad := atkRequest(t, `{}`, "n2", nil)
	bad.Header.Set("Signature", "sig1=:"+b64std(make([]byte, 32))+":")
	_, errBad := v.Verify(bad)
	assert.ErrorIs(t, errUnknown, ErrCredentialInvalid, "the audit log tells them apart")
	assert.ErrorIs(t, errUnknown, ErrNotFound)
	assert.NotErrorIs(t, errBad, ErrCredentialInvalid)
	assert.ErrorIs(t, errBad, ErrInvalidSignature)
	assert.ErrorIs(t, errUnknown, ErrInvalidSignature)
	assert.ErrorIs(t, errUnknown, ErrRequestInvalid)
}

// atkNonces is an in-memory nonce store that benchmarks empty between
// batches of pre-signed requests, outside the timer.
type atkNonces struct {
	s atomic.Pointer[MemoryNonceStore]
}

func (n *atkNonces) reset() { n.s.Store(NewMemoryNonceStore(MemoryNonceConfig{Now: atkClock})) }

func (n *atkNonces) Claim(ctx context.Context, keyID, nonce string, expires time.Time) (bool, error) {
	return n.s.Load().Claim(ctx, keyID, nonce, expires)
}

// benchVerify verifies pre-signed requests, a fresh nonce each; build
// makes request i. The body of a request is reset inside the timer.
func benchVerify(b *testing.B, body []byte, build func(i int) *http.Request, wantErr error) {
	const batch = 4096
	nonces := &atkNonces{}
	nonces.reset()
	v := atkVerifier(b, VerifierConfig{Authorities: AnyAuthority, Nonces: nonces})
	reqs := make([]*http.Request, batch)
	for i := range reqs {
		reqs[i] = build(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			nonces.reset()
			i = 0
			b.StartTimer()
		}
		r := reqs[i]
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if _, err := v.Verify(r); !errors.Is(err, wantErr) {
			b.Fatal(err)
		}
		i++
	}
}

func benchNonce(i int) string { return "bench-nonce-" + strconv.Itoa(i) }

// BenchmarkVerifyPOST1KiB verifies a signed POST with a 1 KiB JSON body:
// parse, coverage, body read, base, HMAC, SHA-256 digest, nonce claim in
// the in-memory store.
func BenchmarkVerifyPOST1KiB(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 1024)
	benchVerify(b, body, func(i int) *http.Request { return atkRequest(b, string(body), benchNonce(i), nil) }, nil)
}

// BenchmarkVerifyGET verifies a signed GET without a body.
func BenchmarkVerifyGET(b *testing.B) {
	benchVerify(b, nil, func(i int) *http.Request {
		r := httptest.NewRequest("GET", "https://api.example.com/v1/orders?limit=10", nil)
		if _, err := tvSign(r, nil, "k1", atkSecret, atkNow, benchNonce(i)); err != nil {
			b.Fatal(err)
		}
		return r
	}, nil)
}

// BenchmarkVerifyBadMAC and BenchmarkVerifyUnknownKey should cost the
// same: an unknown key ID is refused after the same MAC work.
func BenchmarkVerifyBadMAC(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 1024)
	benchVerify(b, body, func(i int) *http.Request {
		r := atkRequest(b, string(body), benchNonce(i), nil)
		r.Header.Set("Signature", "sig1=:"+b64std(make([]byte, 32))+":")
		return r
	}, ErrInvalidSignature)
}

func BenchmarkVerifyUnknownKey(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 1024)
	benchVerify(b, body, func(i int) *http.Request {
		r := httptest.NewRequest("POST", "https://api.example.com/v1/orders?x=1", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if _, err := tvSign(r, body, "k-unknown", atkSecret, atkNow, benchNonce(i)); err != nil {
			b.Fatal(err)
		}
		return r
	}, ErrInvalidSignature)
}

// BenchmarkSignPOST1KiB signs a POST with a 1 KiB body.
func BenchmarkSignPOST1KiB(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 1024)
	s := &Signer{KeyID: "k1", Secret: atkSecret}
	r := httptest.NewRequest("POST", "https://api.example.com/v1/orders?x=1", nil)
	r.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sign(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

// The floors of issue 4 §8, measured on this machine: HMAC-SHA256 over a
// 300-byte base with a reused hash state, SHA-256 of 1 KiB and 64 KiB.
func BenchmarkFloorHMACSHA256Base300(b *testing.B) {
	base := bytes.Repeat([]byte("b"), 300)
	m := hmac.New(sha256.New, atkSecret)
	sum := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		m.Write(base)
		sum = m.Sum(sum[:0])
	}
}

func BenchmarkFloorSHA256_1KiB(b *testing.B) {
	data := bytes.Repeat([]byte("a"), 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}

func BenchmarkFloorSHA256_64KiB(b *testing.B) {
	data := bytes.Repeat([]byte("a"), 64<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}

// BenchmarkParseSignature is the httpsfv part of BenchmarkVerifyPOST1KiB:
// Signature-Input and Signature parsed, @signature-params serialized.
func BenchmarkParseSignature(b *testing.B) {
	r := atkRequest(b, `{"a":1}`, "n", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseSignature(r.Header); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckDigest1KiB is the Content-Digest check of a 1 KiB body.
func BenchmarkCheckDigest1KiB(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 1024)
	r := atkRequest(b, string(body), "n", nil)
	values := r.Header.Values("Content-Digest")
	b.ReportAllocs()
	for b.Loop() {
		if err := checkDigest(values, body); err != nil {
			b.Fatal(err)
		}
	}
}
