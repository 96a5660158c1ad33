// Package jwttest is the conformance suite for the stores of package jwt:
// [jwt.Denylist], [jwt.RefreshStore], [jwt.OneTimeStore] and [jwt.KeyStore].
// Every backend runs the suites of the stores it implements:
//
//	func TestRefreshStore(t *testing.T) {
//		jwttest.TestRefreshStore(t, func(t *testing.T) jwt.RefreshStore { return newMyStore(t) })
//	}
//
// The records the suites store expire in the future of the real clock, so
// that backends which derive a TTL from them (Redis) keep them for the
// duration of a test. Times are whole microseconds.
package jwttest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

type suite[S any] []struct {
	name string
	fn   func(*testing.T, S)
}

func (s suite[S]) run(t *testing.T, newStore func(t *testing.T) S) {
	t.Helper()
	for _, tt := range s {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func cancelled() context.Context {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	return c
}

// now is the real time, in whole seconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

var seq atomic.Int64

// name returns a unique name with prefix.
func name(prefix string) string {
	return fmt.Sprintf("%s-%d-%s", prefix, seq.Add(1), rand.Text()[:8])
}

func randomHash() (h [32]byte) {
	_, _ = rand.Read(h[:])
	return h
}

// race runs fn(i) for i in [0, n) in n goroutines released together.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// TestDenylist runs the conformance suite against denylists made by
// newDenylist, which must return an empty denylist for each call.
func TestDenylist(t *testing.T, newDenylist func(t *testing.T) jwt.Denylist) {
	t.Helper()
	suite[jwt.Denylist]{
		{"RevokeToken", testRevokeToken},
		{"RevokeTokenTwice", testRevokeTokenTwice},
		{"SubjectCutOff", testSubjectCutOff},
		{"SubjectCutOffMonotonic", testSubjectMonotonic},
		{"TokenAndSubjectInOneCall", testTokenAndSubject},
		{"RevokeSession", testRevokeSession},
		{"CancelledContext", testDenylistCancelled},
		{"Concurrent", testDenylistConcurrent},
	}.run(t, newDenylist)
}

func isRevoked(t *testing.T, d jwt.Denylist, jti, subject string, iat time.Time) bool {
	t.Helper()
	return isRevokedIn(t, d, jti, subject, "", iat)
}

func isRevokedIn(t *testing.T, d jwt.Denylist, jti, subject, session string, iat time.Time) bool {
	t.Helper()
	ok, err := d.IsRevoked(ctx(t), jti, subject, session, iat)
	if err != nil {
		t.Fatalf("IsRevoked: %v", err)
	}
	return ok
}

func testRevokeToken(t *testing.T, d jwt.Denylist) {
	jti, other, sub, iat := name("jti"), name("jti"), name("sub"), now()
	if isRevoked(t, d, jti, sub, iat) {
		t.Fatal("an empty denylist revokes a token")
	}
	if err := d.RevokeToken(ctx(t), jti, iat.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if !isRevoked(t, d, jti, sub, iat) {
		t.Error("a revoked jti is not revoked")
	}
	if !isRevoked(t, d, jti, name("sub"), iat.Add(time.Minute)) {
		t.Error("a revoked jti must be revoked whatever the subject and issue time")
	}
	if isRevoked(t, d, other, sub, iat) {
		t.Error("revoking one jti revoked another token of the same subject")
	}
}

func testRevokeTokenTwice(t *testing.T, d jwt.Denylist) {
	jti, iat := name("jti"), now()
	for _, until := range []time.Time{iat.Add(2 * time.Hour), iat.Add(time.Hour)} {
		if err := d.RevokeToken(ctx(t), jti, until); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	}
	if !isRevoked(t, d, jti, name("sub"), iat) {
		t.Error("revoking a jti twice must keep it revoked")
	}
}

func testSubjectCutOff(t *testing.T, d jwt.Denylist) {
	sub, cut := name("sub"), now()
	if err := d.RevokeSubject(ctx(t), sub, cut); err != nil {
		t.Fatalf("RevokeSubject: %v", err)
	}
	for _, c := range []struct {
		iat  time.Time
		want bool
	}{
		{cut.Add(-time.Hour), true},
		{cut.Add(-time.Second), true},
		{cut, false}, // issued at the cut-off: not before it
		{cut.Add(time.Second), false},
	} {
		if got := isRevoked(t, d, name("jti"), sub, c.iat); got != c.want {
			t.Errorf("token issued %v relative to the cut-off: revoked %v, want %v", c.iat.Sub(cut), got, c.want)
		}
	}
	if isRevoked(t, d, name("jti"), name("sub"), cut.Add(-time.Hour)) {
		t.Error("revoking one subject revoked another")
	}
}

func testSubjectMonotonic(t *testing.T, d jwt.Denylist) {
	sub, t0 := name("sub"), now()
	early, late := t0.Add(-time.Hour), t0
	for _, cut := range []time.Time{late, early} {
		if err := d.RevokeSubject(ctx(t), sub, cut); err != nil {
			t.Fatalf("RevokeSubject: %v", err)
		}
	}
	if !isRevoked(t, d, name("jti"), sub, late.Add(-time.Second)) {
		t.Error("an earlier cut-off replaced a later one")
	}
	later := t0.Add(time.Hour)
	if err := d.RevokeSubject(ctx(t), sub, later); err != nil {
		t.Fatalf("RevokeSubject: %v", err)
	}
	if !isRevoked(t, d, name("jti"), sub, later.Add(-time.Second)) {
		t.Error("a later cut-off did not replace an earlier one")
	}
	if isRevoked(t, d, name("jti"), sub, later) {
		t.Error("a token issued at the latest cut-off is revoked")
	}
}

func testTokenAndSubject(t *testing.T, d jwt.Denylist) {
	jti, sub, cut := name("jti"), name("sub"), now()
	if err := d.RevokeToken(ctx(t), jti, cut.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeSubject(ctx(t), sub, cut); err != nil {
		t.Fatal(err)
	}
	if !isRevoked(t, d, jti, name("sub"), cut.Add(time.Minute)) {
		t.Error("revoked jti, other subject: not revoked")
	}
	if !isRevoked(t, d, name("jti"), sub, cut.Add(-time.Minute)) {
		t.Error("other jti, subject cut off after it was issued: not revoked")
	}
	if isRevoked(t, d, name("jti"), sub, cut.Add(time.Minute)) {
		t.Error("other jti, issued after the subject's cut-off: revoked")
	}
}

// testRevokeSession: a revoked session denies every token that names it,
// whatever its jti, subject and issue time, and only those; a token
// without a session is never denied by one; revoking again with an
// earlier until keeps it denied; an entry whose until has passed (within
// RevocationMargin) still denies.
func testRevokeSession(t *testing.T, d jwt.Denylist) {
	sid, other, sub, iat := name("sid"), name("sid"), name("sub"), now()
	if isRevokedIn(t, d, name("jti"), sub, sid, iat) {
		t.Fatal("an empty denylist revokes a session")
	}
	for _, until := range []time.Time{iat.Add(2 * time.Hour), iat.Add(time.Hour)} {
		if err := d.RevokeSession(ctx(t), sid, until); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
	}
	if !isRevokedIn(t, d, name("jti"), sub, sid, iat) {
		t.Error("a token of a revoked session is not revoked")
	}
	if !isRevokedIn(t, d, name("jti"), name("sub"), sid, iat.Add(time.Hour)) {
		t.Error("a revoked session must deny its tokens whatever their subject and issue time")
	}
	if isRevokedIn(t, d, name("jti"), sub, other, iat) {
		t.Error("revoking one session revoked another")
	}
	if isRevokedIn(t, d, name("jti"), sub, "", iat) {
		t.Error("a token without a session was revoked by a session's revocation")
	}
	if err := d.RevokeSession(ctx(t), other, iat.Add(-time.Minute)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if !isRevokedIn(t, d, name("jti"), sub, other, iat) {
		t.Error("a session revoked until a moment that just passed must stay denied for RevocationMargin")
	}
}

func testDenylistCancelled(t *testing.T, d jwt.Denylist) {
	jti, sub, iat := name("jti"), name("sub"), now()
	c := cancelled()
	checks := map[string]error{}
	checks["RevokeToken"] = d.RevokeToken(c, jti, iat.Add(time.Hour))
	checks["RevokeSubject"] = d.RevokeSubject(c, sub, iat.Add(time.Hour))
	checks["RevokeSession"] = d.RevokeSession(c, sub, iat.Add(time.Hour))
	_, checks["IsRevoked"] = d.IsRevoked(c, jti, sub, sub, iat)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", op, err)
		}
	}
	if isRevokedIn(t, d, jti, sub, sub, iat) {
		t.Error("a revocation with a cancelled context was applied")
	}
}

// testDenylistConcurrent revokes tokens and moves one subject's cut-off
// from many goroutines while others read: every revocation must land, and
// the cut-off must end at the latest one.
func testDenylistConcurrent(t *testing.T, d jwt.Denylist) {
	const workers, each = 8, 25
	sub, t0 := name("sub"), now()
	prefix := name("jti")
	race(workers, func(w int) {
		for i := 0; i < each; i++ {
			jti := fmt.Sprintf("%s-%d-%d", prefix, w, i)
			if err := d.RevokeToken(ctx(t), jti, t0.Add(time.Hour)); err != nil {
				t.Errorf("RevokeToken: %v", err)
				return
			}
			// Cut-offs t0+1s ... t0+workers*each s, in a scrambled order.
			n := (i*workers + w*7919) % (workers * each)
			if err := d.RevokeSubject(ctx(t), sub, t0.Add(time.Duration(n+1)*time.Second)); err != nil {
				t.Errorf("RevokeSubject: %v", err)
				return
			}
			if _, err := d.IsRevoked(ctx(t), jti, sub, "", t0); err != nil {
				t.Errorf("IsRevoked: %v", err)
				return
			}
		}
	})
	for w := 0; w < workers; w++ {
		for i := 0; i < each; i++ {
			if jti := fmt.Sprintf("%s-%d-%d", prefix, w, i); !isRevoked(t, d, jti, name("sub"), t0) {
				t.Fatalf("concurrent RevokeToken %d/%d did not land", w, i)
			}
		}
	}
	last := t0.Add(workers * each * time.Second)
	if !isRevoked(t, d, name("jti"), sub, last.Add(-time.Second)) || isRevoked(t, d, name("jti"), sub, last) {
		t.Fatal("after concurrent RevokeSubject calls the cut-off is not the latest one")
	}
}

// TestRefreshStore runs the conformance suite against stores made by
// newStore, which must return an empty store for each call.
func TestRefreshStore(t *testing.T, newStore func(t *testing.T) jwt.RefreshStore) {
	t.Helper()
	suite[jwt.RefreshStore]{
		{"CreateGetRoundTrip", testRefreshCreateGet},
		{"CreateDuplicate", testRefreshDuplicate},
		{"GetMissing", testRefreshGetMissing},
		{"Isolation", testRefreshIsolation},
		{"Rotate", testRefreshRotate},
		{"RotateMissing", testRefreshRotateMissing},
		{"RotateToTakenHash", testRefreshRotateTaken},
		{"ReuseRevokesFamily", testRefreshReuse},
		{"ReuseAfterRevocation", testRefreshReuseAfterRevoke},
		{"RevokeFamily", testRefreshRevokeFamily},
		{"ConcurrentRotations", testRefreshConcurrentRotate},
		{"RevokeFamilyRacingRotate", testRefreshRevokeRacingRotate},
		{"CancelledContext", testRefreshCancelled},
		{"OpenFamilies", testRefreshOpenFamilies},
	}.run(t, newStore)
}

// refreshSample returns the fully populated first record of a new family.
func refreshSample() jwt.RefreshRecord {
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	return jwt.RefreshRecord{
		Hash:     randomHash(),
		Family:   name("fam"),
		ClientID: "client00000000id",
		Subject:  "user_1",
		Scope:    "products:read offers:write",
		Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeLive,
			Package:     "GO",
			Permissions: []string{"products:read", "offers:write"},
			Stores:      []string{"store_1", "store_2"},
			AllowedIPs:  []string{"10.0.0.0/8", "2001:db8::1"},
		},
		IssuedAt:          t0,
		IdleExpiresAt:     t0.Add(time.Hour),
		AbsoluteExpiresAt: t0.Add(24 * time.Hour),
		Status:            jwt.RefreshActive,
	}
}

// nextOf returns the record that replaces r in its family at.
func nextOf(r jwt.RefreshRecord, at time.Time) jwt.RefreshRecord {
	n := r
	n.Hash = randomHash()
	n.Permissions = append([]string(nil), r.Permissions...)
	n.Stores = append([]string(nil), r.Stores...)
	n.AllowedIPs = append([]string(nil), r.AllowedIPs...)
	n.IssuedAt = at
	n.IdleExpiresAt = at.Add(time.Hour)
	n.Status = jwt.RefreshActive
	n.RotatedAt, n.RevokedAt = time.Time{}, time.Time{}
	return n
}

// equalRefresh compares records field by field, times with Equal.
func equalRefresh(t *testing.T, want, got jwt.RefreshRecord) {
	t.Helper()
	times := func(r *jwt.RefreshRecord) []*time.Time {
		return []*time.Time{&r.IssuedAt, &r.IdleExpiresAt, &r.AbsoluteExpiresAt, &r.RotatedAt, &r.RevokedAt}
	}
	wt, gt := times(&want), times(&got)
	for i := range wt {
		if !wt[i].Equal(*gt[i]) {
			t.Errorf("time field %d: want %v, got %v", i, *wt[i], *gt[i])
		}
		*wt[i], *gt[i] = time.Time{}, time.Time{}
	}
	if fmt.Sprintf("%+v", want) != fmt.Sprintf("%+v", got) {
		t.Errorf("record differs:\nwant %+v\n got %+v", want, got)
	}
}

func mustCreate(t *testing.T, s jwt.RefreshStore, r jwt.RefreshRecord) {
	t.Helper()
	if err := s.Create(ctx(t), r); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func mustGet(t *testing.T, s jwt.RefreshStore, h [32]byte) jwt.RefreshRecord {
	t.Helper()
	r, err := s.Get(ctx(t), h)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r
}

func mustRotate(t *testing.T, s jwt.RefreshStore, old jwt.RefreshRecord, at time.Time) jwt.RefreshRecord {
	t.Helper()
	next := nextOf(old, at)
	if _, err := s.Rotate(ctx(t), old.Hash, next, at); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	return next
}

func wantStatus(t *testing.T, s jwt.RefreshStore, what string, h [32]byte, want jwt.RefreshStatus) jwt.RefreshRecord {
	t.Helper()
	r := mustGet(t, s, h)
	if r.Status != want {
		t.Errorf("%s: status %q, want %q", what, r.Status, want)
	}
	return r
}

func wantMissing(t *testing.T, s jwt.RefreshStore, what string, h [32]byte) {
	t.Helper()
	if _, err := s.Get(ctx(t), h); !errors.Is(err, jwt.ErrNotFound) {
		t.Errorf("%s: Get returned %v, want ErrNotFound", what, err)
	}
}

func testRefreshCreateGet(t *testing.T, s jwt.RefreshStore) {
	r := refreshSample()
	mustCreate(t, s, r)
	equalRefresh(t, r, mustGet(t, s, r.Hash))
}

func testRefreshDuplicate(t *testing.T, s jwt.RefreshStore) {
	r := refreshSample()
	mustCreate(t, s, r)
	dup := refreshSample()
	dup.Hash = r.Hash
	dup.Subject = "someone else"
	if err := s.Create(ctx(t), dup); !errors.Is(err, jwt.ErrExists) {
		t.Fatalf("duplicate Create: got %v, want ErrExists", err)
	}
	equalRefresh(t, r, mustGet(t, s, r.Hash))
}

func testRefreshGetMissing(t *testing.T, s jwt.RefreshStore) {
	wantMissing(t, s, "unknown hash", randomHash())
}

// testRefreshIsolation checks that the store keeps no reference to the
// caller's slices and hands out none to its own.
func testRefreshIsolation(t *testing.T, s jwt.RefreshStore) {
	r := refreshSample()
	mustCreate(t, s, r)
	r.Permissions[0], r.Stores[0], r.AllowedIPs[0] = "mutated", "mutated", "mutated"
	got := mustGet(t, s, r.Hash)
	if got.Permissions[0] == "mutated" || got.Stores[0] == "mutated" || got.AllowedIPs[0] == "mutated" {
		t.Fatalf("the store kept a reference to the caller's slices: %+v", got)
	}
	got.Permissions[0] = "mutated"
	if again := mustGet(t, s, r.Hash); again.Permissions[0] == "mutated" {
		t.Fatal("Get returned a slice shared with the store")
	}
}

func testRefreshRotate(t *testing.T, s jwt.RefreshStore) {
	a := refreshSample()
	mustCreate(t, s, a)
	at := a.IssuedAt.Add(time.Minute)
	b := nextOf(a, at)
	old, err := s.Rotate(ctx(t), a.Hash, b, at)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rotated := a
	rotated.Status, rotated.RotatedAt = jwt.RefreshRotated, at
	equalRefresh(t, rotated, old)
	equalRefresh(t, rotated, mustGet(t, s, a.Hash))
	equalRefresh(t, b, mustGet(t, s, b.Hash))

	// The chain goes on from the new token.
	c := mustRotate(t, s, b, at.Add(time.Minute))
	wantStatus(t, s, "second token after its rotation", b.Hash, jwt.RefreshRotated)
	wantStatus(t, s, "third token", c.Hash, jwt.RefreshActive)
}

func testRefreshRotateMissing(t *testing.T, s jwt.RefreshStore) {
	a := refreshSample()
	next := nextOf(a, a.IssuedAt)
	if _, err := s.Rotate(ctx(t), a.Hash, next, a.IssuedAt); !errors.Is(err, jwt.ErrNotFound) {
		t.Fatalf("Rotate of an unknown token: got %v, want ErrNotFound", err)
	}
	wantMissing(t, s, "next of an unknown token", next.Hash)
}

func testRefreshRotateTaken(t *testing.T, s jwt.RefreshStore) {
	a, other := refreshSample(), refreshSample()
	mustCreate(t, s, a)
	mustCreate(t, s, other)
	next := nextOf(a, a.IssuedAt)
	next.Hash = other.Hash
	if _, err := s.Rotate(ctx(t), a.Hash, next, a.IssuedAt); !errors.Is(err, jwt.ErrExists) {
		t.Fatalf("Rotate to a taken hash: got %v, want ErrExists", err)
	}
	equalRefresh(t, a, mustGet(t, s, a.Hash))
	equalRefresh(t, other, mustGet(t, s, other.Hash))
}

func testRefreshReuse(t *testing.T, s jwt.RefreshStore) {
	a, bystander := refreshSample(), refreshSample()
	mustCreate(t, s, a)
	mustCreate(t, s, bystander)
	t1 := a.IssuedAt.Add(time.Minute)
	b := mustRotate(t, s, a, t1)

	// A is presented again: reuse.
	t2 := t1.Add(time.Minute)
	c := nextOf(a, t2)
	old, err := s.Rotate(ctx(t), a.Hash, c, t2)
	if !errors.Is(err, jwt.ErrRefreshReuse) {
		t.Fatalf("second Rotate of one token: got %v, want ErrRefreshReuse", err)
	}
	if old.Hash != a.Hash || old.Family != a.Family || old.ClientID != a.ClientID || old.Subject != a.Subject {
		t.Errorf("Rotate on reuse must return the reused token's record, got %+v", old)
	}
	wantMissing(t, s, "the token offered in exchange for a reused one", c.Hash)
	ra := wantStatus(t, s, "the reused token", a.Hash, jwt.RefreshRevoked)
	rb := wantStatus(t, s, "the token issued in exchange", b.Hash, jwt.RefreshRevoked)
	if !ra.RotatedAt.Equal(t1) {
		t.Errorf("revocation must keep RotatedAt: got %v, want %v", ra.RotatedAt, t1)
	}
	if !ra.RevokedAt.Equal(t2) || !rb.RevokedAt.Equal(t2) {
		t.Errorf("RevokedAt: %v and %v, want %v", ra.RevokedAt, rb.RevokedAt, t2)
	}
	wantStatus(t, s, "a token of another family", bystander.Hash, jwt.RefreshActive)

	// The token issued in exchange was never used: revoked, not reused.
	if _, err := s.Rotate(ctx(t), b.Hash, nextOf(b, t2), t2); !errors.Is(err, jwt.ErrRefreshRevoked) || errors.Is(err, jwt.ErrRefreshReuse) {
		t.Errorf("Rotate of a revoked, never used token: got %v, want ErrRefreshRevoked", err)
	}
	// The rotated token stays a reuse however often it comes back.
	if _, err := s.Rotate(ctx(t), a.Hash, nextOf(a, t2), t2); !errors.Is(err, jwt.ErrRefreshReuse) {
		t.Errorf("third Rotate of one token: got %v, want ErrRefreshReuse", err)
	}
}

func testRefreshReuseAfterRevoke(t *testing.T, s jwt.RefreshStore) {
	a := refreshSample()
	mustCreate(t, s, a)
	t1 := a.IssuedAt.Add(time.Minute)
	b := mustRotate(t, s, a, t1)
	if err := s.RevokeFamily(ctx(t), a.Family, t1.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rotate(ctx(t), a.Hash, nextOf(a, t1), t1); !errors.Is(err, jwt.ErrRefreshReuse) {
		t.Errorf("Rotate of a rotated token in a revoked family: got %v, want ErrRefreshReuse", err)
	}
	if _, err := s.Rotate(ctx(t), b.Hash, nextOf(b, t1), t1); !errors.Is(err, jwt.ErrRefreshRevoked) {
		t.Errorf("Rotate of a never used token in a revoked family: got %v, want ErrRefreshRevoked", err)
	}
}

func testRefreshRevokeFamily(t *testing.T, s jwt.RefreshStore) {
	a, bystander := refreshSample(), refreshSample()
	mustCreate(t, s, a)
	mustCreate(t, s, bystander)
	t1, t2 := a.IssuedAt.Add(time.Minute), a.IssuedAt.Add(2*time.Minute)
	b := mustRotate(t, s, a, t1)
	c := mustRotate(t, s, b, t2)

	at := t2.Add(time.Minute)
	if err := s.RevokeFamily(ctx(t), a.Family, at); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	for i, want := range []struct {
		h       [32]byte
		rotated time.Time
	}{{a.Hash, t1}, {b.Hash, t2}, {c.Hash, time.Time{}}} {
		r := wantStatus(t, s, fmt.Sprint("token ", i), want.h, jwt.RefreshRevoked)
		if !r.RevokedAt.Equal(at) || !r.RotatedAt.Equal(want.rotated) {
			t.Errorf("token %d: RevokedAt %v (want %v), RotatedAt %v (want %v)", i, r.RevokedAt, at, r.RotatedAt, want.rotated)
		}
	}
	wantStatus(t, s, "a token of another family", bystander.Hash, jwt.RefreshActive)

	// Idempotent, and the first revocation time stays.
	if err := s.RevokeFamily(ctx(t), a.Family, at.Add(time.Hour)); err != nil {
		t.Fatalf("second RevokeFamily: %v", err)
	}
	if r := mustGet(t, s, c.Hash); !r.RevokedAt.Equal(at) {
		t.Errorf("a second RevokeFamily moved RevokedAt to %v", r.RevokedAt)
	}
	if err := s.RevokeFamily(ctx(t), name("unknown"), at); err != nil {
		t.Errorf("RevokeFamily of an unknown family: %v", err)
	}

	next := nextOf(c, at)
	if _, err := s.Rotate(ctx(t), c.Hash, next, at); !errors.Is(err, jwt.ErrRefreshRevoked) {
		t.Errorf("Rotate of a revoked token: got %v, want ErrRefreshRevoked", err)
	}
	wantMissing(t, s, "the token offered in exchange for a revoked one", next.Hash)
}

// testRefreshConcurrentRotate races rotations of one token: exactly one
// succeeds, every other one is reuse, and the family ends revoked, the
// winner's new token included.
func testRefreshConcurrentRotate(t *testing.T, s jwt.RefreshStore) {
	const rounds, racers = 10, 16
	for round := 0; round < rounds; round++ {
		a := refreshSample()
		mustCreate(t, s, a)
		at := a.IssuedAt.Add(time.Second)
		nexts := make([]jwt.RefreshRecord, racers)
		errs := make([]error, racers)
		for i := range nexts {
			nexts[i] = nextOf(a, at)
		}
		race(racers, func(i int) {
			_, errs[i] = s.Rotate(ctx(t), a.Hash, nexts[i], at)
		})
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				wantStatus(t, s, "the winner's new token", nexts[i].Hash, jwt.RefreshRevoked)
			case errors.Is(err, jwt.ErrRefreshReuse):
				wantMissing(t, s, "a loser's new token", nexts[i].Hash)
			default:
				t.Fatalf("Rotate: %v", err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d of %d racing rotations of one token succeeded, want exactly 1", round, winners, racers)
		}
		wantStatus(t, s, "the raced token", a.Hash, jwt.RefreshRevoked)
	}
}

// testRefreshRevokeFamilyRacingRotate rotates a family in a loop while it
// is revoked: once RevokeFamily has returned and the loop has stopped, no
// token of the family is active.
func testRefreshRevokeRacingRotate(t *testing.T, s jwt.RefreshStore) {
	for round := 0; round < 10; round++ {
		a := refreshSample()
		mustCreate(t, s, a)
		hashes := [][32]byte{a.Hash}
		revoked := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			cur := a
			for i := 0; ; i++ {
				var after bool // RevokeFamily has returned
				select {
				case <-revoked:
					after = true
				default:
				}
				at := a.IssuedAt.Add(time.Duration(i+1) * time.Millisecond)
				next := nextOf(cur, at)
				hashes = append(hashes, next.Hash)
				if _, err := s.Rotate(ctx(t), cur.Hash, next, at); err != nil {
					if !errors.Is(err, jwt.ErrRefreshRevoked) {
						t.Errorf("Rotate racing RevokeFamily: got %v, want ErrRefreshRevoked", err)
					}
					return
				}
				if after {
					t.Error("Rotate succeeded after RevokeFamily had returned")
					return
				}
				cur = next
			}
		}()
		time.Sleep(time.Duration(round) * 100 * time.Microsecond)
		if err := s.RevokeFamily(ctx(t), a.Family, a.IssuedAt.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		close(revoked)
		<-done
		for i, h := range hashes {
			if r, err := s.Get(ctx(t), h); err == nil && r.Status == jwt.RefreshActive {
				t.Fatalf("round %d: token %d of %d is active after RevokeFamily", round, i, len(hashes))
			} else if err != nil && !errors.Is(err, jwt.ErrNotFound) {
				t.Fatalf("Get: %v", err)
			}
		}
	}
}

func testRefreshCancelled(t *testing.T, s jwt.RefreshStore) {
	a := refreshSample()
	mustCreate(t, s, a)
	c := cancelled()
	fresh := refreshSample()
	next := nextOf(a, a.IssuedAt)
	checks := map[string]error{}
	checks["Create"] = s.Create(c, fresh)
	_, checks["Get"] = s.Get(c, a.Hash)
	_, checks["Rotate"] = s.Rotate(c, a.Hash, next, a.IssuedAt)
	checks["RevokeFamily"] = s.RevokeFamily(c, a.Family, a.IssuedAt)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", op, err)
		}
	}
	wantMissing(t, s, "a record created with a cancelled context", fresh.Hash)
	wantMissing(t, s, "a record rotated in with a cancelled context", next.Hash)
	equalRefresh(t, a, mustGet(t, s, a.Hash))
}

// TestOneTimeStore runs the conformance suite against stores made by
// newStore, which must return an empty store for each call.
func TestOneTimeStore(t *testing.T, newStore func(t *testing.T) jwt.OneTimeStore) {
	t.Helper()
	suite[jwt.OneTimeStore]{
		{"PutConsume", testOneTimePutConsume},
		{"ConsumeMissing", testOneTimeConsumeMissing},
		{"PutDuplicate", testOneTimeDuplicate},
		{"ConcurrentConsume", testOneTimeConcurrent},
		{"ConcurrentConsumeManyTokens", testOneTimeConcurrentMany},
		{"CancelledContext", testOneTimeCancelled},
		{"PerOwnerQuota", testOneTimeQuota},
		{"PerOwnerQuotaExpiry", testOneTimeQuotaExpiry},
		{"PerOwnerQuotaConcurrent", testOneTimeQuotaConcurrent},
	}.run(t, newStore)
}

func oneTimeSample() jwt.OneTimeRecord {
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	return jwt.OneTimeRecord{
		Hash:      randomHash(),
		Purpose:   "checkout:confirm",
		Account:   "acct_1",
		KeyID:     "key0000000000001",
		Subject:   "user_1",
		Mode:      keygate.ModeTest,
		Method:    "POST",
		Path:      "/v1/checkout/confirm",
		EntityID:  "order_42",
		BodyHash:  randomHash(),
		IssuedAt:  t0,
		ExpiresAt: t0.Add(time.Hour),
	}
}

func equalOneTime(t *testing.T, want, got jwt.OneTimeRecord) {
	t.Helper()
	if !want.IssuedAt.Equal(got.IssuedAt) || !want.ExpiresAt.Equal(got.ExpiresAt) {
		t.Errorf("times differ: want %v–%v, got %v–%v", want.IssuedAt, want.ExpiresAt, got.IssuedAt, got.ExpiresAt)
	}
	want.IssuedAt, want.ExpiresAt, got.IssuedAt, got.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if want != got {
		t.Errorf("record differs:\nwant %+v\n got %+v", want, got)
	}
}

func mustPut(t *testing.T, s jwt.OneTimeStore, r jwt.OneTimeRecord) {
	t.Helper()
	if err := s.Put(ctx(t), r, 0); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func testOneTimePutConsume(t *testing.T, s jwt.OneTimeStore) {
	r := oneTimeSample()
	mustPut(t, s, r)
	got, err := s.Consume(ctx(t), r.Hash)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	equalOneTime(t, r, got)
	if _, err := s.Consume(ctx(t), r.Hash); !errors.Is(err, jwt.ErrNotFound) {
		t.Fatalf("second Consume: got %v, want ErrNotFound", err)
	}
	// A record without bindings round-trips too.
	bare := jwt.OneTimeRecord{Hash: randomHash(), Purpose: "p", Account: "a", Mode: keygate.ModeLive,
		IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt}
	mustPut(t, s, bare)
	if got, err := s.Consume(ctx(t), bare.Hash); err != nil {
		t.Fatalf("Consume: %v", err)
	} else {
		equalOneTime(t, bare, got)
	}
}

func testOneTimeConsumeMissing(t *testing.T, s jwt.OneTimeStore) {
	if _, err := s.Consume(ctx(t), randomHash()); !errors.Is(err, jwt.ErrNotFound) {
		t.Fatalf("Consume of an unknown hash: got %v, want ErrNotFound", err)
	}
}

func testOneTimeDuplicate(t *testing.T, s jwt.OneTimeStore) {
	r := oneTimeSample()
	mustPut(t, s, r)
	dup := oneTimeSample()
	dup.Hash = r.Hash
	if err := s.Put(ctx(t), dup, 0); !errors.Is(err, jwt.ErrExists) {
		t.Fatalf("duplicate Put: got %v, want ErrExists", err)
	}
	got, err := s.Consume(ctx(t), r.Hash)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	equalOneTime(t, r, got)
}

// testOneTimeConcurrent races 200 consumers of one token: exactly one gets
// the record.
func testOneTimeConcurrent(t *testing.T, s jwt.OneTimeStore) {
	const rounds, consumers = 5, 200
	for round := 0; round < rounds; round++ {
		r := oneTimeSample()
		mustPut(t, s, r)
		var wins, misses atomic.Int64
		race(consumers, func(int) {
			got, err := s.Consume(ctx(t), r.Hash)
			switch {
			case err == nil:
				wins.Add(1)
				if got.Hash != r.Hash {
					t.Errorf("Consume returned another record")
				}
			case errors.Is(err, jwt.ErrNotFound):
				misses.Add(1)
			default:
				t.Errorf("Consume: %v", err)
			}
		})
		if wins.Load() != 1 || misses.Load() != consumers-1 {
			t.Fatalf("round %d: %d concurrent Consume calls of one token: %d succeeded, %d not found; want 1 and %d",
				round, consumers, wins.Load(), misses.Load(), consumers-1)
		}
		if _, err := s.Consume(ctx(t), r.Hash); !errors.Is(err, jwt.ErrNotFound) {
			t.Fatalf("Consume after the race: got %v, want ErrNotFound", err)
		}
	}
}

// testOneTimeConcurrentMany consumes many tokens, each from several
// goroutines at once: each token is consumed exactly once, and no consumer
// gets another token's record.
func testOneTimeConcurrentMany(t *testing.T, s jwt.OneTimeStore) {
	const tokens, perToken = 50, 8
	recs := make([]jwt.OneTimeRecord, tokens)
	for i := range recs {
		recs[i] = oneTimeSample()
		mustPut(t, s, recs[i])
	}
	var wins [tokens]atomic.Int64
	race(tokens*perToken, func(i int) {
		r := recs[i%tokens]
		got, err := s.Consume(ctx(t), r.Hash)
		switch {
		case err == nil:
			wins[i%tokens].Add(1)
			if got.Hash != r.Hash {
				t.Errorf("Consume returned another record")
			}
		case !errors.Is(err, jwt.ErrNotFound):
			t.Errorf("Consume: %v", err)
		}
	})
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Fatalf("token %d was consumed %d times, want exactly once", i, n)
		}
	}
}

func testOneTimeCancelled(t *testing.T, s jwt.OneTimeStore) {
	r, fresh := oneTimeSample(), oneTimeSample()
	mustPut(t, s, r)
	c := cancelled()
	if err := s.Put(c, fresh, 1000); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := s.Consume(c, r.Hash); !errors.Is(err, context.Canceled) {
		t.Errorf("Consume with a cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := s.Consume(ctx(t), fresh.Hash); !errors.Is(err, jwt.ErrNotFound) {
		t.Errorf("a Put with a cancelled context stored the record: Consume returned %v", err)
	}
	if _, err := s.Consume(ctx(t), r.Hash); err != nil {
		t.Errorf("a Consume with a cancelled context consumed the record: %v", err)
	}
}

// oneTimeOwned is a sample record of account and keyID that expires ttl
// from now.
func oneTimeOwned(account, keyID string, ttl time.Duration) jwt.OneTimeRecord {
	r := oneTimeSample()
	r.Account, r.KeyID, r.ExpiresAt = account, keyID, r.IssuedAt.Add(ttl)
	return r
}

// wantQuota checks that a bounded Put is refused with ErrOneTimeQuota and
// stores nothing.
func wantQuota(t *testing.T, s jwt.OneTimeStore, r jwt.OneTimeRecord, max int, why string) {
	t.Helper()
	if err := s.Put(ctx(t), r, max); !errors.Is(err, jwt.ErrOneTimeQuota) {
		t.Fatalf("%s: Put got %v, want ErrOneTimeQuota", why, err)
	}
	if _, err := s.Consume(ctx(t), r.Hash); !errors.Is(err, jwt.ErrNotFound) {
		t.Fatalf("%s: the refused record was stored (Consume: %v)", why, err)
	}
}

func mustPutMax(t *testing.T, s jwt.OneTimeStore, r jwt.OneTimeRecord, max int, why string) {
	t.Helper()
	if err := s.Put(ctx(t), r, max); err != nil {
		t.Fatalf("%s: Put: %v", why, err)
	}
}

// testOneTimeQuota: an owner (account and key ID) at max is refused while
// other owners, another key ID of the same account included, still store;
// a consumed record frees its place.
func testOneTimeQuota(t *testing.T, s jwt.OneTimeStore) {
	const max = 3
	a, b := name("acct_"), name("acct_")
	held := make([]jwt.OneTimeRecord, max)
	for i := range held {
		held[i] = oneTimeOwned(a, "key_1", time.Hour)
		mustPutMax(t, s, held[i], max, "a record within the quota")
	}
	wantQuota(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "one record over the quota")
	mustPutMax(t, s, oneTimeOwned(a, "key_2", time.Hour), max, "another key ID of the account")
	mustPutMax(t, s, oneTimeOwned(b, "key_1", time.Hour), max, "another account with the same key ID")
	mustPutMax(t, s, oneTimeOwned(a, "", time.Hour), max, "the account without a key ID")
	if _, err := s.Consume(ctx(t), held[0].Hash); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	mustPutMax(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "a record after one was consumed")
	wantQuota(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "over the quota again")
	for _, r := range held[1:] {
		if _, err := s.Consume(ctx(t), r.Hash); err != nil {
			t.Fatalf("a record within the quota was lost: %v", err)
		}
	}
}

// testOneTimeQuotaExpiry: records that have expired no longer count.
func testOneTimeQuotaExpiry(t *testing.T, s jwt.OneTimeStore) {
	const max, ttl = 2, 150 * time.Millisecond
	a := name("acct_")
	short := oneTimeOwned(a, "key_1", ttl)
	mustPutMax(t, s, short, max, "a short record")
	mustPutMax(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "a long record")
	wantQuota(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "over the quota")
	time.Sleep(time.Until(short.ExpiresAt.Add(200 * time.Millisecond)))
	mustPutMax(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "a record once the short one expired")
	wantQuota(t, s, oneTimeOwned(a, "key_1", time.Hour), max, "over the quota again")
}

// testOneTimeQuotaConcurrent races many bounded Puts of one owner, and of
// a second owner: exactly max of the first succeed, all of the second.
func testOneTimeQuotaConcurrent(t *testing.T, s jwt.OneTimeStore) {
	const max, puts = 10, 40
	a, b := name("acct_"), name("acct_")
	var won, refused, other atomic.Int64
	race(puts, func(i int) {
		err := s.Put(ctx(t), oneTimeOwned(a, "key_1", time.Hour), max)
		switch {
		case err == nil:
			won.Add(1)
		case errors.Is(err, jwt.ErrOneTimeQuota):
			refused.Add(1)
		default:
			t.Errorf("Put: %v", err)
		}
		if i%4 == 0 {
			if err := s.Put(ctx(t), oneTimeOwned(b, "key_1", time.Hour), max); err != nil {
				t.Errorf("Put of another owner: %v", err)
			} else {
				other.Add(1)
			}
		}
	})
	if won.Load() != max || refused.Load() != puts-max || other.Load() != puts/4 {
		t.Fatalf("%d concurrent Puts with max %d: %d stored, %d refused, %d of another owner stored; want %d, %d, %d",
			puts, max, won.Load(), refused.Load(), other.Load(), max, puts-max, puts/4)
	}
}

// testRefreshOpenFamilies: OpenFamilies lists the families of one client
// and subject that hold an active token, oldest first, whatever their
// rotations; revoked, idle and ended families, and other owners', are not
// listed.
func testRefreshOpenFamilies(t *testing.T, s jwt.RefreshStore) {
	client, subject := name("client"), name("user")
	at := refreshSample().IssuedAt
	fam := func(absolute time.Duration, mut func(*jwt.RefreshRecord)) jwt.RefreshRecord {
		r := refreshSample()
		r.ClientID, r.Subject = client, subject
		r.AbsoluteExpiresAt = at.Add(absolute)
		if mut != nil {
			mut(&r)
		}
		mustCreate(t, s, r)
		return r
	}
	newest := fam(30*time.Hour, nil)
	oldest := fam(10*time.Hour, nil)
	rotated := fam(20*time.Hour, nil)
	mustRotate(t, s, rotated, at.Add(time.Minute))
	revoked := fam(15*time.Hour, nil)
	if err := s.RevokeFamily(ctx(t), revoked.Family, at); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	fam(16*time.Hour, func(r *jwt.RefreshRecord) { r.IdleExpiresAt = at.Add(-time.Second) })
	fam(17*time.Hour, func(r *jwt.RefreshRecord) { r.Subject = name("user") })
	fam(18*time.Hour, func(r *jwt.RefreshRecord) { r.ClientID = name("client") })
	// Two families that end at once are ordered by their IDs.
	tieA := fam(25*time.Hour, func(r *jwt.RefreshRecord) { r.Family = "A" + name("fam") })
	tieB := fam(25*time.Hour, func(r *jwt.RefreshRecord) { r.Family = "B" + name("fam") })

	got, err := s.OpenFamilies(ctx(t), client, subject, at)
	if err != nil {
		t.Fatalf("OpenFamilies: %v", err)
	}
	want := []string{oldest.Family, rotated.Family, tieA.Family, tieB.Family, newest.Family}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("OpenFamilies:\n got %v\nwant %v", got, want)
	}
	// Later, the oldest family has ended.
	got, err = s.OpenFamilies(ctx(t), client, subject, at.Add(10*time.Hour))
	if err != nil {
		t.Fatalf("OpenFamilies: %v", err)
	}
	if len(got) != 0 {
		// Every idle deadline (an hour after issue) has passed too.
		t.Fatalf("OpenFamilies ten hours later: %v, want none", got)
	}
	if got, err := s.OpenFamilies(ctx(t), name("client"), subject, at); err != nil || len(got) != 0 {
		t.Fatalf("OpenFamilies of an unknown client: %v, %v", got, err)
	}
	if _, err := s.OpenFamilies(cancelled(), client, subject, at); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenFamilies with a cancelled context: %v, want context.Canceled", err)
	}
}
