package bench

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the middleware rather than a recorder.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// bearerRequest is a GET carrying credential in Authorization: Bearer.
func bearerRequest(credential string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/orders", nil)
	r.Header.Set("Authorization", "Bearer "+credential)
	return r
}

// status is the status code c answers r with.
func status(c contestant, r *http.Request) int {
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	return w.Code
}

// checkContestants requires every contestant to accept valid (204, the
// handler found the account in the context) and refuse each tampered
// request (401).
func checkContestants(t *testing.T, cs []contestant, valid func() *http.Request, tampered map[string]func() *http.Request) {
	t.Helper()
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			if got := status(c, valid()); got != http.StatusNoContent {
				t.Errorf("valid: %d, want 204", got)
			}
			for name, req := range tampered {
				if got := status(c, req()); got != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401", name, got)
				}
			}
		})
	}
}

// tamperClaims returns tok with its kg_account and sub claims changed and
// the signature kept.
func tamperClaims(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.ReplaceAll(string(payload), `"`+account+`"`, `"acct_2"`)
	if forged == string(payload) {
		t.Fatalf("no %s in %s", account, payload)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

// tamperSignature returns tok with the first character of its signature
// changed.
func tamperSignature(tok string) string {
	dot := strings.LastIndexByte(tok, '.')
	c := byte('A')
	if tok[dot+1] == 'A' {
		c = 'B'
	}
	return tok[:dot+1] + string(c) + tok[dot+2:]
}

func TestAPIKey(t *testing.T) {
	f := newAPIKeyFixture(t)
	// A changed character in the secret part, with the checksum kept, and
	// a key whose checksum no longer matches.
	i := len(f.key) - 20
	c := byte('a')
	if f.key[i] == 'a' {
		c = 'b'
	}
	checkContestants(t, apiKeyContestants(t, f), func() *http.Request { return bearerRequest(f.key) }, map[string]func() *http.Request{
		"secret changed": func() *http.Request { return bearerRequest(f.key[:i] + string(c) + f.key[i+1:]) },
		"no credential":  func() *http.Request { return httptest.NewRequest(http.MethodGet, "/v1/orders", nil) },
	})
}

func testTokens(t *testing.T, f *tokenFixture, cs []contestant) {
	t.Helper()
	checkContestants(t, cs, func() *http.Request { return bearerRequest(f.token) }, map[string]func() *http.Request{
		"claims changed":    func() *http.Request { return bearerRequest(tamperClaims(t, f.token)) },
		"signature changed": func() *http.Request { return bearerRequest(tamperSignature(f.token)) },
	})
}

func TestHS256First(t *testing.T) {
	f := newTokenFixture(t, "HS256")
	testTokens(t, f, tokenContestants(t, f))
}

func TestHS256Cached(t *testing.T) {
	f := newTokenFixture(t, "HS256")
	cs := []contestant{keygateTokens(t, f, 0), cachedFloor(f)}
	// The token is seen once, then again: the tampered ones are new.
	for _, c := range cs {
		if got := status(c, bearerRequest(f.token)); got != http.StatusNoContent {
			t.Fatalf("%s: %d on first sight", c.name, got)
		}
	}
	testTokens(t, f, cs)
}

func TestRS256(t *testing.T) {
	f := newTokenFixture(t, "RS256")
	testTokens(t, f, tokenContestants(t, f))
}

func TestHMACPOST(t *testing.T) {
	f := newSignedFixture(t)
	checkContestants(t, signedContestants(t, f), func() *http.Request { return f.request(t) }, map[string]func() *http.Request{
		"body changed": func() *http.Request {
			r := f.request(t)
			body := bytes.Clone(f.body)
			body[0] ^= 1
			r.Body = io.NopCloser(bytes.NewReader(body))
			return r
		},
		"path changed": func() *http.Request {
			r := f.request(t)
			r.URL.Path = "/v1/refunds"
			return r
		},
		"signature changed": func() *http.Request {
			r := f.request(t)
			sig := r.Header.Get("Signature")
			i := strings.IndexByte(sig, ':') + 1
			c := byte('A')
			if sig[i] == 'A' {
				c = 'B'
			}
			r.Header.Set("Signature", sig[:i]+string(c)+sig[i+1:])
			return r
		},
	})
	t.Run("replayed", func(t *testing.T) {
		// The floor keeps no nonces: only keygate and httpsign refuse a
		// replay.
		for _, c := range signedContestants(t, f)[:2] {
			r := f.request(t)
			first, second := r.Clone(t.Context()), r.Clone(t.Context())
			first.Body = io.NopCloser(bytes.NewReader(f.body))
			second.Body = io.NopCloser(bytes.NewReader(f.body))
			if got := status(c, first); got != http.StatusNoContent {
				t.Errorf("%s: first: %d, want 204", c.name, got)
			}
			if got := status(c, second); got != http.StatusUnauthorized {
				t.Errorf("%s: replay: %d, want 401", c.name, got)
			}
		}
	})
}

// benchmarkBearer runs each contestant on the same bearer request.
func benchmarkBearer(b *testing.B, cs []contestant, credential string) {
	for _, c := range cs {
		b.Run(c.name, func(b *testing.B) {
			req := bearerRequest(credential)
			w := &discard{h: http.Header{}}
			c.h.ServeHTTP(w, req)
			if w.code != http.StatusNoContent {
				b.Fatalf("%d, want 204", w.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
			if w.code != http.StatusNoContent {
				b.Fatalf("%d, want 204", w.code)
			}
		})
	}
}

func BenchmarkAPIKey(b *testing.B) {
	f := newAPIKeyFixture(b)
	benchmarkBearer(b, apiKeyContestants(b, f), f.key)
}

func BenchmarkHS256First(b *testing.B) {
	f := newTokenFixture(b, "HS256")
	benchmarkBearer(b, tokenContestants(b, f), f.token)
}

func BenchmarkHS256Cached(b *testing.B) {
	f := newTokenFixture(b, "HS256")
	benchmarkBearer(b, []contestant{keygateTokens(b, f, 0), cachedFloor(f)}, f.token)
}

func BenchmarkRS256(b *testing.B) {
	f := newTokenFixture(b, "RS256")
	benchmarkBearer(b, tokenContestants(b, f), f.token)
}

// rewindBody is a request body that the benchmark rewinds before each
// request without allocating.
type rewindBody struct{ bytes.Reader }

// Close implements io.Closer.
func (*rewindBody) Close() error { return nil }

// BenchmarkHMACPOST sends signed POSTs of 1 KiB, each with a fresh nonce,
// as one request whose signature fields change from one send to the
// next, the way the bearer benchmarks send one request.
//
// Requests are signed outside the timer, in batches (so that none is
// older than a batch), by keygate's Signer; the benchmark keeps only their
// Signature-Input and Signature values (Content-Digest is the same for
// all: the body is), laid out one after the other. The nonce stores are emptied between batches, and the
// garbage of signing a batch (12 KiB a request, three times what a
// contestant allocates) is collected, outside the timer too. Inside it,
// the harness sets the two fields and rewinds the body, the same for every
// contestant and without allocating, so that each contestant pays for its
// own allocations and garbage collection only, over a live heap as small
// as the bearer benchmarks': batches of whole requests made every
// collection inside the timer mark megabytes of the harness's requests.
func BenchmarkHMACPOST(b *testing.B) {
	f := newSignedFixture(b)
	const batch = 4096
	type fields struct{ input, sig []string }
	signed := make([]fields, batch)
	for _, c := range signedContestants(b, f) {
		b.Run(c.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			r := f.request(b)
			body := &rewindBody{}
			reset := func() {
				// The values of a batch are laid out one after the
				// other, in the order they are sent, as a server reads
				// requests from its connections: each request's fields
				// then come from memory next to the last one's rather
				// than from lines scattered over the heap, long evicted
				// from the caches by the signing of the batch.
				var text strings.Builder
				lens := make([]int, 0, 2*batch)
				for range signed {
					h := f.request(b).Header
					for _, name := range [...]string{"Signature-Input", "Signature"} {
						text.WriteString(h.Get(name))
						lens = append(lens, len(h.Get(name)))
					}
				}
				all, values := text.String(), make([]string, 2*batch)
				for j, n := range lens {
					values[j], all = all[:n], all[n:]
				}
				for i := range signed {
					signed[i] = fields{values[2*i : 2*i+1 : 2*i+1], values[2*i+1 : 2*i+2 : 2*i+2]}
				}
				if c.reset != nil {
					c.reset()
				}
				runtime.GC()
			}
			reset()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == batch {
					b.StopTimer()
					i = 0
					reset()
					b.StartTimer()
				}
				r.Header["Signature-Input"], r.Header["Signature"] = signed[i].input, signed[i].sig
				body.Reset(f.body)
				r.Body = body
				c.h.ServeHTTP(w, r)
				if w.code != http.StatusNoContent {
					b.Fatalf("%d, want 204", w.code)
				}
				i++
			}
		})
	}
}
