package iprule

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryStore is the in-memory [Store]: safe for concurrent use, lost when
// the process ends. Like a database, it keeps times without their
// monotonic clock reading. The zero value is not usable; call
// [NewMemoryStore].
type MemoryStore struct {
	mu    sync.RWMutex
	rules map[string]Rule
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{rules: make(map[string]Rule)}
}

// Create implements [Store].
func (s *MemoryStore) Create(ctx context.Context, r Rule) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	r.Created = r.Created.Round(0)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rules[r.ID]; ok {
		return Rule{}, fmt.Errorf("%w: %s", ErrExists, r.ID)
	}
	for _, o := range s.rules {
		if o.Account == r.Account && o.Action == r.Action && o.CIDR == r.CIDR {
			return Rule{}, fmt.Errorf("%w: %s", ErrExists, o.ID)
		}
	}
	s.rules[r.ID] = r
	return r, nil
}

// Get implements [Store].
func (s *MemoryStore) Get(ctx context.Context, id string) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.rules[id]
	if !ok {
		return Rule{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return r, nil
}

// List implements [Store].
func (s *MemoryStore) List(ctx context.Context, f Filter) ([]Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]Rule, 0, len(s.rules))
	for _, r := range s.rules {
		if f.Matches(r) {
			out = append(out, r)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Rule) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Delete implements [Store].
func (s *MemoryStore) Delete(ctx context.Context, id string) (Rule, error) {
	if err := ctx.Err(); err != nil {
		return Rule{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rules[id]
	if !ok {
		return Rule{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(s.rules, id)
	return r, nil
}
