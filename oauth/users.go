package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/passworduser"
)

// DefaultMaxConcurrentChecks bounds the password checks a [PasswordUsers]
// runs at once when [PasswordUsersConfig.MaxConcurrent] is zero. Each
// Argon2id check with the default parameters takes 64 MiB, and the password
// grant is open to anyone holding a (public) publishable key ID.
const DefaultMaxConcurrentChecks = password.DefaultMaxConcurrent

// DefaultMaxChecksPerClient bounds the password checks one client address
// has under way at once when [PasswordUsersConfig.MaxPerClient] is zero:
// one client cannot take more than one of the [DefaultMaxConcurrentChecks]
// slots, so it cannot deny sign-ins to the others.
const DefaultMaxChecksPerClient = password.DefaultMaxPerClient

// FairUsers is a [Users] that shares its capacity fairly between client
// addresses. The token endpoint calls AuthenticateFrom, with the address
// of the client that sent the request, when its Users implement it;
// [*PasswordUsers] does.
type FairUsers interface {
	Users
	// AuthenticateFrom is Authenticate for a request from client (the
	// resolved client address, or the TCP peer's when that is unknown; the
	// zero Addr when neither is). It answers [ErrBusy] when that client
	// already has its share of the checks under way.
	AuthenticateFrom(ctx context.Context, client netip.Addr, username, password string) (User, error)
}

// PasswordUsers is a [Users] for the password grant over a [passworduser.Store]
// that keeps Argon2id hashes of the passwords (package password), never
// the passwords. It is safe for concurrent use, runs at most a bounded
// number of password checks at once (answering [ErrBusy] beyond), and never
// prints its users or hashes.
//
// The bound is shared fairly: through [PasswordUsers.AuthenticateFrom]
// (which the token endpoint uses), one client address has at most
// MaxPerClient checks under way (one by default) and is answered
// [ErrBusy] beyond, whatever slots are free, so that a client holding many
// guesses in flight delays only itself. An IPv6 address counts with its
// /64, which one client usually holds whole.
type PasswordUsers struct {
	// state is behind a function value so that fmt, printing a
	// PasswordUsers by reflection, shows only a code address.
	state func() *usersState
}

type usersState struct {
	params  password.Params
	store   passworduser.Store
	checker *password.Checker // the bounded, fair checks
}

// PasswordUsersConfig configures a [PasswordUsers].
type PasswordUsersConfig struct {
	// Store keeps the users. Nil means a new [passworduser.MemoryStore].
	Store passworduser.Store
	// Params are the Argon2id costs of new hashes. Zero means
	// [password.DefaultParams]. (A stored hash carries its own.)
	Params password.Params
	// MaxConcurrent bounds the password checks under way at once; beyond
	// it Authenticate answers [ErrBusy]. Zero means
	// [DefaultMaxConcurrentChecks].
	MaxConcurrent int
	// MaxPerClient bounds the checks one client address has under way at
	// once, through AuthenticateFrom. Zero means
	// [DefaultMaxChecksPerClient].
	MaxPerClient int
}

// NewPasswordUsers returns a PasswordUsers for cfg.
func NewPasswordUsers(cfg PasswordUsersConfig) (*PasswordUsers, error) {
	params, store := cfg.Params, cfg.Store
	if params == (password.Params{}) {
		params = password.DefaultParams
	}
	if store == nil {
		store = passworduser.NewMemoryStore()
	}
	checker, err := password.NewChecker(password.CheckerConfig{Params: params, MaxConcurrent: cfg.MaxConcurrent, MaxPerClient: cfg.MaxPerClient})
	if err != nil {
		return nil, err
	}
	st := &usersState{params: params, store: store, checker: checker}
	return &PasswordUsers{state: func() *usersState { return st }}, nil
}

// Add creates or replaces the user named username, storing the hash of
// pw.
func (m *PasswordUsers) Add(ctx context.Context, username, pw string, u User) error {
	if username == "" || u.Subject == "" || u.Account == "" {
		return errors.New("oauth: a user needs a name, a subject and an account")
	}
	st := m.state()
	hash, err := password.Hash(pw, st.params)
	if err != nil {
		return fmt.Errorf("oauth: hash password: %w", err)
	}
	if err := st.store.Put(ctx, passworduser.Record{Username: username, PasswordHash: hash, Subject: u.Subject, Account: u.Account}); err != nil {
		return fmt.Errorf("oauth: store user: %w", err)
	}
	return nil
}

// Authenticate implements [Users]. An unknown name costs the same hashing
// as a wrong password, so that timing does not tell which names exist. A
// store failure is returned as it is (the token endpoint answers 503).
// It is AuthenticateFrom without a client address: only the overall bound
// applies.
func (m *PasswordUsers) Authenticate(ctx context.Context, username, pw string) (User, error) {
	return m.AuthenticateFrom(ctx, netip.Addr{}, username, pw)
}

// AuthenticateFrom implements [FairUsers]: Authenticate for a request
// from client, which may have at most MaxPerClient checks under way. The
// zero Addr is subject to the overall bound only.
func (m *PasswordUsers) AuthenticateFrom(ctx context.Context, client netip.Addr, username, pw string) (User, error) {
	st := m.state()
	var rec passworduser.Record
	err := st.checker.Check(ctx, client, pw, func(ctx context.Context) (string, bool, error) {
		var err error
		rec, err = st.store.Get(ctx, username)
		switch {
		case errors.Is(err, passworduser.ErrNotFound):
			return "", false, nil
		case err != nil:
			return "", false, fmt.Errorf("oauth: look up user: %w", err)
		}
		return rec.PasswordHash, true, nil
	})
	switch {
	case errors.Is(err, password.ErrBusy):
		return User{}, ErrBusy
	case errors.Is(err, password.ErrMismatch):
		return User{}, ErrBadCredentials
	case err != nil:
		return User{}, err
	}
	return User{Subject: rec.Subject, Account: rec.Account}, nil
}

// String describes the users without naming any.
func (m *PasswordUsers) String() string { return "oauth.PasswordUsers" }

// Format writes [PasswordUsers.String] for every verb.
func (m *PasswordUsers) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// LogValue describes the users for log/slog.
func (m *PasswordUsers) LogValue() slog.Value { return slog.StringValue(m.String()) }
