package consolestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryUserStore is the in-memory [UserStore], for one instance. It never
// prints its users or their hashes.
type MemoryUserStore struct {
	// users is behind a function value so that fmt, printing the store
	// by reflection, shows only a code address.
	users func() *memoryUsers
}

type memoryUsers struct {
	mu sync.RWMutex
	m  map[string]UserRecord
}

// NewMemoryUserStore returns an empty MemoryUserStore.
func NewMemoryUserStore() *MemoryUserStore {
	mu := &memoryUsers{m: map[string]UserRecord{}}
	return &MemoryUserStore{users: func() *memoryUsers { return mu }}
}

// cloneUser returns u with a Permissions slice of its own.
func cloneUser(u User) User {
	if u.Permissions != nil {
		u.Permissions = slices.Clone(u.Permissions)
	}
	return u
}

// Put implements [UserStore].
func (s *MemoryUserStore) Put(ctx context.Context, u UserRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u.User = cloneUser(u.User)
	mu := s.users()
	mu.mu.Lock()
	defer mu.mu.Unlock()
	mu.m[u.Username] = u
	return nil
}

// Get implements [UserStore].
func (s *MemoryUserStore) Get(ctx context.Context, username string) (UserRecord, error) {
	if err := ctx.Err(); err != nil {
		return UserRecord{}, err
	}
	mu := s.users()
	mu.mu.RLock()
	defer mu.mu.RUnlock()
	u, ok := mu.m[username]
	if !ok {
		return UserRecord{}, ErrUnknownUser
	}
	u.User = cloneUser(u.User)
	return u, nil
}

// List implements [UserStore].
func (s *MemoryUserStore) List(ctx context.Context) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mu := s.users()
	mu.mu.RLock()
	var out []User
	for _, u := range mu.m {
		out = append(out, cloneUser(u.User))
	}
	mu.mu.RUnlock()
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

// String describes the store without its users.
func (s *MemoryUserStore) String() string {
	mu := s.users()
	mu.mu.RLock()
	defer mu.mu.RUnlock()
	return fmt.Sprintf("consolestore.MemoryUserStore(%d users)", len(mu.m))
}

// Format writes [MemoryUserStore.String] for every verb.
func (s *MemoryUserStore) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue describes the store for log/slog.
func (s *MemoryUserStore) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MemorySessionStore is the in-memory [SessionStore], for one instance.
// It never prints its sessions.
type MemorySessionStore struct {
	// sessions is behind a function value so that fmt, printing the
	// store by reflection, shows only a code address.
	sessions func() *memorySessions
}

type memorySessions struct {
	mu sync.Mutex
	m  map[string]Session // by ID hash
}

// NewMemorySessionStore returns an empty MemorySessionStore.
func NewMemorySessionStore() *MemorySessionStore {
	ms := &memorySessions{m: map[string]Session{}}
	return &MemorySessionStore{sessions: func() *memorySessions { return ms }}
}

// errSessionExists is what MemorySessionStore.Create returns for a taken
// ID hash.
var errSessionExists = errors.New("consolestore: session ID hash taken")

// lock returns the store's state, locked, after checking ctx.
func (s *MemorySessionStore) lock(ctx context.Context) (*memorySessions, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ms := s.sessions()
	ms.mu.Lock()
	return ms, nil
}

// Create implements [SessionStore].
func (s *MemorySessionStore) Create(ctx context.Context, idHash []byte, sess Session) error {
	ms, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer ms.mu.Unlock()
	if _, ok := ms.m[string(idHash)]; ok {
		return errSessionExists
	}
	ms.m[string(idHash)] = sess
	return nil
}

// Get implements [SessionStore].
func (s *MemorySessionStore) Get(ctx context.Context, idHash []byte) (Session, error) {
	ms, err := s.lock(ctx)
	if err != nil {
		return Session{}, err
	}
	defer ms.mu.Unlock()
	sess, ok := ms.m[string(idHash)]
	if !ok {
		return Session{}, ErrNoSession
	}
	return sess, nil
}

// Touch implements [SessionStore].
func (s *MemorySessionStore) Touch(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	ms, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer ms.mu.Unlock()
	sess, ok := ms.m[string(idHash)]
	if !ok {
		return ErrNoSession
	}
	if lastSeen.After(sess.LastSeen) {
		sess.LastSeen = lastSeen
		ms.m[string(idHash)] = sess
	}
	return nil
}

// Delete implements [SessionStore].
func (s *MemorySessionStore) Delete(ctx context.Context, idHash []byte) error {
	ms, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer ms.mu.Unlock()
	delete(ms.m, string(idHash))
	return nil
}

// DeleteUser implements [SessionStore].
func (s *MemorySessionStore) DeleteUser(ctx context.Context, username string) error {
	ms, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer ms.mu.Unlock()
	for h, sess := range ms.m {
		if sess.Username == username {
			delete(ms.m, h)
		}
	}
	return nil
}

// DeleteExpired implements [SessionStore].
func (s *MemorySessionStore) DeleteExpired(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	ms, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer ms.mu.Unlock()
	n := 0
	for h, sess := range ms.m {
		if sess.LastSeen.Before(idleBefore) || sess.Created.Before(createdBefore) {
			delete(ms.m, h)
			n++
		}
	}
	return n, nil
}

// String describes the store without its sessions.
func (s *MemorySessionStore) String() string {
	ms := s.sessions()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return fmt.Sprintf("consolestore.MemorySessionStore(%d sessions)", len(ms.m))
}

// Format writes [MemorySessionStore.String] for every verb.
func (s *MemorySessionStore) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue describes the store for log/slog.
func (s *MemorySessionStore) LogValue() slog.Value { return slog.StringValue(s.String()) }
