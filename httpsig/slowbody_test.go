package httpsig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// TestNonceStoreHugeMaxEntries: a MaxEntries meant as "no practical
// bound" must not make the first Claim of a shard reserve room in
// proportion to it. With math.MaxInt the shard's initial queue cannot
// even be made: the Claim panics while it holds the shard's mutex, so
// that (net/http recovering the panic) every later Claim of that shard
// blocks forever.
func TestNonceStoreHugeMaxEntries(t *testing.T) {
	s := NewMemoryNonceStore(MemoryNonceConfig{MaxEntries: math.MaxInt})
	now := time.Now()
	var ok bool
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Claim panicked with MaxEntries = math.MaxInt: %v", p)
			}
		}()
		ok, err = s.Claim(context.Background(), "k1", "n1", now.Add(time.Minute))
	}()
	require.NoError(t, err)
	require.True(t, ok)
	// The initial room stays small whatever MaxEntries says.
	require.LessOrEqual(t, s.initial, 1<<12, "a shard's first nonce reserves room for %d entries", s.initial)
}

// slowBody is a request body whose bytes arrive after a delay.
type slowBody struct {
	r     io.Reader
	delay time.Duration
	slept bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.slept {
		time.Sleep(b.delay)
		b.slept = true
	}
	return b.r.Read(p)
}

func (*slowBody) Close() error { return nil }

// TestCredentialExpiryDuringBody: a credential that expires while the
// request's body is read is judged once the body is whole, and refused
// (ErrExpired), whether the Verifier and the Manager share one clock
// reading (Config.Now nil) or each read their own.
func TestCredentialExpiryDuringBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  func() time.Time
	}{
		{"Now nil (shared reading)", nil},
		{"Now time.Now wrapper (own reading)", func() time.Time { return time.Now() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, err := NewManager(Config{MasterKey: bytes.Repeat([]byte{7}, MasterKeyLen), Now: tc.now})
				require.NoError(t, err)
				secret, cred, err := m.Create(t.Context(), CreateParams{
					Grant:   keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest},
					Expires: time.Now().Add(10 * time.Second),
				})
				require.NoError(t, err)
				v, err := NewVerifier(VerifierConfig{Credentials: m, Authorities: AnyAuthority})
				require.NoError(t, err)

				time.Sleep(9 * time.Second) // signed and sent 1 s before expiry
				const body = `{"amount":100}`
				r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders?x=1", nil)
				r.Header.Set("Content-Type", "application/json")
				require.NoError(t, (&Signer{KeyID: cred.KeyID, Secret: secret.Reveal()}).Sign(r, []byte(body)))
				r.Body = &slowBody{r: bytes.NewReader([]byte(body)), delay: 5 * time.Second}
				r.ContentLength = int64(len(body))

				_, err = v.Verify(r) // the body is complete 4 s after expiry
				require.ErrorIs(t, err, ErrExpired)
			})
		})
	}
}

// TestLentBodyMisbehavingHandlers: through Require's path
// (VerifyLent then ReleaseBody), a handler that keeps the body, a clone
// of the request, a MaxBytesReader over it or a goroutine reading it
// after returning never reads a later request's bytes, and reads after
// the release fail (run with -race).
func TestLentBodyMisbehavingHandlers(t *testing.T) {
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority})
	first := string(bytes.Repeat([]byte{'1'}, 900))
	r := atkRequest(t, first, "rev-1", nil)
	_, lent, err := v.VerifyLent(r)
	require.NoError(t, err)

	clone := r.Clone(t.Context())
	limited := http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1<<20)
	kept := r.Body
	started := make(chan struct{})
	done := make(chan []byte)
	go func() {
		close(started)
		var got []byte
		p := make([]byte, 7)
		for {
			n, err := kept.Read(p)
			got = append(got, p[:n]...)
			if err != nil {
				break
			}
		}
		done <- got
	}()
	<-started
	ReleaseBody(lent)

	// A later request most likely gets the buffer back.
	second := string(bytes.Repeat([]byte{'2'}, 900))
	r2 := atkRequest(t, second, "rev-2", nil)
	_, lent2, err := v.VerifyLent(r2)
	require.NoError(t, err)
	defer ReleaseBody(lent2)

	got := <-done
	require.NotContains(t, string(got), "2")
	for _, b := range []io.Reader{clone.Body, limited, kept} {
		n, err := b.Read(make([]byte, 16))
		require.Zero(t, n)
		require.Error(t, err)
		require.False(t, errors.Is(err, io.EOF), "a released body must not look complete")
	}
	all, err := io.ReadAll(r2.Body)
	require.NoError(t, err)
	require.Equal(t, second, string(all))
}

// TestRotationDuringBody: Rotate with a grace of 10 s; a request signed
// with the old secret whose headers arrived before the rotation but whose
// body completes a minute later, after the grace ended (a client dripping
// the body), is refused: the old secret's NotAfter is judged once the body
// is whole, not at the reading taken before it, so a dripping body does
// not extend the grace. (Rotate with no grace drops the old secret.)
func TestRotationDuringBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := NewManager(Config{MasterKey: bytes.Repeat([]byte{7}, MasterKeyLen)})
		require.NoError(t, err)
		secret, cred, err := m.Create(t.Context(), CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
		require.NoError(t, err)
		v, err := NewVerifier(VerifierConfig{Credentials: m, Authorities: AnyAuthority})
		require.NoError(t, err)

		const body = `{"amount":100}`
		r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders?x=1", nil)
		r.Header.Set("Content-Type", "application/json")
		require.NoError(t, (&Signer{KeyID: cred.KeyID, Secret: secret.Reveal()}).Sign(r, []byte(body)))
		r.Body = &slowBody{r: bytes.NewReader([]byte(body)), delay: time.Minute}
		r.ContentLength = int64(len(body))

		done := make(chan error)
		go func() {
			_, err := v.Verify(r)
			done <- err
		}()
		time.Sleep(time.Second) // the body is still dripping
		_, _, err = m.Rotate(t.Context(), cred.KeyID, 10*time.Second)
		require.NoError(t, err)
		err = <-done
		require.ErrorIs(t, err, ErrInvalidSignature, "the old secret signed a request completed after its grace ended")
	})
}

// TestSlowBodyReplay: the nonce is kept 2*skew+1 s after the reading at
// which it is claimed, on the premise that a replay is claimed while its
// signature is fresh. A captured request verified at created-290 s,
// replayed at created+290 s (within the skew) with its body dripped for
// 40 s, would be claimed after the first entry expired (created+311 s) and
// was evicted: freshness is checked again once the body is read, and the
// replay refused (ErrStale, or ErrReplayed).
func TestSlowBodyReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := NewManager(Config{MasterKey: bytes.Repeat([]byte{7}, MasterKeyLen)})
		require.NoError(t, err)
		secret, cred, err := m.Create(t.Context(), CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
		require.NoError(t, err)
		store := NewMemoryNonceStore(MemoryNonceConfig{})
		v, err := NewVerifier(VerifierConfig{Credentials: m, Authorities: AnyAuthority, Nonces: store})
		require.NoError(t, err)

		const body = `{"amount":100}`
		orig := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders?x=1", bytes.NewReader([]byte(body)))
		orig.Header.Set("Content-Type", "application/json")
		ahead := func() time.Time { return time.Now().Add(290 * time.Second) } // the client's clock
		require.NoError(t, (&Signer{KeyID: cred.KeyID, Secret: secret.Reveal(), Now: ahead}).Sign(orig, []byte(body)))
		replay := orig.Clone(t.Context())
		_, err = v.Verify(orig)
		require.NoError(t, err)

		// The captured request replayed 580 s later, its body dripped
		// for 40 s.
		time.Sleep(580 * time.Second)
		replay.Body = &slowBody{r: bytes.NewReader([]byte(body)), delay: 40 * time.Second}
		replay.ContentLength = int64(len(body))
		done := make(chan error)
		go func() {
			_, err := v.Verify(replay)
			done <- err
		}()
		// Other traffic meanwhile, after the first nonce's expiry.
		time.Sleep(30 * time.Second)
		for i := range 2000 {
			_, err := store.Claim(t.Context(), "other", fmt.Sprint("n", i), time.Now().Add(time.Minute))
			require.NoError(t, err)
		}
		err = <-done
		require.ErrorIs(t, err, ErrRequestInvalid, "a replay was accepted")
	})
}

// clockBody is a request body whose read moves a test clock on by drip,
// as a client dripping its body lets the server's clock run.
type clockBody struct {
	r     io.Reader
	clock *time.Time
	drip  time.Duration
	moved bool
}

func (b *clockBody) Read(p []byte) (int, error) {
	if !b.moved {
		*b.clock = b.clock.Add(b.drip)
		b.moved = true
	}
	return b.r.Read(p)
}

func (*clockBody) Close() error { return nil }

// TestFreshnessOnceBodyRead: the Verifier reads its clock once per
// request, when the body is whole, and judges created (both ways) and
// expires at that reading: a signature that goes stale or expires while
// its body drips is refused, and one whose created was ahead of the
// server's clock by more than the skew when its headers arrived is judged
// when its body is whole (as the same request sent then would be).
func TestFreshnessOnceBodyRead(t *testing.T) {
	const body = `{"amount":100}`
	created := time.Unix(atkNow, 0)
	for _, tc := range []struct {
		name    string
		start   time.Time // the server's clock when the headers arrive
		drip    time.Duration
		expires int64 // 0: none
		want    error // nil: accepted
	}{
		{"fresh", created, 0, 0, nil},
		{"fresh, dripped within the skew", created.Add(270 * time.Second), 20 * time.Second, 0, nil},
		{"stale while the body drips", created.Add(290 * time.Second), 20 * time.Second, 0, ErrStale},
		{"stale before the body", created.Add(DefaultSkew + time.Second), 0, 0, ErrStale},
		{"ahead of the clock", created.Add(-DefaultSkew - time.Second), 0, 0, ErrStale},
		{"ahead of the clock until the body is whole", created.Add(-310 * time.Second), 20 * time.Second, 0, nil},
		{"expires after the body", created, 4 * time.Second, atkNow + 5, nil},
		{"expires while the body drips", created, 10 * time.Second, atkNow + 5, ErrStale},
		{"expired before the body", created.Add(5 * time.Second), 0, atkNow + 5, ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.start
			reads := 0
			v := atkVerifier(t, VerifierConfig{
				Authorities: AnyAuthority,
				Now:         func() time.Time { reads++; return now },
				Nonces:      NewMemoryNonceStore(MemoryNonceConfig{Now: func() time.Time { return now }}),
			})
			r := atkRequest(t, body, "n-"+tc.name, func(e *fieldEdit) {
				if tc.expires != 0 {
					e.resign(t, `("@method" "@authority" "@path" "@query" "content-digest" "content-type");created=`+
						strconv.FormatInt(atkNow, 10)+`;expires=`+strconv.FormatInt(tc.expires, 10)+`;nonce="n";keyid="k1";alg="hmac-sha256"`, atkSecret)
				}
			})
			r.Body = &clockBody{r: strings.NewReader(body), clock: &now, drip: tc.drip}
			_, err := v.Verify(r)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			require.Equal(t, 1, reads, "the Verifier's clock readings")
		})
	}
}

// TestBodyLimitBeforeFreshness: the body limit is checked before the
// signature's window (SPEC.md §7, checks 4 and 5): a stale request whose
// body is over the limit is refused as too large, without its body read
// past the limit.
func TestBodyLimitBeforeFreshness(t *testing.T) {
	now := time.Unix(atkNow, 0).Add(DefaultSkew + time.Hour)
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, MaxBody: 4, Now: func() time.Time { return now }})
	_, err := v.Verify(atkRequest(t, `{"amount":100}`, "n", nil))
	require.ErrorIs(t, err, ErrBodyTooLarge)
	_, err = v.Verify(atkRequest(t, `{}`, "n", nil))
	require.ErrorIs(t, err, ErrStale, "within the limit: refused as stale")
}
