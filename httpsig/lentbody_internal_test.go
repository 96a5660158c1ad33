package httpsig

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVerifyLent: VerifyLent accepts and refuses as Verify does, leaves
// the verified bytes readable until ReleaseBody, and refuses reads after
// it; the grant is the Manager's (not copied) only on this path.
func TestVerifyLent(t *testing.T) {
	v := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority})
	const body = `{"amount":100}`

	r := atkRequest(t, body, "lent-1", nil)
	c, lent, err := v.VerifyLent(r)
	require.NoError(t, err)
	require.Equal(t, "k1", c.KeyID)
	require.Same(t, lent, r.Body)
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, body, string(got))
	ReleaseBody(lent)
	n, err := r.Body.Read(make([]byte, 8))
	require.Zero(t, n)
	require.ErrorIs(t, err, errBodyReleased)
	ReleaseBody(lent) // twice: nothing more

	// Replayed: refused, as Verify refuses it, and the body it read is
	// lent all the same, for the caller to release.
	r = atkRequest(t, body, "lent-1", nil)
	_, lent, err = v.VerifyLent(r)
	require.ErrorIs(t, err, ErrReplayed)
	require.NotNil(t, lent)
	ReleaseBody(lent)

	// A tampered body: refused.
	r = atkRequest(t, body, "lent-2", nil)
	r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "100", "900", 1)))
	_, lent, err = v.VerifyLent(r)
	require.ErrorIs(t, err, ErrDigest)
	ReleaseBody(lent)

	// Refused before the body is read: nothing lent, the body untouched.
	r = atkRequest(t, body, "lent-3", nil)
	r.Header.Del("Signature")
	orig := r.Body
	_, lent, err = v.VerifyLent(r)
	require.Error(t, err)
	require.Nil(t, lent)
	require.Equal(t, orig, r.Body)
	ReleaseBody(lent) // nil: nothing

	// A body over the limit: refused, nothing lent.
	small := atkVerifier(t, VerifierConfig{Authorities: AnyAuthority, MaxBody: 4})
	r = atkRequest(t, body, "lent-4", nil)
	_, lent, err = small.VerifyLent(r)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	require.Nil(t, lent)

	// ReleaseBody leaves any other body alone, Verify's included.
	r = atkRequest(t, body, "lent-5", nil)
	_, err = v.Verify(r)
	require.NoError(t, err)
	ReleaseBody(r.Body)
	got, err = io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, body, string(got))
}

// TestLentBodyReleaseRace: readers running while the body is released
// read the request's own bytes or fail, never the bytes of a request that
// got the buffer afterwards (run with -race).
func TestLentBodyReleaseRace(t *testing.T) {
	for range 200 {
		buf := bodyBuffers.Get().(*[]byte)
		*buf = append((*buf)[:0], bytes.Repeat([]byte{'a'}, 1024)...)
		b := &lentBody{buf: buf}
		var wg sync.WaitGroup
		bad := make(chan string, 4)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := make([]byte, 16)
				for {
					n, err := b.Read(p)
					if bytes.ContainsFunc(p[:n], func(r rune) bool { return r != 'a' }) {
						bad <- string(p[:n])
						return
					}
					if err != nil {
						if !errors.Is(err, io.EOF) && !errors.Is(err, errBodyReleased) {
							bad <- err.Error()
						}
						return
					}
				}
			}()
		}
		ReleaseBody(b)
		// Another request takes the buffer and writes its own bytes.
		next := bodyBuffers.Get().(*[]byte)
		*next = append((*next)[:0], bytes.Repeat([]byte{'b'}, 1024)...)
		wg.Wait()
		close(bad)
		for s := range bad {
			t.Fatalf("a reader of a released body read %q", s)
		}
		bodyBuffers.Put(next)
	}
}
