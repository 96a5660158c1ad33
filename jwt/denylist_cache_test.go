package jwt_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/jwt"
)

// countingDenylist counts the questions that reach a Denylist, and can
// hold them until released.
type countingDenylist struct {
	jwt.Denylist
	mu    sync.Mutex
	asked int
	fail  error
	hold  chan struct{} // when set, IsRevoked waits for it after reading
	read  chan struct{} // when set, IsRevoked says it has read
}

func (d *countingDenylist) IsRevoked(ctx context.Context, jti, subject, session string, iat time.Time) (bool, error) {
	d.mu.Lock()
	d.asked++
	fail, hold, read := d.fail, d.hold, d.read
	d.mu.Unlock()
	if fail != nil {
		return false, fail
	}
	revoked, err := d.Denylist.IsRevoked(ctx, jti, subject, session, iat)
	if read != nil {
		read <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	return revoked, err
}

func (d *countingDenylist) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked
}

func TestCachedDenylistCaches(t *testing.T) {
	ctx := t.Context()
	iat := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	inner := &countingDenylist{Denylist: jwt.NewMemoryDenylist()}
	d := jwt.NewCachedDenylist(inner, jwt.DenylistCacheConfig{})
	ask := func(jti, subject, session string, iat time.Time) bool {
		t.Helper()
		revoked, err := d.IsRevoked(ctx, jti, subject, session, iat)
		require.NoError(t, err)
		return revoked
	}
	require.False(t, ask("jti-1", "sub", "fam", iat))
	require.False(t, ask("jti-1", "sub", "fam", iat))
	require.Equal(t, 1, inner.count(), "the same question again is answered from memory")

	// Another question under the same jti is asked again.
	for _, q := range []struct{ subject, session string }{{"other", "fam"}, {"sub", "other"}, {"sub", ""}} {
		ask("jti-1", q.subject, q.session, iat)
	}
	ask("jti-1", "sub", "fam", iat.Add(time.Second))
	require.Equal(t, 5, inner.count(), "a different subject, session or issue time is another question")

	// Tokens without a jti are never cached.
	ask("", "sub", "", iat)
	ask("", "sub", "", iat)
	require.Equal(t, 7, inner.count())

	// Each kind of revocation through the cache is seen on the next
	// question, though the answer before it was cached.
	for _, tc := range []struct {
		name          string
		jti, sub, fam string
		revoke        func() error
	}{
		{"token", "jti-2", "sub-2", "fam-2", func() error { return d.RevokeToken(ctx, "jti-2", iat.Add(time.Hour)) }},
		{"session", "jti-3", "sub-3", "fam-3", func() error { return d.RevokeSession(ctx, "fam-3", iat.Add(time.Hour)) }},
		{"subject", "jti-4", "sub-4", "fam-4", func() error { return d.RevokeSubject(ctx, "sub-4", iat.Add(time.Minute)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.False(t, ask(tc.jti, tc.sub, tc.fam, iat))
			require.False(t, ask(tc.jti, tc.sub, tc.fam, iat))
			require.NoError(t, tc.revoke())
			require.True(t, ask(tc.jti, tc.sub, tc.fam, iat), "revoked through this cache: refused at once")
		})
	}
}

// Two instances share a backing denylist, each with a cache: a revocation
// made through one is seen by the other when told (Invalidate), or when
// its answer expires.
func TestCachedDenylistTwoInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		iat := time.Now()
		shared := jwt.NewMemoryDenylist()
		a := jwt.NewCachedDenylist(shared, jwt.DenylistCacheConfig{TTL: 2 * time.Second})
		b := jwt.NewCachedDenylist(shared, jwt.DenylistCacheConfig{TTL: 2 * time.Second})
		isRevoked := func(d *jwt.CachedDenylist, jti string) bool {
			t.Helper()
			revoked, err := d.IsRevoked(ctx, jti, "sub", "", iat)
			require.NoError(t, err)
			return revoked
		}
		for _, jti := range []string{"told", "expired"} {
			require.False(t, isRevoked(b, jti))
			require.NoError(t, a.RevokeToken(ctx, jti, iat.Add(time.Hour)))
			require.True(t, isRevoked(a, jti))
			require.False(t, isRevoked(b, jti), "B answers from memory until told or expired")
		}
		b.Invalidate()
		require.True(t, isRevoked(b, "told"))
		time.Sleep(2 * time.Second)
		require.True(t, isRevoked(b, "expired"), "an answer lasts the TTL, no longer")
	})
}

// A question read from the backing denylist before a revocation, and
// answered after it, is not cached: the revocation is never undone by a
// slow reader.
func TestCachedDenylistSlowReader(t *testing.T) {
	ctx := t.Context()
	iat := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	hold := make(chan struct{})
	inner := &countingDenylist{Denylist: jwt.NewMemoryDenylist(), hold: hold, read: make(chan struct{})}
	d := jwt.NewCachedDenylist(inner, jwt.DenylistCacheConfig{})
	type answer struct {
		revoked bool
		err     error
	}
	done := make(chan answer)
	go func() {
		revoked, err := d.IsRevoked(ctx, "jti", "sub", "", iat)
		done <- answer{revoked, err}
	}()
	<-inner.read // the slow reader has read "not revoked", and waits
	inner.mu.Lock()
	inner.hold, inner.read = nil, nil
	inner.mu.Unlock()
	require.NoError(t, d.RevokeToken(ctx, "jti", iat.Add(time.Hour)))
	close(hold)
	slow := <-done
	require.NoError(t, slow.err)
	require.False(t, slow.revoked, "the slow reader's own answer predates the revocation")
	revoked, err := d.IsRevoked(ctx, "jti", "sub", "", iat)
	require.NoError(t, err)
	require.True(t, revoked, "the slow reader's answer was not cached")
	require.Equal(t, 2, inner.count())
}

// A failing backing denylist fails the question, and its failure is not
// cached; a done context fails even a cached question.
func TestCachedDenylistErrors(t *testing.T) {
	iat := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	down := errors.New("denylist down")
	inner := &countingDenylist{Denylist: jwt.NewMemoryDenylist(), fail: down}
	d := jwt.NewCachedDenylist(inner, jwt.DenylistCacheConfig{})
	_, err := d.IsRevoked(t.Context(), "jti", "sub", "", iat)
	require.ErrorIs(t, err, down)
	inner.mu.Lock()
	inner.fail = nil
	inner.mu.Unlock()
	revoked, err := d.IsRevoked(t.Context(), "jti", "sub", "", iat)
	require.NoError(t, err)
	require.False(t, revoked)
	require.Equal(t, 2, inner.count(), "the failure was not cached")

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = d.IsRevoked(cancelled, "jti", "sub", "", iat)
	require.ErrorIs(t, err, context.Canceled)
}
