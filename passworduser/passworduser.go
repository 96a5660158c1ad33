// Package passworduser defines the store of the users of the OAuth
// password grant, [Store], and its in-memory implementation,
// [MemoryStore]. It imports nothing of keygate, so that storage backends
// implement it without depending on package oauth.
package passworduser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// ErrNotFound is what a [Store] returns for a name it does not hold.
var ErrNotFound = errors.New("passworduser: user not found")

// Record is a user as a [Store] keeps it: the Argon2id hash of the
// password (a PHC string, package password), never the password.
type Record struct {
	// Username is the name the user signs in with, compared byte for
	// byte.
	Username string
	// PasswordHash is the PHC string of the password's hash.
	PasswordHash string
	// Subject is the sub of the user's tokens.
	Subject string
	// Account is the account the user belongs to.
	Account string
}

// Store keeps the users of the OAuth password grant (oauth.PasswordUsers):
// in memory ([MemoryStore]) or in a database shared by a service's
// instances.
// Implementations must be safe for concurrent use and honour ctx.
type Store interface {
	// Put creates or replaces the user named u.Username.
	Put(ctx context.Context, u Record) error
	// Get returns the user with that name, or an error wrapping
	// [ErrNotFound].
	Get(ctx context.Context, username string) (Record, error)
}

// MemoryStore is the in-memory [Store]. It never prints its users
// or their hashes.
type MemoryStore struct {
	// users is behind a function value so that fmt, printing the store
	// by reflection, shows only a code address.
	users func() *memoryUsers
}

type memoryUsers struct {
	mu sync.RWMutex
	m  map[string]Record
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	mu := &memoryUsers{m: map[string]Record{}}
	return &MemoryStore{users: func() *memoryUsers { return mu }}
}

// Put implements [Store].
func (s *MemoryStore) Put(ctx context.Context, u Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := s.users()
	mu.mu.Lock()
	defer mu.mu.Unlock()
	mu.m[u.Username] = u
	return nil
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, username string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	mu := s.users()
	mu.mu.RLock()
	defer mu.mu.RUnlock()
	u, ok := mu.m[username]
	if !ok {
		return Record{}, ErrNotFound
	}
	return u, nil
}

// String describes the store without its users.
func (s *MemoryStore) String() string {
	mu := s.users()
	mu.mu.RLock()
	defer mu.mu.RUnlock()
	return fmt.Sprintf("passworduser.MemoryStore(%d users)", len(mu.m))
}

// Format writes [MemoryStore.String] for every verb.
func (s *MemoryStore) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue describes the store for log/slog.
func (s *MemoryStore) LogValue() slog.Value { return slog.StringValue(s.String()) }
