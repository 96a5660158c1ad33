package console_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/password"
)

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

// clock is a settable clock for tests without synctest.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newUsers(t *testing.T, cfg console.UsersConfig) *console.Users {
	t.Helper()
	if cfg.Params == (password.Params{}) {
		cfg.Params = cheap
	}
	u, err := console.NewUsers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var (
	opAlice  = consolestore.User{Username: "alice", Role: consolestore.RoleOperator, Permissions: []string{"admin:read", "admin:write"}}
	ownerBob = consolestore.User{Username: "bob", Role: consolestore.RoleOwner, Account: "acct_demo"}
)

func TestUsersAddValidates(t *testing.T) {
	users := newUsers(t, console.UsersConfig{})
	ctx := t.Context()
	with := func(u consolestore.User, f func(*consolestore.User)) consolestore.User { f(&u); return u }
	for name, tc := range map[string]struct {
		u     consolestore.User
		pw    string
		field string
	}{
		"empty name":           {with(opAlice, func(u *consolestore.User) { u.Username = "" }), "pw", "username"},
		"name with a space":    {with(opAlice, func(u *consolestore.User) { u.Username = "al ice" }), "pw", "username"},
		"name with a tab":      {with(opAlice, func(u *consolestore.User) { u.Username = "alice\t" }), "pw", "username"},
		"name with NBSP":       {with(opAlice, func(u *consolestore.User) { u.Username = "al\u00a0ice" }), "pw", "username"},
		"name with a control":  {with(opAlice, func(u *consolestore.User) { u.Username = "al\x00ice" }), "pw", "username"},
		"name not UTF-8":       {with(opAlice, func(u *consolestore.User) { u.Username = "al\xffice" }), "pw", "username"},
		"name of 65":           {with(opAlice, func(u *consolestore.User) { u.Username = strings.Repeat("a", 65) }), "pw", "username"},
		"no role":              {with(opAlice, func(u *consolestore.User) { u.Role = "" }), "pw", "role"},
		"unknown role":         {with(opAlice, func(u *consolestore.User) { u.Role = "admin" }), "pw", "role"},
		"operator account":     {with(opAlice, func(u *consolestore.User) { u.Account = "acct_1" }), "pw", "account"},
		"operator no perms":    {with(opAlice, func(u *consolestore.User) { u.Permissions = nil }), "pw", "permissions"},
		"operator bad perm":    {with(opAlice, func(u *consolestore.User) { u.Permissions = []string{"admin:read", "nonsense"} }), "pw", "permissions"},
		"operator empty perm":  {with(opAlice, func(u *consolestore.User) { u.Permissions = []string{""} }), "pw", "permissions"},
		"owner without acct":   {with(ownerBob, func(u *consolestore.User) { u.Account = "" }), "pw", "account"},
		"owner with perms":     {with(ownerBob, func(u *consolestore.User) { u.Permissions = []string{"admin:read"} }), "pw", "permissions"},
		"empty password":       {opAlice, "", "password"},
		"password over MaxLen": {opAlice, strings.Repeat("x", password.MaxLen+1), "password"},
	} {
		t.Run(name, func(t *testing.T) {
			err := users.Add(ctx, tc.u, tc.pw)
			var ue *console.UserError
			if !errors.As(err, &ue) || !errors.Is(err, console.ErrInvalidUser) {
				t.Fatalf("Add = %v, want a *UserError", err)
			}
			if ue.Field != tc.field {
				t.Fatalf("Add refused field %q (%v), want %q", ue.Field, err, tc.field)
			}
			if _, err := users.Get(ctx, tc.u.Username); !errors.Is(err, consolestore.ErrUnknownUser) {
				t.Fatalf("a refused user was stored: %v", err)
			}
		})
	}
	// The valid extremes.
	for _, u := range []consolestore.User{
		with(opAlice, func(u *consolestore.User) { u.Username = strings.Repeat("é", 64) }),
		with(opAlice, func(u *consolestore.User) { u.Username = "a"; u.Permissions = []string{"*:*"} }),
		with(ownerBob, func(u *consolestore.User) { u.Username = "o'brien<script>"; u.Permissions = []string{} }),
	} {
		if err := users.Add(ctx, u, "pw"); err != nil {
			t.Errorf("Add(%q): %v", u.Username, err)
		}
	}
}

func TestUsersAddAndGet(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	store := consolestore.NewMemoryUserStore()
	users := newUsers(t, console.UsersConfig{Store: store, Now: clk.Now})
	ctx := t.Context()
	if err := users.Add(ctx, opAlice, "alice's password"); err != nil {
		t.Fatal(err)
	}
	created := clk.Now()
	got, err := users.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Role != consolestore.RoleOperator || !got.Created.Equal(created) || !got.Updated.Equal(created) ||
		strings.Join(got.Permissions, ",") != "admin:read,admin:write" {
		t.Fatalf("Get = %+v", got)
	}
	rec, err := store.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rec.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(rec.PasswordHash, "alice's password") {
		t.Fatalf("stored hash %q", rec.PasswordHash)
	}

	// Replacing keeps Created, moves Updated, and takes the new password.
	clk.Add(time.Hour)
	replaced := opAlice
	replaced.Permissions = []string{"admin:read"}
	if err := users.Add(ctx, replaced, "new password"); err != nil {
		t.Fatal(err)
	}
	got, err = users.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(created) || !got.Updated.Equal(clk.Now()) || len(got.Permissions) != 1 {
		t.Fatalf("after replacing: %+v", got)
	}
	if _, err := users.Authenticate(ctx, netip.Addr{}, "alice", "alice's password"); !errors.Is(err, console.ErrBadCredentials) {
		t.Fatalf("the old password: %v", err)
	}
	if _, err := users.Authenticate(ctx, netip.Addr{}, "alice", "new password"); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	if _, err := users.Get(ctx, "nobody"); !errors.Is(err, consolestore.ErrUnknownUser) {
		t.Fatalf("Get of an unknown name: %v", err)
	}
	if err := users.Add(ctx, ownerBob, "pw"); err != nil {
		t.Fatal(err)
	}
	list, err := users.List(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

func TestUsersAuthenticate(t *testing.T) {
	users := newUsers(t, console.UsersConfig{})
	ctx := t.Context()
	if err := users.Add(ctx, opAlice, "alice's password"); err != nil {
		t.Fatal(err)
	}
	disabled := ownerBob
	disabled.Disabled = true
	if err := users.Add(ctx, disabled, "bob's password"); err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("192.0.2.1")
	got, err := users.Authenticate(ctx, client, "alice", "alice's password")
	if err != nil || got.Username != "alice" || got.Role != consolestore.RoleOperator {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	for name, tc := range map[string][2]string{
		"wrong password":       {"alice", "alice's password!"},
		"empty password":       {"alice", ""},
		"unknown name":         {"carol", "alice's password"},
		"name in another case": {"Alice", "alice's password"},
		"empty name":           {"", "alice's password"},
		"the dummy's password": {"nobody", "unknown user"},
		"too long":             {"alice", strings.Repeat("x", password.MaxLen+1)},
		"disabled, wrong":      {"bob", "wrong"},
	} {
		t.Run(name, func(t *testing.T) {
			u, err := users.Authenticate(ctx, client, tc[0], tc[1])
			if !errors.Is(err, console.ErrBadCredentials) || errors.Is(err, console.ErrUserDisabled) {
				t.Fatalf("Authenticate = %v, want ErrBadCredentials alone", err)
			}
			if u.Username != "" {
				t.Fatalf("a refused sign-in returned %+v", u)
			}
			if tc[1] != "" && strings.Contains(err.Error(), tc[1]) {
				t.Fatalf("the error carries the password: %v", err)
			}
		})
	}
	u, err := users.Authenticate(ctx, client, "bob", "bob's password")
	if !errors.Is(err, console.ErrBadCredentials) || !errors.Is(err, console.ErrUserDisabled) || u.Username != "" {
		t.Fatalf("a disabled user's right password: %+v, %v", u, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := users.Authenticate(cancelled, client, "alice", "alice's password"); !errors.Is(err, context.Canceled) || errors.Is(err, console.ErrBadCredentials) {
		t.Fatalf("a cancelled sign-in: %v", err)
	}
}

// failingUserStore fails every call, as a database that is down does.
type failingUserStore struct{}

var errDown = errors.New("store down")

func (failingUserStore) Put(context.Context, consolestore.UserRecord) error { return errDown }
func (failingUserStore) Get(context.Context, string) (consolestore.UserRecord, error) {
	return consolestore.UserRecord{}, errDown
}
func (failingUserStore) List(context.Context) ([]consolestore.User, error) { return nil, errDown }

func TestUsersStoreFailure(t *testing.T) {
	users := newUsers(t, console.UsersConfig{Store: failingUserStore{}})
	ctx := t.Context()
	if err := users.Add(ctx, opAlice, "pw"); !errors.Is(err, errDown) {
		t.Fatalf("Add: %v", err)
	}
	_, err := users.Authenticate(ctx, netip.Addr{}, "alice", "pw")
	if !errors.Is(err, errDown) || errors.Is(err, console.ErrBadCredentials) || errors.Is(err, console.ErrBusy) {
		t.Fatalf("Authenticate: %v, want the store's failure: fail closed, not a wrong password", err)
	}
	if _, err := users.Get(ctx, "alice"); !errors.Is(err, errDown) || errors.Is(err, consolestore.ErrUnknownUser) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := users.List(ctx); !errors.Is(err, errDown) {
		t.Fatalf("List: %v", err)
	}
}

// gatedStore holds Gets of "slow" until gate closes.
type gatedStore struct {
	consolestore.UserStore
	started chan struct{}
	gate    chan struct{}
}

func (s gatedStore) Get(ctx context.Context, username string) (consolestore.UserRecord, error) {
	if username == "slow" {
		s.started <- struct{}{}
		<-s.gate
	}
	return s.UserStore.Get(ctx, username)
}

func TestUsersAuthenticateBounded(t *testing.T) {
	store := gatedStore{UserStore: consolestore.NewMemoryUserStore(), started: make(chan struct{}, 4), gate: make(chan struct{})}
	users := newUsers(t, console.UsersConfig{Store: store, MaxConcurrent: 2})
	ctx := t.Context()
	if err := users.Add(ctx, opAlice, "pw"); err != nil {
		t.Fatal(err)
	}
	attacker := netip.MustParseAddr("198.51.100.66")
	held := make(chan error, 2)
	go func() {
		_, err := users.Authenticate(ctx, attacker, "slow", "guess")
		held <- err
	}()
	<-store.started
	// The attacker's address has its one check under way.
	if _, err := users.Authenticate(ctx, attacker, "alice", "pw"); !errors.Is(err, console.ErrBusy) {
		t.Fatalf("a second check from one address: %v, want ErrBusy", err)
	}
	// Another address still finds a slot.
	if _, err := users.Authenticate(ctx, netip.MustParseAddr("203.0.113.1"), "alice", "pw"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	go func() {
		_, err := users.Authenticate(ctx, netip.MustParseAddr("2001:db8::1"), "slow", "guess")
		held <- err
	}()
	<-store.started
	if _, err := users.Authenticate(ctx, netip.MustParseAddr("203.0.113.2"), "alice", "pw"); !errors.Is(err, console.ErrBusy) {
		t.Fatalf("every slot taken: %v, want ErrBusy", err)
	}
	close(store.gate)
	for range 2 {
		if err := <-held; !errors.Is(err, console.ErrBadCredentials) {
			t.Fatalf("held check: %v", err)
		}
	}
	if _, err := users.Authenticate(ctx, attacker, "alice", "pw"); err != nil {
		t.Fatalf("after the checks ended: %v", err)
	}
}

func TestUsersPrintNothing(t *testing.T) {
	users := newUsers(t, console.UsersConfig{})
	if err := users.Add(t.Context(), opAlice, "alice's password"); err != nil {
		t.Fatal(err)
	}
	out := printed(users)
	for _, secret := range []string{"alice", "argon2id"} {
		if strings.Contains(out, secret) {
			t.Fatalf("printing Users shows %q:\n%s", secret, out)
		}
	}
}

// printed returns every way v may be printed: fmt verbs and slog.
func printed(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&b, verb+"\n", v)
	}
	slog.New(slog.NewTextHandler(&b, nil)).Info("store", "v", v)
	return b.String()
}
