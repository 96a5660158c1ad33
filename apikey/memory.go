package apikey

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the embedded in-memory [Store]: safe for concurrent use,
// lost when the process ends. The zero value is not usable; call
// [NewMemoryStore].
type MemoryStore struct {
	mu   sync.RWMutex
	recs map[string]*Record
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{recs: make(map[string]*Record)}
}

var _ Store = (*MemoryStore)(nil)

// Create implements [Store].
func (s *MemoryStore) Create(ctx context.Context, rec Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	rec = rec.clone()
	rec.Version = 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.ID]; ok {
		return Record{}, fmt.Errorf("%w: %s", ErrDuplicate, rec.ID)
	}
	s.recs[rec.ID] = &rec
	return rec, nil
}

// Get implements [Store]. It copies the record but shares its slices, which
// the store never modifies in place.
func (s *MemoryStore) Get(ctx context.Context, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.RLock()
	r, ok := s.recs[id]
	var rec Record
	if ok {
		rec = *r
	}
	s.mu.RUnlock()
	if !ok {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

// List implements [Store].
func (s *MemoryStore) List(ctx context.Context, f ListFilter) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []Record
	for _, r := range s.recs {
		if r.Account == f.Account && (f.Mode == "" || r.Mode == f.Mode) {
			out = append(out, *r)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Update implements [Store].
func (s *MemoryStore) Update(ctx context.Context, rec Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	rec = rec.clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[rec.ID]
	switch {
	case !ok:
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, rec.ID)
	case cur.Version != rec.Version:
		return Record{}, fmt.Errorf("%w: %s", ErrConflict, rec.ID)
	}
	rec.Version++
	rec.LastUsed = cur.LastUsed
	// Replace, never modify: readers may hold the old record's slices.
	s.recs[rec.ID] = &rec
	return rec, nil
}

// Touch implements [Store].
func (s *MemoryStore) Touch(ctx context.Context, id string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if t.After(cur.LastUsed) {
		next := *cur
		next.LastUsed = t
		s.recs[id] = &next
	}
	return nil
}
