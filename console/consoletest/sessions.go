package consoletest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/console/consolestore"
)

// TestSessionStore runs the conformance suite of [consolestore.SessionStore]
// against stores made by newStore, which must return an empty store for
// each call: Create then Get round trips (times to the nanosecond), a
// taken ID hash refused, unknown hashes, Touch moving LastSeen only
// forward (also when racing), Delete, DeleteUser removing exactly one
// user's sessions, DeleteExpired's bounds (strictly before each cut-off)
// and count, and cancelled contexts.
func TestSessionStore(t *testing.T, newStore func(t *testing.T) consolestore.SessionStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, consolestore.SessionStore)
	}{
		{"create and get", testSessionCreateGet},
		{"taken hash", testSessionTaken},
		{"unknown hash", testSessionUnknown},
		{"touch", testSessionTouch},
		{"racing touches", testSessionTouchRace},
		{"delete", testSessionDelete},
		{"delete user", testSessionDeleteUser},
		{"delete expired", testSessionDeleteExpired},
		{"cancelled context", testSessionCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// idHash returns the ID hash named by tag, as console.Sessions makes them.
func idHash(tag string) []byte {
	h := sha256.Sum256([]byte(tag))
	return h[:]
}

// session returns a session of user created at base+created and last seen
// at base+seen.
func session(user string, created, seen time.Duration) consolestore.Session {
	return consolestore.Session{Username: user, Created: base.Add(created), LastSeen: base.Add(seen)}
}

func sameSession(a, b consolestore.Session) bool {
	return a.Username == b.Username && a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen)
}

func mustCreate(ctx context.Context, t *testing.T, s consolestore.SessionStore, h []byte, sess consolestore.Session) {
	t.Helper()
	if err := s.Create(ctx, h, sess); err != nil {
		t.Fatalf("Create(%x): %v", h, err)
	}
}

func wantSession(ctx context.Context, t *testing.T, s consolestore.SessionStore, h []byte, want consolestore.Session) {
	t.Helper()
	got, err := s.Get(ctx, h)
	if err != nil {
		t.Fatalf("Get(%x): %v", h, err)
	}
	if !sameSession(got, want) {
		t.Fatalf("Get(%x) = %+v, want %+v", h, got, want)
	}
}

func wantNoSession(ctx context.Context, t *testing.T, s consolestore.SessionStore, h []byte) {
	t.Helper()
	got, err := s.Get(ctx, h)
	if !errors.Is(err, consolestore.ErrNoSession) {
		t.Fatalf("Get(%x) = %+v, %v; want ErrNoSession", h, got, err)
	}
	if !sameSession(got, consolestore.Session{}) {
		t.Fatalf("Get(%x) failed with ErrNoSession but returned %+v", h, got)
	}
}

func testSessionCreateGet(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	sessions := map[string]consolestore.Session{
		"a": session("alice", 0, 0),
		"b": session("alice", time.Nanosecond, time.Minute+time.Nanosecond),
		"c": session("用户", -time.Hour, 0),
		"d": {Username: "bob", Created: base.In(time.FixedZone("UTC-7", -7*3600)), LastSeen: base.Add(time.Hour).Local()},
	}
	for tag, sess := range sessions {
		mustCreate(ctx, t, s, idHash(tag), sess)
	}
	for tag, sess := range sessions {
		wantSession(ctx, t, s, idHash(tag), sess)
	}
	// The hash the store is given is the whole key: no prefix or
	// extension of it names the session.
	h := idHash("a")
	wantNoSession(ctx, t, s, h[:16])
	wantNoSession(ctx, t, s, append(append([]byte(nil), h...), 0))
}

func testSessionTaken(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	mustCreate(ctx, t, s, idHash("a"), session("alice", 0, 0))
	if err := s.Create(ctx, idHash("a"), session("mallory", time.Hour, time.Hour)); err == nil {
		t.Fatal("Create of a taken ID hash succeeded")
	}
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 0))
}

func testSessionUnknown(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	wantNoSession(ctx, t, s, idHash("a"))
	wantNoSession(ctx, t, s, nil)
	mustCreate(ctx, t, s, idHash("a"), session("alice", 0, 0))
	wantNoSession(ctx, t, s, idHash("b"))
	if err := s.Touch(ctx, idHash("b"), base.Add(time.Hour)); !errors.Is(err, consolestore.ErrNoSession) {
		t.Fatalf("Touch of an unknown hash: %v, want ErrNoSession", err)
	}
	wantNoSession(ctx, t, s, idHash("b"))
	if err := s.Delete(ctx, idHash("b")); err != nil {
		t.Fatalf("Delete of an unknown hash: %v", err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatalf("DeleteUser of a user without sessions: %v", err)
	}
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 0))
}

func testSessionTouch(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	mustCreate(ctx, t, s, idHash("a"), session("alice", 0, time.Minute))
	mustCreate(ctx, t, s, idHash("b"), session("alice", 0, time.Minute))
	touch := func(seen time.Duration) {
		t.Helper()
		if err := s.Touch(ctx, idHash("a"), base.Add(seen)); err != nil {
			t.Fatalf("Touch: %v", err)
		}
	}
	touch(2*time.Minute + time.Nanosecond)
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 2*time.Minute+time.Nanosecond))
	touch(time.Minute) // earlier: no change
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 2*time.Minute+time.Nanosecond))
	touch(2*time.Minute + time.Nanosecond) // the same: no change, no error
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 2*time.Minute+time.Nanosecond))
	touch(3 * time.Minute)
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 3*time.Minute))
	// The other session is untouched.
	wantSession(ctx, t, s, idHash("b"), session("alice", 0, time.Minute))
}

func testSessionTouchRace(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	mustCreate(ctx, t, s, idHash("a"), session("alice", 0, 0))
	const touchers = 16
	var wg sync.WaitGroup
	errs := make(chan error, touchers)
	start := make(chan struct{})
	for i := range touchers {
		wg.Go(func() {
			<-start
			if err := s.Touch(ctx, idHash("a"), base.Add(time.Duration(i+1)*time.Second)); err != nil {
				errs <- fmt.Errorf("racing Touch: %w", err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The latest touch wins, in whatever order they ran.
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, touchers*time.Second))
}

func testSessionDelete(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	mustCreate(ctx, t, s, idHash("a"), session("alice", 0, 0))
	mustCreate(ctx, t, s, idHash("b"), session("alice", 0, 0))
	if err := s.Delete(ctx, idHash("a")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNoSession(ctx, t, s, idHash("a"))
	wantSession(ctx, t, s, idHash("b"), session("alice", 0, 0))
	if err := s.Touch(ctx, idHash("a"), base.Add(time.Hour)); !errors.Is(err, consolestore.ErrNoSession) {
		t.Fatalf("Touch of a deleted session: %v, want ErrNoSession", err)
	}
	wantNoSession(ctx, t, s, idHash("a"))
	if err := s.Delete(ctx, idHash("a")); err != nil {
		t.Fatalf("Delete again: %v", err)
	}
	// A deleted hash may be created again.
	mustCreate(ctx, t, s, idHash("a"), session("bob", time.Hour, time.Hour))
	wantSession(ctx, t, s, idHash("a"), session("bob", time.Hour, time.Hour))
}

func testSessionDeleteUser(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	users := map[string]string{"a1": "alice", "a2": "alice", "a3": "alice", "b": "bob", "A": "Alice", "s": "alice ", "p": "al"}
	for tag, user := range users {
		mustCreate(ctx, t, s, idHash(tag), session(user, 0, 0))
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for tag, user := range users {
		if user == "alice" {
			wantNoSession(ctx, t, s, idHash(tag))
		} else {
			wantSession(ctx, t, s, idHash(tag), session(user, 0, 0))
		}
	}
}

func testSessionDeleteExpired(t *testing.T, s consolestore.SessionStore) {
	ctx := testCtx(t)
	idle, created := base.Add(time.Hour), base
	kept := map[string]consolestore.Session{
		"at both cut-offs": {Username: "u", Created: created, LastSeen: idle},
		"after both":       {Username: "u", Created: created.Add(time.Nanosecond), LastSeen: idle.Add(time.Hour)},
	}
	gone := map[string]consolestore.Session{
		"idle by 1ns":    {Username: "u", Created: created, LastSeen: idle.Add(-time.Nanosecond)},
		"old by 1ns":     {Username: "u", Created: created.Add(-time.Nanosecond), LastSeen: idle.Add(time.Hour)},
		"both":           {Username: "v", Created: created.Add(-time.Hour), LastSeen: idle.Add(-time.Hour)},
		"zero last seen": {Username: "v", Created: created.Add(time.Minute)},
	}
	for tag, sess := range kept {
		mustCreate(ctx, t, s, idHash(tag), sess)
	}
	for tag, sess := range gone {
		mustCreate(ctx, t, s, idHash(tag), sess)
	}
	n, err := s.DeleteExpired(ctx, idle, created)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != len(gone) {
		t.Errorf("DeleteExpired removed %d sessions, want %d", n, len(gone))
	}
	for tag, sess := range kept {
		wantSession(ctx, t, s, idHash(tag), sess)
	}
	for tag := range gone {
		wantNoSession(ctx, t, s, idHash(tag))
	}
	if n, err := s.DeleteExpired(ctx, idle, created); err != nil || n != 0 {
		t.Fatalf("DeleteExpired again = %d, %v; want 0", n, err)
	}
}

func testSessionCancelled(t *testing.T, s consolestore.SessionStore) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := testCtx(t)
	if err := s.Create(cancelled, idHash("a"), session("alice", 0, 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a cancelled context: %v, want context.Canceled", err)
	}
	wantNoSession(ctx, t, s, idHash("a"))
	mustCreate(ctx, t, s, idHash("a"), session("alice", 0, 0))
	if got, err := s.Get(cancelled, idHash("a")); !errors.Is(err, context.Canceled) || !sameSession(got, consolestore.Session{}) {
		t.Fatalf("Get with a cancelled context: %+v, %v; want context.Canceled", got, err)
	}
	if err := s.Touch(cancelled, idHash("a"), base.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Touch with a cancelled context: %v, want context.Canceled", err)
	}
	for name, del := range map[string]func() error{
		"Delete":     func() error { return s.Delete(cancelled, idHash("a")) },
		"DeleteUser": func() error { return s.DeleteUser(cancelled, "alice") },
		"DeleteExpired": func() error {
			_, err := s.DeleteExpired(cancelled, base.Add(time.Hour), base.Add(time.Hour))
			return err
		},
	} {
		if err := del(); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	wantSession(ctx, t, s, idHash("a"), session("alice", 0, 0))
}
