package httpsig

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryCredentialStore is the embedded in-memory [CredentialStore]: safe
// for concurrent use, lost when the process ends. It holds the secrets
// sealed, like any other store. Reads take no lock; writes are serialised.
// Like a database, it keeps Created without its monotonic clock reading, so
// that List orders by wall-clock time, as its positions do.
// The zero value is not usable; call [NewMemoryCredentialStore].
type MemoryCredentialStore struct {
	mu    sync.Mutex // serialises writers; readers use creds alone
	creds sync.Map   // key ID → *Credential, never modified once stored
}

// NewMemoryCredentialStore returns an empty MemoryCredentialStore.
func NewMemoryCredentialStore() *MemoryCredentialStore {
	return &MemoryCredentialStore{}
}

var _ CredentialStore = (*MemoryCredentialStore)(nil)

// Create implements [CredentialStore].
func (s *MemoryCredentialStore) Create(ctx context.Context, c Credential) (Credential, error) {
	if err := ctx.Err(); err != nil {
		return Credential{}, err
	}
	c = c.clone()
	c.Created = c.Created.Round(0) // see MemoryCredentialStore
	c.Version = 1
	if _, loaded := s.creds.LoadOrStore(c.KeyID, &c); loaded {
		return Credential{}, fmt.Errorf("%w: %s", ErrExists, c.KeyID)
	}
	return c.clone(), nil
}

// Get implements [CredentialStore].
func (s *MemoryCredentialStore) Get(ctx context.Context, keyID string) (Credential, error) {
	if err := ctx.Err(); err != nil {
		return Credential{}, err
	}
	v, ok := s.creds.Load(keyID)
	if !ok {
		return Credential{}, fmt.Errorf("%w: %s", ErrNotFound, keyID)
	}
	return v.(*Credential).clone(), nil
}

// getShared is Get without the copy, for the Manager's verifier path:
// the stored record is never modified (Update replaces it), so its
// slices may be read, never written.
func (s *MemoryCredentialStore) getShared(ctx context.Context, keyID string) (*Credential, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, ok := s.creds.Load(keyID)
	if !ok {
		return nil, ErrNotFound // its only caller needs no key ID in it
	}
	return v.(*Credential), nil
}

// List implements [CredentialStore]. It sorts the matching credentials on
// each call: fine for the numbers an in-memory store holds.
func (s *MemoryCredentialStore) List(ctx context.Context, f ListFilter) ([]Credential, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var matched []*Credential
	s.creds.Range(func(_, v any) bool {
		if c := v.(*Credential); f.matches(c) {
			matched = append(matched, c)
		}
		return true
	})
	slices.SortFunc(matched, func(a, b *Credential) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.KeyID, b.KeyID)
	})
	if f.Limit > 0 && len(matched) > f.Limit {
		matched = matched[:f.Limit]
	}
	out := make([]Credential, len(matched))
	for i, c := range matched {
		out[i] = c.clone()
	}
	return out, nil
}

// Update implements [CredentialStore].
func (s *MemoryCredentialStore) Update(ctx context.Context, c Credential) (Credential, error) {
	if err := ctx.Err(); err != nil {
		return Credential{}, err
	}
	c = c.clone()
	c.Created = c.Created.Round(0) // see MemoryCredentialStore
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.creds.Load(c.KeyID)
	if !ok {
		return Credential{}, fmt.Errorf("%w: %s", ErrNotFound, c.KeyID)
	}
	if cur := v.(*Credential); cur.Version != c.Version {
		return Credential{}, fmt.Errorf("%w: %s", ErrConflict, c.KeyID)
	}
	c.Version++
	// Replace, never modify: readers may hold the old record.
	s.creds.Store(c.KeyID, &c)
	return c.clone(), nil
}
