package apikey

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryStore is the embedded in-memory [Store]: safe for concurrent use,
// lost when the process ends. Reads take no lock; writes are serialised.
// Like a database, it keeps Created without its monotonic clock reading, so
// that List orders by wall-clock time, as its positions do.
// The zero value is not usable; call [NewMemoryStore].
type MemoryStore struct {
	mu   sync.Mutex // serialises writers; readers use recs alone
	recs sync.Map   // ID → *memRecord, never modified once stored
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{}
}

var _ Store = (*MemoryStore)(nil)

// Create implements [Store].
func (s *MemoryStore) Create(ctx context.Context, rec Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	rec = rec.clone()
	rec.Created = rec.Created.Round(0) // see MemoryStore
	rec.Version = 1
	if _, loaded := s.recs.LoadOrStore(rec.ID, pack(&rec)); loaded {
		return Record{}, fmt.Errorf("%w: %s", ErrExists, rec.ID)
	}
	return rec, nil
}

// Get implements [Store]. It copies the record but shares its slices, which
// the store never modifies in place.
func (s *MemoryStore) Get(ctx context.Context, id string) (Record, error) {
	var rec Record
	if _, err := s.readRecord(ctx, id, &rec, true); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// readRecord is Get writing the record into rec (see Manager.get): all of
// it with whole, else what verifying the key needs (see memRecord.fill).
// It also returns the record's cached usage slot (see memRecord). On an
// error rec is left as it was.
func (s *MemoryStore) readRecord(ctx context.Context, id string, rec *Record, whole bool) (*atomic.Pointer[usageSlot], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, ok := s.recs.Load(id)
	if !ok {
		return nil, ErrNotFound
	}
	m := r.(*memRecord)
	m.fill(rec, whole)
	return &m.usage, nil
}

// List implements [Store]. It sorts the matching records on each call: fine
// for the numbers an in-memory store holds.
func (s *MemoryStore) List(ctx context.Context, f ListFilter) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Record
	s.recs.Range(func(_, v any) bool {
		if r := v.(*memRecord).record(); f.matches(&r) {
			out = append(out, r)
		}
		return true
	})
	slices.SortFunc(out, func(a, b Record) int {
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

// Update implements [Store].
func (s *MemoryStore) Update(ctx context.Context, rec Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	rec = rec.clone()
	rec.Created = rec.Created.Round(0) // see MemoryStore
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.recs.Load(rec.ID)
	if !ok {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, rec.ID)
	}
	cur := v.(*memRecord)
	if cur.recordVersion() != rec.Version {
		return Record{}, fmt.Errorf("%w: %s", ErrConflict, rec.ID)
	}
	rec.Version++
	rec.LastUsed = cur.lastUsed()
	// Replace, never modify: readers may hold the old record.
	s.recs.Store(rec.ID, repack(cur, &rec))
	return rec, nil
}

// Touch implements [Store].
func (s *MemoryStore) Touch(ctx context.Context, id string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.recs.Load(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if cur := v.(*memRecord); t.After(cur.lastUsed()) {
		next := cur.record()
		next.LastUsed = t
		s.recs.Store(id, repack(cur, &next))
	}
	return nil
}

// repack is pack for the record that replaces cur (of the same ID): it
// inherits cur's usage slot, so that an update or a last-used write does
// not cost the key's next verification a lookup of its slot.
func repack(cur *memRecord, r *Record) *memRecord {
	m := pack(r)
	m.usage.Store(cur.usage.Load())
	return m
}
