// Package passwordusertest is the conformance suite for
// [passworduser.Store] implementations. Every backend runs it:
//
//	func TestUserStore(t *testing.T) {
//		passwordusertest.TestStore(t, func(t *testing.T) passworduser.Store { return newMyStore(t) })
//	}
package passwordusertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/passworduser"
)

// TestUserStore runs the conformance suite of [passworduser.Store] against
// stores made by newStore, which must return an empty store for each call:
// a Put then Get round trip, Put replacing a user, unknown names, names
// compared exactly (case, spaces, Unicode forms), racing Puts of one name
// leaving exactly one of the written records (never a mix of several),
// users isolated from one another, and cancelled contexts.
func TestStore(t *testing.T, newStore func(t *testing.T) passworduser.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, passworduser.Store)
	}{
		{"put and get", testUserPutGet},
		{"replace", testUserReplace},
		{"unknown name", testUserUnknown},
		{"exact names", testUserExactNames},
		{"racing puts", testUserRace},
		{"isolation", testUserIsolation},
		{"cancelled context", testUserCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// testCtx returns a context that ends with the test, or after 30 seconds.
func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// record returns a user record for name whose hash, subject and account
// all carry tag, so that a record mixed from two Puts is told apart. The
// hash has the shape of an Argon2id PHC string.
func record(name, tag string) passworduser.Record {
	return passworduser.Record{
		Username:     name,
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdC0" + tag + "$aGFzaC0" + tag,
		Subject:      "user-" + tag,
		Account:      "acct_" + tag,
	}
}

// mustPut stores u or ends the test.
func mustPut(ctx context.Context, t *testing.T, s passworduser.Store, u passworduser.Record) {
	t.Helper()
	if err := s.Put(ctx, u); err != nil {
		t.Fatalf("Put(%q): %v", u.Username, err)
	}
}

// wantUser checks that s holds want under want.Username.
func wantUser(ctx context.Context, t *testing.T, s passworduser.Store, want passworduser.Record) {
	t.Helper()
	got, err := s.Get(ctx, want.Username)
	if err != nil {
		t.Fatalf("Get(%q): %v", want.Username, err)
	}
	if got != want {
		t.Fatalf("Get(%q) = %+v, want %+v", want.Username, got, want)
	}
}

// wantUnknown checks that s holds no user named name.
func wantUnknown(ctx context.Context, t *testing.T, s passworduser.Store, name string) {
	t.Helper()
	got, err := s.Get(ctx, name)
	if !errors.Is(err, passworduser.ErrNotFound) {
		t.Fatalf("Get(%q) = %+v, %v; want ErrNotFound", name, got, err)
	}
	if got != (passworduser.Record{}) {
		t.Fatalf("Get(%q) failed with ErrNotFound but returned %+v", name, got)
	}
}

func testUserPutGet(t *testing.T, s passworduser.Store) {
	ctx := testCtx(t)
	users := []passworduser.Record{
		record("alice", "a"),
		record("bob@example.com", "b"),
		record("zoë", "z"),
		record("用户", "u"),
		record(strings.Repeat("long", 64), "l"),
	}
	for _, u := range users {
		mustPut(ctx, t, s, u)
	}
	for _, u := range users {
		wantUser(ctx, t, s, u)
	}
	// A record is stored as it is given, empty fields included.
	empty := passworduser.Record{Username: "empty"}
	mustPut(ctx, t, s, empty)
	wantUser(ctx, t, s, empty)
}

func testUserReplace(t *testing.T, s passworduser.Store) {
	ctx := testCtx(t)
	mustPut(ctx, t, s, record("alice", "old"))
	mustPut(ctx, t, s, record("bob", "bob"))
	// Every field changes: the new password, subject and account.
	mustPut(ctx, t, s, record("alice", "new"))
	wantUser(ctx, t, s, record("alice", "new"))
	wantUser(ctx, t, s, record("bob", "bob"))
	// And back: a replaced record can be replaced again.
	mustPut(ctx, t, s, record("alice", "old"))
	wantUser(ctx, t, s, record("alice", "old"))
}

func testUserUnknown(t *testing.T, s passworduser.Store) {
	ctx := testCtx(t)
	wantUnknown(ctx, t, s, "alice")
	wantUnknown(ctx, t, s, "")
	mustPut(ctx, t, s, record("alice", "a"))
	for _, name := range []string{"bob", "", "alic", "alice2", "%", "_lice", "alice' OR '1'='1"} {
		wantUnknown(ctx, t, s, name)
	}
	wantUser(ctx, t, s, record("alice", "a"))
}

func testUserExactNames(t *testing.T, s passworduser.Store) {
	ctx := testCtx(t)
	mustPut(ctx, t, s, record("alice", "a"))
	// Names that a case-insensitive, space-trimming or normalizing
	// comparison would take for another are other users.
	variants := []string{
		"Alice", "ALICE", "alice ", " alice", "alice\t", "alice\u00a0",
		"zoë", "zoe\u0308", "straße", "strasse", "STRASSE",
	}
	for _, name := range variants {
		wantUnknown(ctx, t, s, name)
	}
	for i, name := range variants {
		mustPut(ctx, t, s, record(name, fmt.Sprint(i)))
	}
	wantUser(ctx, t, s, record("alice", "a"))
	for i, name := range variants {
		wantUser(ctx, t, s, record(name, fmt.Sprint(i)))
	}
}

func testUserRace(t *testing.T, s passworduser.Store) {
	ctx := testCtx(t)
	const writers, rounds = 8, 4
	mustPut(ctx, t, s, record("alice", "initial"))
	valid := map[passworduser.Record]bool{record("alice", "initial"): true}
	for r := range rounds {
		for i := range writers {
			valid[record("alice", fmt.Sprintf("r%dw%d", r, i))] = true
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*rounds)
	for r := range rounds {
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-start
				if err := s.Put(ctx, record("alice", fmt.Sprintf("r%dw%d", r, i))); err != nil {
					errs <- fmt.Errorf("racing Put: %w", err)
				}
			})
			// Readers racing the writers see one whole record.
			wg.Go(func() {
				<-start
				got, err := s.Get(ctx, "alice")
				switch {
				case err != nil:
					errs <- fmt.Errorf("racing Get: %w", err)
				case !valid[got]:
					errs <- fmt.Errorf("racing Get read %+v, which no Put wrote", got)
				}
			})
		}
		close(start)
		wg.Wait()
		got, err := s.Get(ctx, "alice")
		if err != nil {
			t.Fatalf("Get after round %d: %v", r, err)
		}
		written := false
		for i := range writers {
			written = written || got == record("alice", fmt.Sprintf("r%dw%d", r, i))
		}
		if !written {
			t.Fatalf("after round %d of racing Puts: %+v, want one of that round's records whole", r, got)
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testUserIsolation(t *testing.T, s passworduser.Store) {
	ctx := testCtx(t)
	// Names that prefix or extend one another.
	names := []string{"al", "alice", "alice2", "alice.smith", "bob"}
	for i, name := range names {
		mustPut(ctx, t, s, record(name, fmt.Sprint(i)))
	}
	mustPut(ctx, t, s, record("alice", "replaced"))
	for i, name := range names {
		want := record(name, fmt.Sprint(i))
		if name == "alice" {
			want = record(name, "replaced")
		}
		wantUser(ctx, t, s, want)
	}
}

func testUserCancelled(t *testing.T, s passworduser.Store) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	u := record("alice", "a")
	err := s.Put(cancelled, u)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), u.PasswordHash) {
		t.Errorf("the error of Put carries the password hash: %v", err)
	}
	ctx := testCtx(t)
	wantUnknown(ctx, t, s, "alice")

	mustPut(ctx, t, s, u)
	got, err := s.Get(cancelled, "alice")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %+v, %v; want context.Canceled", got, err)
	}
	if got != (passworduser.Record{}) {
		t.Fatalf("Get with a cancelled context failed but returned %+v", got)
	}
	wantUser(ctx, t, s, u)
}
