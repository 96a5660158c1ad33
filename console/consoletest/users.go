// Package consoletest is the conformance suite for the stores of the
// admin console: [consolestore.UserStore] and [consolestore.SessionStore].
// Every backend runs it:
//
//	func TestUserStore(t *testing.T) {
//		consoletest.TestUserStore(t, func(t *testing.T) consolestore.UserStore { return newMyUserStore(t) })
//	}
//	func TestSessionStore(t *testing.T) {
//		consoletest.TestSessionStore(t, func(t *testing.T) consolestore.SessionStore { return newMySessionStore(t) })
//	}
package consoletest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/console/consolestore"
)

// TestUserStore runs the conformance suite of [consolestore.UserStore] against
// stores made by newStore, which must return an empty store for each call:
// a Put then Get round trip of every field (times to the nanosecond, nil
// and non-nil permissions), Put replacing a user, unknown names, names
// compared exactly, List in name order, racing Puts of one name leaving
// exactly one written record whole, records isolated from the caller's
// slices, and cancelled contexts. No error may carry a password hash.
func TestUserStore(t *testing.T, newStore func(t *testing.T) consolestore.UserStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, consolestore.UserStore)
	}{
		{"put and get", testUserPutGet},
		{"replace", testUserReplace},
		{"unknown name", testUserUnknown},
		{"exact names", testUserExactNames},
		{"list", testUserList},
		{"racing puts", testUserRace},
		{"caller's slices", testUserSlices},
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

// base is a fixed time with nanoseconds, in UTC, as stores return times.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// operator returns an operator record for name whose fields all carry
// tag, so that a record mixed from two Puts is told apart.
func operator(name, tag string) consolestore.UserRecord {
	return consolestore.UserRecord{
		User: consolestore.User{Username: name, Role: consolestore.RoleOperator, Permissions: []string{"admin:read", "admin:" + tag},
			Created: base, Updated: base.Add(time.Duration(len(tag)) * time.Nanosecond)},
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdC0" + tag + "$aGFzaC0" + tag,
	}
}

// owner returns an owner record for name of account acct_<tag>.
func owner(name, tag string) consolestore.UserRecord {
	return consolestore.UserRecord{
		User: consolestore.User{Username: name, Role: consolestore.RoleOwner, Account: "acct_" + tag, Disabled: true,
			Created: base.Add(-time.Hour), Updated: base.Add(time.Second + 1)},
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$b3duZXI" + tag + "$aGFzaC0" + tag,
	}
}

// sameUser reports whether a and b are the same user: times equal as
// instants, permissions equal and both nil or both not.
func sameUser(a, b consolestore.User) bool {
	return a.Username == b.Username && a.Role == b.Role && a.Account == b.Account && a.Disabled == b.Disabled &&
		(a.Permissions == nil) == (b.Permissions == nil) && slices.Equal(a.Permissions, b.Permissions) &&
		a.Created.Equal(b.Created) && a.Updated.Equal(b.Updated)
}

func sameRecord(a, b consolestore.UserRecord) bool {
	return a.PasswordHash == b.PasswordHash && sameUser(a.User, b.User)
}

// mustPut stores u or ends the test.
func mustPut(ctx context.Context, t *testing.T, s consolestore.UserStore, u consolestore.UserRecord) {
	t.Helper()
	if err := s.Put(ctx, u); err != nil {
		t.Fatalf("Put(%q): %v", u.Username, err)
	}
}

// wantUser checks that s holds want under want.Username.
func wantUser(ctx context.Context, t *testing.T, s consolestore.UserStore, want consolestore.UserRecord) {
	t.Helper()
	got, err := s.Get(ctx, want.Username)
	if err != nil {
		t.Fatalf("Get(%q): %v", want.Username, err)
	}
	if !sameRecord(got, want) {
		t.Fatalf("Get(%q) = %+v, want %+v", want.Username, got, want)
	}
}

// wantUnknown checks that s holds no user named name.
func wantUnknown(ctx context.Context, t *testing.T, s consolestore.UserStore, name string) {
	t.Helper()
	got, err := s.Get(ctx, name)
	if !errors.Is(err, consolestore.ErrUnknownUser) {
		t.Fatalf("Get(%q) = %+v, %v; want ErrUnknownUser", name, got, err)
	}
	if !sameRecord(got, consolestore.UserRecord{}) {
		t.Fatalf("Get(%q) failed with ErrUnknownUser but returned %+v", name, got)
	}
}

func testUserPutGet(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	users := []consolestore.UserRecord{
		operator("alice", "a"),
		owner("bob@example.com", "b"),
		operator("zoë", "z"),
		owner("用户", "u"),
		operator(strings.Repeat("long", 16), "l"),
		{User: consolestore.User{Username: "zero times", Role: consolestore.RoleOperator, Permissions: []string{"*:*"}}, PasswordHash: "h"},
	}
	for _, u := range users {
		mustPut(ctx, t, s, u)
	}
	for _, u := range users {
		wantUser(ctx, t, s, u)
	}
	// Times come back as the same instants, whatever their location.
	loc := operator("local", "t")
	loc.Created = base.In(time.FixedZone("UTC+5:30", 5*3600+1800))
	mustPut(ctx, t, s, loc)
	wantUser(ctx, t, s, loc)
}

func testUserReplace(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	mustPut(ctx, t, s, operator("alice", "old"))
	mustPut(ctx, t, s, owner("bob", "bob"))
	// Every field changes: role, account, permissions, disabled, times, hash.
	mustPut(ctx, t, s, owner("alice", "new"))
	wantUser(ctx, t, s, owner("alice", "new"))
	wantUser(ctx, t, s, owner("bob", "bob"))
	// And back.
	mustPut(ctx, t, s, operator("alice", "old"))
	wantUser(ctx, t, s, operator("alice", "old"))
}

func testUserUnknown(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	wantUnknown(ctx, t, s, "alice")
	wantUnknown(ctx, t, s, "")
	mustPut(ctx, t, s, operator("alice", "a"))
	for _, name := range []string{"bob", "", "alic", "alice2", "%", "_lice", "alice' OR '1'='1"} {
		wantUnknown(ctx, t, s, name)
	}
	// The error names neither the name looked up (which may be a password
	// typed into the wrong field) nor a hash.
	_, err := s.Get(ctx, "typed-my-password-here")
	if err == nil || strings.Contains(err.Error(), "typed-my-password-here") {
		t.Fatalf("Get of an unknown name: %v", err)
	}
	wantUser(ctx, t, s, operator("alice", "a"))
}

func testUserExactNames(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	mustPut(ctx, t, s, operator("alice", "a"))
	variants := []string{"Alice", "ALICE", "alice ", " alice", "alice\u00a0", "zoë", "zoe\u0308", "straße", "strasse"}
	for _, name := range variants {
		wantUnknown(ctx, t, s, name)
	}
	for i, name := range variants {
		mustPut(ctx, t, s, owner(name, fmt.Sprint(i)))
	}
	wantUser(ctx, t, s, operator("alice", "a"))
	for i, name := range variants {
		wantUser(ctx, t, s, owner(name, fmt.Sprint(i)))
	}
}

func testUserList(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	got, err := s.List(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("List of an empty store = %+v, %v", got, err)
	}
	// Byte order: upper case before lower case, ASCII before the rest.
	records := []consolestore.UserRecord{operator("bob", "b"), owner("alice", "a"), operator("Zed", "z"), owner("émile", "e"), operator("al", "x")}
	for _, u := range records {
		mustPut(ctx, t, s, u)
	}
	mustPut(ctx, t, s, owner("bob", "replaced"))
	want := []consolestore.User{operator("Zed", "z").User, operator("al", "x").User, owner("alice", "a").User, owner("bob", "replaced").User, owner("émile", "e").User}
	got, err = s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
	for i := range want {
		if !sameUser(got[i], want[i]) {
			t.Fatalf("List[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testUserRace(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	const writers = 8
	record := func(i int) consolestore.UserRecord {
		if i%2 == 0 {
			return operator("alice", fmt.Sprintf("w%d", i))
		}
		return owner("alice", fmt.Sprintf("w%d", i))
	}
	mustPut(ctx, t, s, operator("alice", "initial"))
	valid := func(u consolestore.UserRecord) bool {
		if sameRecord(u, operator("alice", "initial")) {
			return true
		}
		for i := range writers {
			if sameRecord(u, record(i)) {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			if err := s.Put(ctx, record(i)); err != nil {
				errs <- fmt.Errorf("racing Put: %w", err)
			}
		})
		wg.Go(func() {
			<-start
			got, err := s.Get(ctx, "alice")
			switch {
			case err != nil:
				errs <- fmt.Errorf("racing Get: %w", err)
			case !valid(got):
				errs <- fmt.Errorf("racing Get read %+v, which no Put wrote", got)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !valid(got) || sameRecord(got, operator("alice", "initial")) {
		t.Fatalf("after racing Puts: %+v, want one of the written records whole", got)
	}
}

func testUserSlices(t *testing.T, s consolestore.UserStore) {
	ctx := testCtx(t)
	u := operator("alice", "a")
	mustPut(ctx, t, s, u)
	u.Permissions[0] = "changed:after-put"
	wantUser(ctx, t, s, operator("alice", "a"))
	got, err := s.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	got.Permissions[0] = "changed:after-get"
	wantUser(ctx, t, s, operator("alice", "a"))
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	list[0].Permissions[0] = "changed:after-list"
	wantUser(ctx, t, s, operator("alice", "a"))
}

func testUserCancelled(t *testing.T, s consolestore.UserStore) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	u := operator("alice", "a")
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
	if !sameRecord(got, consolestore.UserRecord{}) {
		t.Fatalf("Get with a cancelled context failed but returned %+v", got)
	}
	if list, err := s.List(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a cancelled context: %+v, %v; want context.Canceled", list, err)
	}
	wantUser(ctx, t, s, u)
}
