package account

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryStore is the embedded in-memory [Store]: safe for concurrent use,
// lost when the process ends. Like a database, it keeps times without
// their monotonic clock reading, so that List orders by wall-clock time.
// The zero value is not usable; call [NewMemoryStore].
type MemoryStore struct {
	mu   sync.RWMutex
	accs map[string]Account
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{accs: make(map[string]Account)}
}

var _ Store = (*MemoryStore)(nil)

// wall returns a with its times stripped of their monotonic clock reading.
func wall(a Account) Account {
	a.Created = a.Created.Round(0)
	a.Updated = a.Updated.Round(0)
	a.TokensNotBefore = a.TokensNotBefore.Round(0)
	return a
}

// Create implements [Store].
func (s *MemoryStore) Create(ctx context.Context, a Account) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	a = wall(a)
	a.Version = 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accs[a.ID]; ok {
		return Account{}, fmt.Errorf("%w: %s", ErrExists, a.ID)
	}
	s.accs[a.ID] = a
	return a, nil
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, id string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.accs[id]
	if !ok {
		return Account{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return a, nil
}

// Update implements [Store].
func (s *MemoryStore) Update(ctx context.Context, a Account) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	a = wall(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.accs[a.ID]
	if !ok {
		return Account{}, fmt.Errorf("%w: %s", ErrNotFound, a.ID)
	}
	if cur.Version != a.Version {
		return Account{}, fmt.Errorf("%w: %s", ErrConflict, a.ID)
	}
	a.Version++
	s.accs[a.ID] = a
	return a, nil
}

// List implements [Store]. It sorts every account on each call: fine for
// the numbers an in-memory store holds.
func (s *MemoryStore) List(ctx context.Context, f ListFilter) ([]Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cursor := !f.AfterCreated.IsZero() || f.AfterID != ""
	s.mu.RLock()
	out := make([]Account, 0, len(s.accs))
	for _, a := range s.accs {
		if (!cursor || after(a, f.AfterCreated, f.AfterID)) && f.Matches(&a) {
			out = append(out, a)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Account) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit:f.Limit]
	}
	return out, nil
}
