package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/keygate/keygate/password"
)

// DefaultMaxConcurrentChecks bounds the password checks a [MemoryUsers]
// runs at once when [MemoryUsers.MaxConcurrent] is zero. Each Argon2id
// check with the default parameters takes 64 MiB, and the password grant is
// open to anyone holding a (public) publishable key ID.
const DefaultMaxConcurrentChecks = 4

// MemoryUsers is an in-memory [Users] that keeps Argon2id hashes of the
// passwords (package password), never the passwords. It is safe for
// concurrent use, runs at most a bounded number of password checks at once
// (answering [ErrBusy] beyond), and never prints its users or hashes.
type MemoryUsers struct {
	// state is behind a function value so that fmt, printing a
	// MemoryUsers by reflection, shows only a code address.
	state func() *usersState
}

type usersState struct {
	params password.Params
	mu     sync.RWMutex
	users  map[string]memoryUser
	dummy  string        // a hash to verify against for unknown names
	slots  chan struct{} // one per password check under way
}

type memoryUser struct {
	hash string
	user User
}

// MemoryUsersConfig configures a [MemoryUsers].
type MemoryUsersConfig struct {
	// Params are the Argon2id costs. Zero means [password.DefaultParams].
	Params password.Params
	// MaxConcurrent bounds the password checks under way at once; beyond
	// it Authenticate answers [ErrBusy]. Zero means
	// [DefaultMaxConcurrentChecks].
	MaxConcurrent int
}

// NewMemoryUsers returns an empty MemoryUsers.
func NewMemoryUsers(cfg MemoryUsersConfig) (*MemoryUsers, error) {
	params, maxConcurrent := cfg.Params, cfg.MaxConcurrent
	if params == (password.Params{}) {
		params = password.DefaultParams
	}
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrentChecks
	}
	dummy, err := password.Hash("unknown user", params)
	if err != nil {
		return nil, err
	}
	st := &usersState{params: params, users: map[string]memoryUser{}, dummy: dummy, slots: make(chan struct{}, maxConcurrent)}
	return &MemoryUsers{state: func() *usersState { return st }}, nil
}

// Add creates or replaces the user named username.
func (m *MemoryUsers) Add(username, pw string, u User) error {
	if username == "" || u.Subject == "" || u.Account == "" {
		return errors.New("oauth: a user needs a name, a subject and an account")
	}
	st := m.state()
	hash, err := password.Hash(pw, st.params)
	if err != nil {
		return fmt.Errorf("oauth: hash password: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.users[username] = memoryUser{hash: hash, user: u}
	return nil
}

// Authenticate implements [Users]. An unknown name costs the same hashing
// as a wrong password, so that timing does not tell which names exist.
func (m *MemoryUsers) Authenticate(ctx context.Context, username, pw string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	st := m.state()
	select {
	case st.slots <- struct{}{}:
		defer func() { <-st.slots }()
	default:
		return User{}, ErrBusy
	}
	st.mu.RLock()
	u, ok := st.users[username]
	st.mu.RUnlock()
	hash := u.hash
	if !ok {
		hash = st.dummy
	}
	if err := password.Verify(pw, hash); err != nil || !ok {
		return User{}, ErrBadCredentials
	}
	return u.user, nil
}

// String describes the store without its users.
func (m *MemoryUsers) String() string {
	st := m.state()
	st.mu.RLock()
	defer st.mu.RUnlock()
	return fmt.Sprintf("oauth.MemoryUsers(%d users)", len(st.users))
}

// Format writes [MemoryUsers.String] for every verb.
func (m *MemoryUsers) Format(f fmt.State, _ rune) { fmt.Fprint(f, m.String()) }

// LogValue describes the store for log/slog.
func (m *MemoryUsers) LogValue() slog.Value { return slog.StringValue(m.String()) }
