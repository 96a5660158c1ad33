package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keygate/keygate/password"
)

// MemoryUsers is an in-memory [Users] that keeps Argon2id hashes of the
// passwords (package password), never the passwords. It is safe for
// concurrent use.
type MemoryUsers struct {
	params password.Params
	mu     sync.RWMutex
	users  map[string]memoryUser
	dummy  string // a hash to verify against for unknown names
}

type memoryUser struct {
	hash string
	user User
}

// NewMemoryUsers returns an empty MemoryUsers hashing with params (the
// zero Params mean [password.DefaultParams]).
func NewMemoryUsers(params password.Params) (*MemoryUsers, error) {
	if params == (password.Params{}) {
		params = password.DefaultParams
	}
	dummy, err := password.Hash("unknown user", params)
	if err != nil {
		return nil, err
	}
	return &MemoryUsers{params: params, users: map[string]memoryUser{}, dummy: dummy}, nil
}

// Add creates or replaces the user named username.
func (m *MemoryUsers) Add(username, pw string, u User) error {
	if username == "" || u.Subject == "" || u.Account == "" {
		return errors.New("oauth: a user needs a name, a subject and an account")
	}
	hash, err := password.Hash(pw, m.params)
	if err != nil {
		return fmt.Errorf("oauth: hash password: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[username] = memoryUser{hash: hash, user: u}
	return nil
}

// Authenticate implements [Users]. An unknown name costs the same hashing
// as a wrong password, so that timing does not tell which names exist.
func (m *MemoryUsers) Authenticate(ctx context.Context, username, pw string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	m.mu.RLock()
	u, ok := m.users[username]
	m.mu.RUnlock()
	hash := u.hash
	if !ok {
		hash = m.dummy
	}
	if err := password.Verify(pw, hash); err != nil || !ok {
		return User{}, ErrBadCredentials
	}
	return u.user, nil
}
