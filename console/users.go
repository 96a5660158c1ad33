package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/password"
)

// MaxUsernameLen is the longest console user name, in characters.
const MaxUsernameLen = 64

// Errors; test with errors.Is.
var (
	// ErrBadCredentials is what [Users.Authenticate] returns for an
	// unknown name, a wrong password or a disabled user.
	ErrBadCredentials = errors.New("console: bad user name or password")
	// ErrUserDisabled is wrapped, beside [ErrBadCredentials], by what
	// [Users.Authenticate] returns for the right password of a disabled
	// user.
	ErrUserDisabled = errors.New("console: user disabled")
	// ErrBusy is what [Users.Authenticate] returns when too many password
	// checks are under way, overall or from the client: the check did not
	// run; the client may try again shortly.
	ErrBusy = errors.New("console: too many sign-ins at once")
	// ErrInvalidUser is wrapped by what [Users.Add] returns for a user it
	// refuses: a [*UserError] naming the field.
	ErrInvalidUser = errors.New("console: invalid user")
)

// UserError is a user [Users.Add] refuses: Field is "username", "role",
// "account", "permissions" or "password". It wraps [ErrInvalidUser].
type UserError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *UserError) Error() string { return "console: invalid user: " + e.Field + ": " + e.Message }

// Unwrap returns [ErrInvalidUser].
func (e *UserError) Unwrap() error { return ErrInvalidUser }

// validateUser reports why u is not a valid user: a [*UserError], or nil.
func validateUser(u consolestore.User) error {
	if err := validUsername(u.Username); err != nil {
		return err
	}
	switch u.Role {
	case consolestore.RoleOperator:
		if u.Account != "" {
			return &UserError{"account", "an operator has no account"}
		}
		if len(u.Permissions) == 0 {
			return &UserError{"permissions", "an operator needs at least one permission"}
		}
		for _, p := range u.Permissions {
			if _, err := access.ParsePermission(p); err != nil {
				return &UserError{"permissions", fmt.Sprintf("permission %q: %v", p, err)}
			}
		}
	case consolestore.RoleOwner:
		if u.Account == "" {
			return &UserError{"account", "an owner needs its account"}
		}
		if len(u.Permissions) != 0 {
			return &UserError{"permissions", "an owner has no permissions of its own"}
		}
	default:
		return &UserError{"role", fmt.Sprintf("role %q: want %q or %q", u.Role, consolestore.RoleOperator, consolestore.RoleOwner)}
	}
	return nil
}

// validUsername checks a user name: 1 to [MaxUsernameLen] printable
// characters, none of them a space.
func validUsername(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return &UserError{"username", "empty"}
	case n > MaxUsernameLen:
		return &UserError{"username", fmt.Sprintf("longer than %d characters", MaxUsernameLen)}
	case !utf8.ValidString(name):
		return &UserError{"username", "not UTF-8"}
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return &UserError{"username", "only printable characters, no spaces"}
		}
	}
	return nil
}

// UsersConfig configures [Users].
type UsersConfig struct {
	// Store keeps the users. Nil means a new [consolestore.MemoryUserStore].
	Store consolestore.UserStore
	// Params are the Argon2id costs of new hashes. Zero means
	// [password.DefaultParams].
	Params password.Params
	// MaxConcurrent bounds the password checks under way at once. Zero
	// means [password.DefaultMaxConcurrent].
	MaxConcurrent int
	// MaxPerClient bounds the checks one client address (an IPv6 one with
	// its /64) has under way at once. Zero means
	// [password.DefaultMaxPerClient].
	MaxPerClient int
	// Now is the clock of Created and Updated. Nil means time.Now.
	Now func() time.Time
}

// Users are the console's users over a [consolestore.UserStore] that keeps Argon2id
// hashes of their passwords, never the passwords. Authenticate runs at
// most a bounded number of password checks at once, shared fairly between
// client addresses ([password.Checker]). Users are safe for concurrent use
// and never print their users or hashes.
type Users struct {
	// state is behind a function value so that fmt, printing Users by
	// reflection, shows only a code address.
	state func() *usersState
}

type usersState struct {
	store   consolestore.UserStore
	params  password.Params
	checker *password.Checker
	now     func() time.Time
}

// NewUsers returns Users for cfg.
func NewUsers(cfg UsersConfig) (*Users, error) {
	st := &usersState{store: cfg.Store, params: cfg.Params, now: cfg.Now}
	if st.store == nil {
		st.store = consolestore.NewMemoryUserStore()
	}
	if st.params == (password.Params{}) {
		st.params = password.DefaultParams
	}
	if st.now == nil {
		st.now = time.Now
	}
	var err error
	st.checker, err = password.NewChecker(password.CheckerConfig{Params: st.params, MaxConcurrent: cfg.MaxConcurrent, MaxPerClient: cfg.MaxPerClient})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return &Users{state: func() *usersState { return st }}, nil
}

// Add creates or replaces the user named u.Username with the hash of pw.
// It sets Updated, and Created when the name is new (a replaced user keeps
// its Created). It refuses an invalid user or an empty password with a
// [*UserError]. It does not end the user's sessions: replacing a user's
// password or disabling it should go with [Sessions.DeleteUser].
func (m *Users) Add(ctx context.Context, u consolestore.User, pw string) error {
	if err := validateUser(u); err != nil {
		return err
	}
	switch {
	case pw == "":
		return &UserError{"password", "empty"}
	case len(pw) > password.MaxLen:
		return &UserError{"password", fmt.Sprintf("longer than %d bytes", password.MaxLen)}
	}
	st := m.state()
	hash, err := password.Hash(pw, st.params)
	if err != nil {
		return fmt.Errorf("console: hash password: %w", err)
	}
	now := st.now().UTC().Round(0)
	u.Created, u.Updated = now, now
	switch old, err := st.store.Get(ctx, u.Username); {
	case err == nil:
		u.Created = old.Created
	case !errors.Is(err, consolestore.ErrUnknownUser):
		return fmt.Errorf("console: look up user: %w", err)
	}
	if u.Permissions != nil {
		u.Permissions = append([]string(nil), u.Permissions...)
	}
	if err := st.store.Put(ctx, consolestore.UserRecord{User: u, PasswordHash: hash}); err != nil {
		return fmt.Errorf("console: store user: %w", err)
	}
	return nil
}

// Get returns the user named username, or an error wrapping
// [consolestore.ErrUnknownUser].
func (m *Users) Get(ctx context.Context, username string) (consolestore.User, error) {
	rec, err := m.state().store.Get(ctx, username)
	if err != nil {
		if errors.Is(err, consolestore.ErrUnknownUser) {
			return consolestore.User{}, consolestore.ErrUnknownUser
		}
		return consolestore.User{}, fmt.Errorf("console: look up user: %w", err)
	}
	return rec.User, nil
}

// List returns every user by name.
func (m *Users) List(ctx context.Context) ([]consolestore.User, error) {
	us, err := m.state().store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("console: list users: %w", err)
	}
	return us, nil
}

// Authenticate returns the user named username if pw is its password,
// for a sign-in from client (the zero Addr when unknown: only the overall
// bound applies then). It answers [ErrBadCredentials] for an unknown name
// or a wrong password alike (an unknown name costs the same hashing, so
// that timing does not tell which names exist), an error wrapping both
// [ErrBadCredentials] and [ErrUserDisabled] for the right password of a
// disabled user, and [ErrBusy] beyond the bounds on password checks. A
// store failure is returned wrapped, and is neither: fail closed. No
// error carries the password.
func (m *Users) Authenticate(ctx context.Context, client netip.Addr, username, pw string) (consolestore.User, error) {
	st := m.state()
	var rec consolestore.UserRecord
	err := st.checker.Check(ctx, client, pw, func(ctx context.Context) (string, bool, error) {
		var err error
		rec, err = st.store.Get(ctx, username)
		switch {
		case errors.Is(err, consolestore.ErrUnknownUser):
			return "", false, nil
		case err != nil:
			return "", false, fmt.Errorf("console: look up user: %w", err)
		}
		return rec.PasswordHash, true, nil
	})
	switch {
	case errors.Is(err, password.ErrBusy):
		return consolestore.User{}, ErrBusy
	case errors.Is(err, password.ErrMismatch):
		return consolestore.User{}, ErrBadCredentials
	case err != nil:
		return consolestore.User{}, err
	case rec.Disabled:
		return consolestore.User{}, fmt.Errorf("%w: %w", ErrBadCredentials, ErrUserDisabled)
	}
	return rec.User, nil
}

// String describes the users without naming any.
func (m *Users) String() string { return "console.Users" }

// Format writes [Users.String] for every verb.
func (m *Users) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// LogValue describes the users for log/slog.
func (m *Users) LogValue() slog.Value { return slog.StringValue(m.String()) }
