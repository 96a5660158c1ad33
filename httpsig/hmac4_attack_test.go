package httpsig

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// Review of h-hmac4 (the Verifier reads its clock once, when the body is
// whole): attacks on the window, the nonce and the credential through the
// shared reading, on the system clock (synctest), where the Verifier hands
// its reading to the Manager and the MemoryNonceStore.

// hmac4Setup is a Manager, a MemoryNonceStore and a Verifier, all on
// time.Now (the shared reading), inside a synctest bubble.
func hmac4Setup(t *testing.T) (*Manager, *MemoryNonceStore, *Verifier, []byte, string) {
	t.Helper()
	m, err := NewManager(Config{MasterKey: bytes.Repeat([]byte{7}, MasterKeyLen)})
	require.NoError(t, err)
	secret, cred, err := m.Create(t.Context(), CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	store := NewMemoryNonceStore(MemoryNonceConfig{})
	v, err := NewVerifier(VerifierConfig{Credentials: m, Authorities: AnyAuthority, Nonces: store})
	require.NoError(t, err)
	require.True(t, v.sharedClock, "the Verifier must hand its reading to the Manager")
	require.Same(t, store, v.nonces, "the Verifier must hand its reading to the store")
	return m, store, v, secret.Reveal(), cred.KeyID
}

// hmac4Signed returns a POST signed by keyID with the signer's clock
// ahead of the server's by ahead.
func hmac4Signed(t *testing.T, keyID string, secret []byte, ahead time.Duration, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders?x=1", nil)
	r.Header.Set("Content-Type", "application/json")
	s := &Signer{KeyID: keyID, Secret: secret, Now: func() time.Time { return time.Now().Add(ahead) }}
	require.NoError(t, s.Sign(r, []byte(body)))
	return r
}

// withDrip gives a copy of r the body, whose bytes arrive after delay.
func withDrip(t *testing.T, r *http.Request, body string, delay time.Duration) *http.Request {
	c := r.Clone(t.Context())
	c.Body = &slowBody{r: strings.NewReader(body), delay: delay}
	c.ContentLength = int64(len(body))
	return c
}

// churn claims n nonces of another key ID, as other traffic does, so
// that every shard sweeps its expired entries at the current time.
func churn(t *testing.T, store *MemoryNonceStore, n int) {
	for i := range n {
		_, err := store.Claim(t.Context(), "other", fmt.Sprint("churn-", time.Now().UnixNano(), "-", i), time.Now().Add(time.Minute))
		require.NoError(t, err)
	}
}

// TestFutureDatedDripReplay: a request signed 400 s ahead of the server's
// clock, its body dripped for 100 s, is accepted (now judged once the
// body is whole). Its nonce must then outlive its window: a replay
// judged at created+skew (the last instant it is fresh), its body
// dripped, after other traffic swept every shard, is refused; one second
// later it is stale.
func TestFutureDatedDripReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, store, v, secret, keyID := hmac4Setup(t)
		const body = `{"amount":100}`
		orig := hmac4Signed(t, keyID, secret, 400*time.Second, body) // created = T+400

		_, err := v.Verify(withDrip(t, orig, body, 100*time.Second)) // judged at T+100: 300 s ahead
		require.NoError(t, err)

		time.Sleep(550 * time.Second) // T+650
		done := make(chan error)
		go func() {
			_, err := v.Verify(withDrip(t, orig, body, 50*time.Second)) // judged at T+700 = created+skew
			done <- err
		}()
		time.Sleep(49 * time.Second)
		churn(t, store, 2000)
		require.ErrorIs(t, <-done, ErrReplayed, "a future-dated signature outlived its nonce")

		_, err = v.Verify(withDrip(t, orig, body, time.Second)) // judged at T+701
		require.ErrorIs(t, err, ErrStale)
		churn(t, store, 2000)
		_, err = v.Verify(withDrip(t, orig, body, 0))
		require.ErrorIs(t, err, ErrStale)
	})
}

// TestFutureDatedNoBody: without a body the one reading is taken at once:
// a GET 301 s ahead is refused, one 300 s ahead accepted once.
func TestFutureDatedNoBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, v, secret, keyID := hmac4Setup(t)
		for _, tc := range []struct {
			ahead time.Duration
			want  error
		}{{301 * time.Second, ErrStale}, {300 * time.Second, nil}} {
			r := httptest.NewRequest(http.MethodGet, "https://api.example.com/v1/orders?x=1", nil)
			s := &Signer{KeyID: keyID, Secret: secret, Now: func() time.Time { return time.Now().Add(tc.ahead) }}
			require.NoError(t, s.Sign(r, nil))
			_, err := v.Verify(r)
			if tc.want == nil {
				require.NoError(t, err)
				_, err = v.Verify(r)
				require.ErrorIs(t, err, ErrReplayed)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		}
	})
}

// TestRevokeDuringDrip: a credential revoked while a request's body drips
// is refused once the body is whole (the lookup follows the one reading).
func TestRevokeDuringDrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _, v, secret, keyID := hmac4Setup(t)
		const body = `{"amount":100}`
		r := withDrip(t, hmac4Signed(t, keyID, secret, 0, body), body, 10*time.Second)
		done := make(chan error)
		go func() {
			_, err := v.Verify(r)
			done <- err
		}()
		time.Sleep(time.Second)
		_, err := m.Revoke(t.Context(), keyID)
		require.NoError(t, err)
		require.ErrorIs(t, <-done, ErrInvalidSignature)
	})
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r io.Reader
	n int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += n
	return n, err
}

func (*countingBody) Close() error { return nil }

// TestStaleOverLimitChunked: a stale request with a chunked body (no
// Content-Length) over the limit is refused as too large (SPEC.md §7,
// check 4 before 5), having read at most one byte over the limit; at the
// limit, as stale. Neither reaches the nonce store.
func TestStaleOverLimitChunked(t *testing.T) {
	now := time.Unix(atkNow, 0).Add(DefaultSkew + time.Hour)
	store := NewMemoryNonceStore(MemoryNonceConfig{Now: func() time.Time { return now }})
	const limit = 16
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, MaxBody: limit, Now: func() time.Time { return now }, Nonces: store})
	for _, tc := range []struct {
		size int
		want error
	}{{limit + 1, ErrBodyTooLarge}, {4 << 20, ErrBodyTooLarge}, {limit, ErrStale}, {0, ErrStale}} {
		body := strings.Repeat("a", tc.size)
		r := atkRequest(t, body, fmt.Sprint("n", tc.size), nil)
		cb := &countingBody{r: strings.NewReader(body)}
		r.Body, r.ContentLength = cb, -1
		if tc.size == 0 {
			r.Body, r.ContentLength = http.NoBody, 0
		}
		_, lent, err := v.VerifyLent(r)
		require.ErrorIs(t, err, tc.want, "size %d", tc.size)
		require.LessOrEqual(t, cb.n, limit+1, "read past the limit")
		if tc.want == ErrBodyTooLarge {
			require.Nil(t, lent, "a refused body over the limit is not lent")
		}
		ReleaseBody(lent)
	}
	require.Zero(t, store.Len())
}

// slowCredentials is a CredentialSource whose lookups take delay (a
// remote store under load).
type slowCredentials struct {
	CredentialSource
	delay time.Duration
}

func (s slowCredentials) Lookup(ctx context.Context, keyID string) (Active, error) {
	time.Sleep(s.delay)
	return s.CredentialSource.Lookup(ctx, keyID)
}

// TestReplayAcrossSlowLookup (pre-existing, not introduced by h-hmac4):
// the nonce is kept 2*skew+1 s after the reading that judged the window,
// so a signature 300 s ahead has a nonce that outlives its window by one
// second only. The claim follows the credential lookup: a replay judged
// fresh at created+skew whose lookup takes 2 s claims after other traffic
// (on later readings) has evicted the first claim, and is accepted.
func TestReplayAcrossSlowLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryNonceStore(MemoryNonceConfig{})
		v, err := NewVerifier(VerifierConfig{
			Credentials: slowCredentials{atkCreds(), 2 * time.Second},
			Authorities: AnyAuthority, Nonces: store,
		})
		require.NoError(t, err)
		const body = `{"amount":100}`
		orig := hmac4Signed(t, "k1", atkSecret, 300*time.Second, body) // created = T+300
		_, err = v.Verify(withDrip(t, orig, body, 0))                  // judged at T, kept until T+601
		require.NoError(t, err)

		time.Sleep(598 * time.Second) // T+600 = created+skew
		done := make(chan error)
		go func() {
			_, err := v.Verify(withDrip(t, orig, body, 0)) // fresh at T+600, claims at T+602 with that reading
			done <- err
		}()
		time.Sleep(1500 * time.Millisecond)
		churn(t, store, 2000)
		require.ErrorIs(t, <-done, ErrRequestInvalid, "a replay was accepted")
	})
}
