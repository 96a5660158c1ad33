package httpsigtest

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// TestNonceStore runs the conformance suite for [httpsig.NonceStore] against
// stores made by newStore, which must return an empty store (or one that
// has never seen the random key IDs and nonces the suite uses) for each
// call:
//
//	func TestNonceStore(t *testing.T) {
//		httpsigtest.TestNonceStore(t, func(t *testing.T) httpsig.NonceStore { return newMyStore(t) })
//	}
//
// Expiries are set relative to the real clock (time.Now) and are short
// (about 150 ms), so a store must follow the real clock, possibly its
// server's (Redis PX, a database's now()), to within a few tens of
// milliseconds. The whole suite takes well under a second.
func TestNonceStore(t *testing.T, newStore func(t *testing.T) httpsig.NonceStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, httpsig.NonceStore)
	}{
		{"ClaimThenReplay", testNonceReplay},
		{"PerKeyID", testNoncePerKeyID},
		{"DistinctValues", testNonceDistinct},
		{"Expiry", testNonceExpiry},
		{"ConcurrentSameNonce", testNonceConcurrentSame},
		{"ConcurrentDistinctNonces", testNonceConcurrentDistinct},
		{"CancelledContext", testNonceCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func nonceCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// nonceRandom returns a fresh random value with prefix, so that runs
// against a shared backend never meet each other's entries.
func nonceRandom(prefix string) string {
	return prefix + rand.Text()
}

// nonceRace runs fn(0) … fn(n-1) in n goroutines released together.
func nonceRace(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

// nonceClaim calls Claim and fails the test on an error.
func nonceClaim(t *testing.T, s httpsig.NonceStore, keyID, nonce string, expires time.Time) bool {
	t.Helper()
	ok, err := s.Claim(nonceCtx(t), keyID, nonce, expires)
	if err != nil {
		t.Fatalf("Claim(%q, %q): %v", keyID, nonce, err)
	}
	return ok
}

// nonceWant checks that Claim reports want.
func nonceWant(t *testing.T, s httpsig.NonceStore, keyID, nonce string, expires time.Time, want bool, why string) {
	t.Helper()
	if got := nonceClaim(t, s, keyID, nonce, expires); got != want {
		t.Fatalf("%s: Claim(%q, %q) = %v, want %v", why, keyID, nonce, got, want)
	}
}

func testNonceReplay(t *testing.T, s httpsig.NonceStore) {
	key, nonce := nonceRandom("key_"), nonceRandom("")
	exp := time.Now().Add(time.Minute)
	nonceWant(t, s, key, nonce, exp, true, "first claim")
	nonceWant(t, s, key, nonce, exp, false, "replay")
	nonceWant(t, s, key, nonce, exp.Add(time.Hour), false, "replay with a later expiry")
	nonceWant(t, s, key, nonce, time.Now().Add(time.Second), false, "replay with an earlier expiry")
	// Another nonce under the same key is not a replay.
	nonceWant(t, s, key, nonceRandom(""), exp, true, "another nonce")
}

func testNoncePerKeyID(t *testing.T, s httpsig.NonceStore) {
	k1, k2, nonce := nonceRandom("key_"), nonceRandom("key_"), nonceRandom("")
	exp := time.Now().Add(time.Minute)
	nonceWant(t, s, k1, nonce, exp, true, "first key ID")
	nonceWant(t, s, k2, nonce, exp, true, "same nonce under a second key ID")
	nonceWant(t, s, k1, nonce, exp, false, "replay under the first key ID")
	nonceWant(t, s, k2, nonce, exp, false, "replay under the second key ID")
}

// testNonceDistinct checks that the store keys on the exact bytes of both
// values: no ambiguous concatenation, no case folding, no trailing-space
// padding (SQL collations), long values kept whole. Values stay within
// what a nonce can be (an RFC 8941 string: printable ASCII).
func testNonceDistinct(t *testing.T, s httpsig.NonceStore) {
	r := nonceRandom("")
	long := strings.Repeat("n", 300) + r
	exp := time.Now().Add(time.Minute)
	pairs := [][2]string{
		{"key_ab" + r, "c" + r},
		{"key_a" + r, "bc" + r},
		{"key_a" + r, "b" + r + "c" + r},
		{"key_a" + r, "x" + r},
		{"key_A" + r, "x" + r},
		{"key_a" + r, "X" + r},
		{"key_a" + r, "x" + r + " "},
		{"key_a" + r + " ", "x" + r},
		{"key_a" + r, long},
		{"key_a" + r, long + "!"},
		{"key_a" + r, long[:len(long)-1]},
	}
	for _, p := range pairs {
		nonceWant(t, s, p[0], p[1], exp, true, "distinct key ID and nonce")
	}
	for _, p := range pairs {
		nonceWant(t, s, p[0], p[1], exp, false, "replay")
	}
}

// testNonceExpiry checks that a nonce can be claimed again once its expiry
// has passed, and not before, and that it is then recorded again.
func testNonceExpiry(t *testing.T, s httpsig.NonceStore) {
	const ttl, margin = 150 * time.Millisecond, 100 * time.Millisecond
	key, short, long := nonceRandom("key_"), nonceRandom("short_"), nonceRandom("long_")
	exp := time.Now().Add(ttl)
	nonceWant(t, s, key, short, exp, true, "claim with a short expiry")
	nonceWant(t, s, key, long, time.Now().Add(time.Minute), true, "claim with a long expiry")
	// Before the expiry the short nonce is a replay. (Only a true seen
	// well before exp is a failure: a slow machine may reach exp here.)
	if nonceClaim(t, s, key, short, exp) && time.Now().Before(exp.Add(-20*time.Millisecond)) {
		t.Fatalf("a nonce was claimed again %v before its expiry", time.Until(exp))
	}
	time.Sleep(time.Until(exp.Add(margin)))
	exp2 := time.Now().Add(time.Minute)
	nonceWant(t, s, key, short, exp2, true, "claim after the expiry passed")
	nonceWant(t, s, key, short, exp2, false, "replay of the nonce claimed again")
	nonceWant(t, s, key, long, exp2, false, "replay of a nonce not yet expired")
}

// testNonceConcurrentSame races 200 claims of one nonce: exactly one wins.
func testNonceConcurrentSame(t *testing.T, s httpsig.NonceStore) {
	const rounds, claimers = 5, 200
	key := nonceRandom("key_")
	for round := range rounds {
		nonce := nonceRandom("")
		exp := time.Now().Add(time.Minute)
		var wins, replays atomic.Int64
		nonceRace(claimers, func(int) {
			ok, err := s.Claim(nonceCtx(t), key, nonce, exp)
			switch {
			case err != nil:
				t.Errorf("Claim: %v", err)
			case ok:
				wins.Add(1)
			default:
				replays.Add(1)
			}
		})
		if wins.Load() != 1 || replays.Load() != claimers-1 {
			t.Fatalf("round %d: %d concurrent claims of one nonce: %d true, %d false; want 1 and %d",
				round, claimers, wins.Load(), replays.Load(), claimers-1)
		}
		nonceWant(t, s, key, nonce, exp, false, "replay after the race")
	}
}

// testNonceConcurrentDistinct claims many distinct nonces (and one nonce
// under many key IDs) from many goroutines: every claim wins, and every
// replay afterwards loses.
func testNonceConcurrentDistinct(t *testing.T, s httpsig.NonceStore) {
	const workers, perWorker = 50, 40
	key, shared := nonceRandom("key_"), nonceRandom("shared_")
	exp := time.Now().Add(time.Minute)
	nonces := make([][perWorker]string, workers)
	keys := make([]string, workers)
	for w := range nonces {
		keys[w] = nonceRandom("key_")
		for i := range nonces[w] {
			nonces[w][i] = nonceRandom("")
		}
	}
	var lost atomic.Int64
	claim := func(keyID, nonce string, want bool) {
		ok, err := s.Claim(nonceCtx(t), keyID, nonce, exp)
		if err != nil {
			t.Errorf("Claim: %v", err)
		} else if ok != want {
			lost.Add(1)
		}
	}
	nonceRace(workers, func(w int) {
		claim(keys[w], shared, true)
		for _, n := range nonces[w] {
			claim(key, n, true)
		}
	})
	if n := lost.Load(); n != 0 {
		t.Fatalf("%d of %d concurrent claims of distinct values reported a replay", n, workers*(perWorker+1))
	}
	nonceRace(workers, func(w int) {
		claim(keys[w], shared, false)
		for _, n := range nonces[w] {
			claim(key, n, false)
		}
	})
	if n := lost.Load(); n != 0 {
		t.Fatalf("%d of %d replays were accepted", n, workers*(perWorker+1))
	}
}

// testNonceCancelled checks that a done context gives an error wrapping
// context.Canceled and changes nothing.
func testNonceCancelled(t *testing.T, s httpsig.NonceStore) {
	key, fresh, old := nonceRandom("key_"), nonceRandom("fresh_"), nonceRandom("old_")
	exp := time.Now().Add(time.Minute)
	nonceWant(t, s, key, old, exp, true, "claim")
	c, cancel := context.WithCancel(context.Background())
	cancel()
	for _, n := range []string{fresh, old} {
		ok, err := s.Claim(c, key, n, exp)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Claim(%q) with a cancelled context: got %v, %v; want an error wrapping context.Canceled", n, ok, err)
		}
	}
	nonceWant(t, s, key, fresh, exp, true, "claim of a nonce first tried with a cancelled context")
	nonceWant(t, s, key, old, exp, false, "replay of a nonce tried again with a cancelled context")
}

// TestNonceStoreShare runs the conformance suite of a [httpsig.NonceStore]
// that bounds the unexpired nonces of one key ID (a share, such as
// [httpsig.MemoryNonceConfig.MaxPerKey]): newStore must return an empty store
// whose share is perKey and whose total room is far larger. A new nonce of
// a key ID at its share is refused with an error wrapping
// [httpsig.ErrNonceQuota] and recorded nowhere; replays are still replays;
// other key IDs are not affected; expired nonces leave the share.
//
//	func TestNonceStoreShare(t *testing.T) {
//		httpsigtest.TestNonceStoreShare(t, func(t *testing.T, perKey int) httpsig.NonceStore { return newMyStore(t, perKey) })
//	}
func TestNonceStoreShare(t *testing.T, newStore func(t *testing.T, perKey int) httpsig.NonceStore) {
	t.Helper()
	const perKey = 5
	tests := []struct {
		name string
		fn   func(*testing.T, httpsig.NonceStore)
	}{
		{"OverTheShare", testNonceShare},
		{"ShareExpiry", testNonceShareExpiry},
		{"ShareConcurrent", testNonceShareConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t, perKey))
		})
	}
}

// nonceWantQuota checks that a new nonce is refused with ErrNonceQuota.
func nonceWantQuota(t *testing.T, s httpsig.NonceStore, keyID, nonce string, expires time.Time, why string) {
	t.Helper()
	ok, err := s.Claim(nonceCtx(t), keyID, nonce, expires)
	if !errors.Is(err, httpsig.ErrNonceQuota) || ok {
		t.Fatalf("%s: Claim(%q, %q) = %v, %v; want an error wrapping ErrNonceQuota", why, keyID, nonce, ok, err)
	}
}

func testNonceShare(t *testing.T, s httpsig.NonceStore) {
	a, b := nonceRandom("key_"), nonceRandom("key_")
	exp := time.Now().Add(time.Minute)
	held := make([]string, 5)
	for i := range held {
		held[i] = nonceRandom("")
		nonceWant(t, s, a, held[i], exp, true, "a nonce within the share")
	}
	refused := nonceRandom("")
	nonceWantQuota(t, s, a, refused, exp, "a nonce over the share")
	nonceWant(t, s, a, held[0], exp, false, "a replay at the share")
	for range 5 {
		nonceWant(t, s, b, nonceRandom(""), exp, true, "another key ID while the first is at its share")
	}
	// The second key ID is at its share now too: the nonce refused under
	// the first is new under it (not a replay), so the quota refuses it.
	nonceWantQuota(t, s, b, refused, exp, "the second key ID at its share")
	nonceWantQuota(t, s, a, refused, exp, "the refused nonce again: it was not recorded")
}

func testNonceShareExpiry(t *testing.T, s httpsig.NonceStore) {
	const ttl = 150 * time.Millisecond
	key := nonceRandom("key_")
	short := time.Now().Add(ttl)
	for range 2 {
		nonceWant(t, s, key, nonceRandom(""), short, true, "a short nonce")
	}
	long := time.Now().Add(time.Minute)
	for range 3 {
		nonceWant(t, s, key, nonceRandom(""), long, true, "a long nonce")
	}
	nonceWantQuota(t, s, key, nonceRandom(""), long, "over the share")
	time.Sleep(time.Until(short.Add(100 * time.Millisecond)))
	for range 2 {
		nonceWant(t, s, key, nonceRandom(""), long, true, "a nonce once two expired")
	}
	nonceWantQuota(t, s, key, nonceRandom(""), long, "over the share again")
}

// testNonceShareConcurrent races 40 new nonces of one key ID: exactly the
// share is recorded.
func testNonceShareConcurrent(t *testing.T, s httpsig.NonceStore) {
	const claimers = 40
	key, other := nonceRandom("key_"), nonceRandom("key_")
	exp := time.Now().Add(time.Minute)
	var won, quota, otherWon atomic.Int64
	nonceRace(claimers, func(i int) {
		ok, err := s.Claim(nonceCtx(t), key, nonceRandom(""), exp)
		switch {
		case errors.Is(err, httpsig.ErrNonceQuota):
			quota.Add(1)
		case err != nil || !ok:
			t.Errorf("Claim of a new nonce: %v, %v", ok, err)
		default:
			won.Add(1)
		}
		if i%10 == 0 {
			if ok, err := s.Claim(nonceCtx(t), other, nonceRandom(""), exp); err != nil || !ok {
				t.Errorf("Claim of another key ID: %v, %v", ok, err)
			} else {
				otherWon.Add(1)
			}
		}
	})
	if won.Load() != 5 || quota.Load() != claimers-5 || otherWon.Load() != claimers/10 {
		t.Fatalf("%d concurrent claims with a share of 5: %d recorded, %d refused, %d of another key ID recorded; want 5, %d, %d",
			claimers, won.Load(), quota.Load(), otherWon.Load(), claimers-5, claimers/10)
	}
}
