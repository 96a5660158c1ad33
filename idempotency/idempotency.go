// Package idempotency defines the store behind the admin API's
// Idempotency-Key support, [Store], and its in-memory implementation,
// [MemoryStore]. It imports nothing of keygate, so that storage backends
// implement it without depending on the admin API.
package idempotency

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"
)

// Store remembers the responses of the admin API's POST calls by Idempotency-Key
// (scoped to the caller), so that a retry creates nothing new. The handler
// reserves a key before it runs a call, and either completes it with the
// response (2xx only) or releases it.
//
// Implementations must be safe for concurrent use and honour ctx. Reserve
// must be atomic, also across instances sharing a backend (SET NX in
// Redis, INSERT ... ON CONFLICT DO NOTHING in SQL): of two concurrent
// Reserve calls for one key, exactly one succeeds, so that a call never
// runs twice. An entry is kept for the store's retention (24 hours for
// [MemoryStore]) from its reservation; a reservation that is
// neither completed nor released (the process stopped) must lapse after a
// while, so that the key becomes usable again.
//
// Stored bodies never hold a plaintext secret: the handler stores the
// response with the one-time key or secret removed. Run the conformance
// suite idempotencytest.TestStore against every implementation.
type Store interface {
	// Reserve claims key for a call whose request has the given
	// fingerprint (a SHA-256 of its method, path and body). If the key is
	// free (never used, released, lapsed or expired), it records a
	// pending entry with the fingerprint and returns true. Otherwise it
	// returns the existing entry and false; the entry's Done is false
	// while the call that reserved it is still running.
	Reserve(ctx context.Context, key string, fingerprint []byte) (Entry, bool, error)
	// Complete stores the response of the call that reserved key, for
	// replays. Completing a key that is not pending changes nothing.
	Complete(ctx context.Context, key string, status int, body []byte) error
	// Release forgets a pending key, so that the call may be retried with
	// it. Releasing a completed or unknown key changes nothing.
	Release(ctx context.Context, key string) error
}

// Entry is what an [Store] holds for one key.
type Entry struct {
	// Fingerprint identifies the request: a retry with another
	// fingerprint is refused (422 idempotency_key_reused).
	Fingerprint []byte
	// Done is true once the call's response is stored.
	Done bool
	// Status and Body are the stored response (when Done).
	Status int
	Body   []byte
}

// ErrStoreFull is returned by [MemoryStore.Reserve]
// when every entry it may hold is a call still in progress.
var ErrStoreFull = errors.New("idempotency: store full")

// MemoryConfig configures a [MemoryStore]. The zero
// value is usable.
type MemoryConfig struct {
	// Retention is how long an entry is kept from its reservation. Zero
	// means 24 hours.
	Retention time.Duration
	// LockTimeout is how long a reservation that is neither completed nor
	// released holds its key. Zero means one minute.
	LockTimeout time.Duration
	// MaxEntries bounds the entries held. Zero means 10,000. When it is
	// reached, the oldest completed entries are forgotten before their
	// retention ends: the bound on memory wins over the retention.
	MaxEntries int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// MemoryStore is the in-memory [Store], for a
// single process. Create it with [NewMemoryStore].
type MemoryStore struct {
	cfg     MemoryConfig
	mu      sync.Mutex
	entries map[string]*idemEntry
	order   []*idemEntry // by reservation time, oldest first; may hold forgotten entries
	head    int          // order[head:] is live
}

type idemEntry struct {
	key      string
	e        Entry
	reserved time.Time
	gone     bool // released or evicted
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &MemoryStore{cfg: cfg, entries: make(map[string]*idemEntry)}
}

var _ Store = (*MemoryStore)(nil)

// Reserve implements [Store].
func (s *MemoryStore) Reserve(ctx context.Context, key string, fingerprint []byte) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if cur, ok := s.entries[key]; ok {
		lapsed := !cur.e.Done && !now.Before(cur.reserved.Add(s.cfg.LockTimeout))
		if !lapsed {
			return cloneEntry(cur.e), false, nil
		}
		s.forget(cur)
	}
	if len(s.entries) >= s.cfg.MaxEntries && !s.evictOne(now) {
		return Entry{}, false, ErrStoreFull
	}
	ent := &idemEntry{key: key, reserved: now, e: Entry{Fingerprint: bytes.Clone(fingerprint)}}
	s.entries[key] = ent
	s.order = append(s.order, ent)
	return Entry{}, true, nil
}

// Complete implements [Store].
func (s *MemoryStore) Complete(ctx context.Context, key string, status int, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.entries[key]; ok && !cur.e.Done {
		cur.e.Done, cur.e.Status, cur.e.Body = true, status, bytes.Clone(body)
	}
	return nil
}

// Release implements [Store].
func (s *MemoryStore) Release(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.entries[key]; ok && !cur.e.Done {
		s.forget(cur)
	}
	return nil
}

// Len returns the number of entries held (pending and completed).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// expire forgets the entries whose retention has ended, oldest first.
func (s *MemoryStore) expire(now time.Time) {
	for s.head < len(s.order) {
		ent := s.order[s.head]
		if !ent.gone && now.Before(ent.reserved.Add(s.cfg.Retention)) {
			break
		}
		s.forget(ent)
		s.pop()
	}
	s.compact()
}

// evictOne forgets the oldest entry that is completed or whose
// reservation lapsed, and reports whether there was one.
func (s *MemoryStore) evictOne(now time.Time) bool {
	for i := s.head; i < len(s.order); i++ {
		ent := s.order[i]
		if !ent.gone && (ent.e.Done || !now.Before(ent.reserved.Add(s.cfg.LockTimeout))) {
			s.forget(ent)
			s.compact()
			return true
		}
	}
	return false
}

// forget removes ent from the map; its slot in order is dropped later.
func (s *MemoryStore) forget(ent *idemEntry) {
	if s.entries[ent.key] == ent {
		delete(s.entries, ent.key)
	}
	ent.gone = true
}

func (s *MemoryStore) pop() {
	s.order[s.head] = nil
	s.head++
}

// compact drops forgotten entries from the front of order, and rebuilds
// order once half of it is dead.
func (s *MemoryStore) compact() {
	for s.head < len(s.order) && s.order[s.head].gone {
		s.pop()
	}
	if s.head > 0 && s.head >= len(s.order)/2 || len(s.order) > 2*len(s.entries)+64 {
		live := s.order[:0]
		for _, ent := range s.order[s.head:] {
			if !ent.gone {
				live = append(live, ent)
			}
		}
		clear(s.order[len(live):])
		s.order, s.head = live, 0
	}
}

func cloneEntry(e Entry) Entry {
	e.Fingerprint = bytes.Clone(e.Fingerprint)
	e.Body = bytes.Clone(e.Body)
	return e
}
