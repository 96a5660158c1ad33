package jwt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keygate/keygate/internal/seal"
)

// StoredKey is a signing key as a [KeyStore] keeps it: its
// [Key.MarshalPrivate] form, sealed by [LoadSharedKeys] under the master
// key, so that the store never sees a private key.
type StoredKey struct {
	ID      string
	Sealed  []byte
	Created time.Time
}

// KeyStore keeps the signing keys of a service whose instances must sign
// and verify with the same keys and publish the same JWKS. It holds sealed
// keys only. Implementations must be safe for concurrent use, honour ctx,
// and make Add atomic: of two instances adding the same ID at once, one
// gets [ErrExists]. Run jwttest.TestKeyStore against every
// implementation.
type KeyStore interface {
	// Add stores k, or returns an error wrapping [ErrExists].
	Add(ctx context.Context, k StoredKey) error
	// List returns every stored key, oldest first (by Created, then ID).
	List(ctx context.Context) ([]StoredKey, error)
}

// MemoryKeyStore is an in-memory [KeyStore], for tests and single
// processes.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys []StoredKey
}

// NewMemoryKeyStore returns an empty MemoryKeyStore.
func NewMemoryKeyStore() *MemoryKeyStore { return &MemoryKeyStore{} }

// Add implements [KeyStore].
func (s *MemoryKeyStore) Add(ctx context.Context, k StoredKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have.ID == k.ID {
			return errKeyExists
		}
	}
	k.Sealed = slices.Clone(k.Sealed)
	s.keys = append(s.keys, k)
	return nil
}

// List implements [KeyStore].
func (s *MemoryKeyStore) List(ctx context.Context) ([]StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredKey, len(s.keys))
	for i, k := range s.keys {
		k.Sealed = slices.Clone(k.Sealed)
		out[i] = k
	}
	slices.SortStableFunc(out, func(a, b StoredKey) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// SharedKeysConfig configures [LoadSharedKeys].
type SharedKeysConfig struct {
	// Store keeps the sealed keys. Required.
	Store KeyStore
	// MasterKey seals and opens them: 32 random bytes (AES-256-GCM),
	// kept outside the store. Required.
	MasterKey []byte
	// Algorithm of the first key, when the store is empty. Zero means
	// RS256.
	Algorithm Algorithm
	// FirstKeyID is the ID of the first key. Every instance uses the same
	// one, so that when several start at once on an empty store, one adds
	// it and the others load it. Empty means "kg-1".
	FirstKeyID string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// keySealLabel binds sealed signing keys to their purpose.
const keySealLabel = "keygate jwt signing key v1\x00"

// LoadSharedKeys returns the KeySet of the keys in cfg.Store, opened with
// the master key: the newest signs, the others verify. On an empty store it
// first generates and adds the first key, so that every instance started on
// the same store signs and verifies with the same keys and serves the same
// JWKS. A key that does not open (another master key, altered data) is an
// error, never skipped.
func LoadSharedKeys(ctx context.Context, cfg SharedKeysConfig) (*KeySet, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: SharedKeysConfig.Store is required", ErrInvalidConfig)
	}
	sealer, err := seal.New(cfg.MasterKey, keySealLabel)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = RS256
	}
	if cfg.FirstKeyID == "" {
		cfg.FirstKeyID = "kg-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	stored, err := cfg.Store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("jwt: list signing keys: %w", err)
	}
	if len(stored) == 0 {
		k, err := GenerateKey(cfg.FirstKeyID, cfg.Algorithm)
		if err != nil {
			return nil, err
		}
		data, err := k.MarshalPrivate()
		if err != nil {
			return nil, err
		}
		sealed := sealer.Seal(k.ID(), data)
		clear(data) // the plaintext private key: not kept until the collector runs
		err = cfg.Store.Add(ctx, StoredKey{ID: k.ID(), Sealed: sealed, Created: cfg.Now()})
		if err != nil && !errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("jwt: add signing key: %w", err)
		}
		// Whoever won the race, load what is stored.
		if stored, err = cfg.Store.List(ctx); err != nil {
			return nil, fmt.Errorf("jwt: list signing keys: %w", err)
		}
		if len(stored) == 0 {
			return nil, errors.New("jwt: the key store lost the signing key just added")
		}
	}
	keys := make([]*Key, 0, len(stored))
	for _, sk := range stored {
		data, err := sealer.Open(sk.ID, sk.Sealed)
		if err != nil {
			return nil, fmt.Errorf("jwt: signing key %q does not open under this master key: %w", sk.ID, err)
		}
		k, err := ParsePrivate(data) // copies what it keeps
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("jwt: signing key %q: %w", sk.ID, err)
		}
		if k.ID() != sk.ID {
			return nil, fmt.Errorf("jwt: signing key %q holds key %q", sk.ID, k.ID())
		}
		keys = append(keys, k)
	}
	current := keys[len(keys)-1]
	return NewKeySet(current, keys[:len(keys)-1]...)
}
