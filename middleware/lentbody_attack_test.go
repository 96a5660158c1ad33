package middleware_test

import (
	"bytes"
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

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// TestLentBodyConcurrentLeftBehindReaders: many concurrent signed
// requests whose handlers leave a goroutine reading the body after they
// return (through StripPrefix's and Clone's copies of the request): no
// reader ever gets a byte of another request (run with -race).
func TestLentBodyConcurrentLeftBehindReaders(t *testing.T) {
	v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: hmCreds()})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{Signatures: v})
	require.NoError(t, err)
	signer := &httpsig.Signer{KeyID: "k1", Secret: hmSecret}

	var leftBehind sync.WaitGroup
	bad := make(chan string, 64)
	h := auth.Handler(http.StripPrefix("/v1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := r.Header.Get("X-Byte")[0]
		first := make([]byte, 100)
		n, _ := io.ReadFull(r.Body, first)
		if bytes.ContainsFunc(first[:n], func(c rune) bool { return byte(c) != want }) {
			bad <- "in the handler: " + string(first[:n])
		}
		kept := r.Clone(r.Context()).Body
		leftBehind.Add(1)
		go func() {
			defer leftBehind.Done()
			p := make([]byte, 3)
			for {
				n, err := kept.Read(p)
				if bytes.ContainsFunc(p[:n], func(c rune) bool { return byte(c) != want }) {
					bad <- fmt.Sprintf("left behind (%c): %q", want, p[:n])
					return
				}
				if err != nil {
					return
				}
			}
		}()
	})))

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				c := byte('a' + (g*50+i)%26)
				body := strings.Repeat(string(c), 2000+i)
				r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-Byte", string(c))
				if err := signer.Sign(r, []byte(body)); err != nil {
					bad <- err.Error()
					return
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					bad <- rec.Body.String()
					return
				}
			}
		}()
	}
	wg.Wait()
	leftBehind.Wait()
	close(bad)
	for s := range bad {
		t.Fatal(s)
	}
}

// TestNestedRequireSecondVerifier: a Require inside a Require, each
// with its own Verifier (and nonce store), both lending: the inner handler
// reads the whole body, and once both have returned the caller's request
// reads an error (never EOF, never other bytes).
func TestNestedRequireSecondVerifier(t *testing.T) {
	mk := func() *middleware.Authenticator {
		v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: hmCreds()})
		require.NoError(t, err)
		a, err := middleware.New(middleware.Config{Signatures: v})
		require.NoError(t, err)
		return a
	}
	outer, inner := mk(), mk()
	signer := &httpsig.Signer{KeyID: "k1", Secret: hmSecret}
	var innerGot string
	h := outer.Handler(inner.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		innerGot = string(b)
	})))
	body := strings.Repeat("x", 3000)
	r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	require.NoError(t, signer.Sign(r, []byte(body)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, body, innerGot)
	// The caller's request: its body is released, reads fail.
	n, err := r.Body.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF)
}

// TestLentBodyPanicInNext: a handler that panics leaves the lent body
// unreleased (to the GC), and later requests are served with their own
// bytes.
func TestLentBodyPanicInNext(t *testing.T) {
	v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: hmCreds()})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{Signatures: v})
	require.NoError(t, err)
	signer := &httpsig.Signer{KeyID: "k1", Secret: hmSecret}
	var kept io.Reader
	h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Panic") != "" {
			kept = r.Body
			panic("boom")
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", string(b))
	}))
	send := func(body string, panicking bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if panicking {
			r.Header.Set("X-Panic", "1")
		}
		require.NoError(t, signer.Sign(r, []byte(body)))
		rec := httptest.NewRecorder()
		func() {
			defer func() { _ = recover() }()
			h.ServeHTTP(rec, r)
		}()
		return rec
	}
	send(strings.Repeat("p", 500), true)
	for i := range 20 {
		body := strings.Repeat(string(rune('a'+i)), 500)
		assert.Equal(t, body, send(body, false).Header().Get("X-Got"))
	}
	b, _ := io.ReadAll(kept)
	assert.Equal(t, strings.Repeat("p", 500), string(b), "the panicking request's buffer went back to the pool")
}

// TestSignedGrantByReferenceManager: with a real Manager (whose stored
// grant VerifyLent lends), a handler that writes into the Principal's
// Stores and Permissions, from the context, through RateLimit's copy, or
// from Check, changes neither the Manager's record nor what the next
// request of the credential is granted.
func TestSignedGrantByReferenceManager(t *testing.T) {
	var rlSeen [][]string // the stores RateLimit got, each request
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{7}, httpsig.MasterKeyLen)})
	require.NoError(t, err)
	grant := keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: testpackages.Go,
		Permissions: []string{"offers:write", "offers:read"}, Stores: []string{"store_1", "store_2"}}
	secret, cred, err := m.Create(t.Context(), httpsig.CreateParams{Grant: grant})
	require.NoError(t, err)
	v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: m})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{Signatures: v, Access: middleware.AccessConfig{
		Packages: testpackages.Retail(),
		RateLimit: func(p keygate.Principal) ratelimit.Policy {
			rlSeen = append(rlSeen, append([]string(nil), p.Stores...))
			for i := range p.Stores {
				p.Stores[i] = "rl-evil"
			}
			return ratelimit.Policy{Name: "p", Limit: 1 << 30, Window: time.Hour}
		},
	}})
	require.NoError(t, err)
	signer := &httpsig.Signer{KeyID: cred.KeyID, Secret: secret.Reveal()}
	signed := func() *http.Request {
		body := `{"a":1}`
		r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Store-Id", "store_2")
		require.NoError(t, signer.Sign(r, []byte(body)))
		return r
	}
	var seen []keygate.Principal
	h := auth.Require(middleware.Rule{Permission: "offers:write"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := keygate.FromContext(r.Context())
		require.True(t, ok)
		q := p
		q.Stores = append([]string(nil), p.Stores...)
		seen = append(seen, q)
		for i := range p.Stores {
			p.Stores[i] = "evil"
		}
		for i := range p.Permissions {
			p.Permissions[i] = "admin:*"
		}
	}))
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signed())
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	for _, p := range seen {
		assert.Equal(t, "store_2", p.Store)
	}
	// (RateLimit's copy is the handler's: what it writes, the same
	// request's handler sees; that is main's behaviour too.)
	for _, stores := range rlSeen {
		assert.Equal(t, []string{"store_1", "store_2"}, stores)
	}
	p, err := auth.Check(signed(), middleware.Rule{Permission: "offers:write"})
	require.NoError(t, err)
	p.Stores[0] = "evil"
	got, err := m.Get(t.Context(), cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, grant.Stores, got.Stores)
	assert.Equal(t, grant.Permissions, got.Permissions)
	// The shared record itself (what VerifyLent lends): a fresh lookup.
	a, err := m.Lookup(t.Context(), cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, grant.Stores, a.Stores)
	assert.Equal(t, grant.Permissions, a.Permissions)
}
