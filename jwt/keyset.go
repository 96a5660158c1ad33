package jwt

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// KeySet holds the keys of an issuer or verifier, by key ID: one current
// key that signs, and older keys that keep verifying until they are
// retired. It is safe for concurrent use; lookups take no lock.
//
// It is also the http.Handler for /.well-known/jwks.json, which publishes
// the public keys of its asymmetric keys and never an HMAC secret.
type KeySet struct {
	mu   sync.Mutex // serialises changes
	snap atomic.Pointer[keySnapshot]
}

type keySnapshot struct {
	current *Key
	byID    map[string]*Key
	jwks    []byte // the JWKS document of the public keys
}

// NewKeySet returns a key set whose current (signing or, for a verifier,
// only) key is current, plus further verifying keys.
func NewKeySet(current *Key, more ...*Key) (*KeySet, error) {
	s := new(KeySet)
	byID := map[string]*Key{}
	for _, k := range append([]*Key{current}, more...) {
		if k == nil {
			return nil, fmt.Errorf("%w: nil key", ErrInvalidConfig)
		}
		if _, dup := byID[k.id]; dup {
			return nil, fmt.Errorf("%w: duplicate key ID %q", ErrInvalidKeyID, k.id)
		}
		byID[k.id] = k
	}
	if err := s.publish(current, byID); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the key that signs new tokens.
func (s *KeySet) Current() *Key { return s.snap.Load().current }

// Lookup returns the key with that ID.
func (s *KeySet) Lookup(kid string) (*Key, bool) {
	k, ok := s.snap.Load().byID[kid]
	return k, ok
}

// Rotate makes next the signing key. The previous current key stays in the
// set, verifying the tokens it signed, until [KeySet.Retire].
func (s *KeySet) Rotate(next *Key) error {
	if next == nil || !next.CanSign() {
		return fmt.Errorf("%w: the new current key must be able to sign", ErrInvalidConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	if _, dup := old.byID[next.id]; dup {
		return fmt.Errorf("%w: duplicate key ID %q", ErrInvalidKeyID, next.id)
	}
	byID := make(map[string]*Key, len(old.byID)+1)
	for id, k := range old.byID {
		byID[id] = k
	}
	byID[next.id] = next
	return s.publish(next, byID)
}

// Retire removes a key that no longer verifies anything. The current key
// cannot be retired.
func (s *KeySet) Retire(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	if old.current.id == kid {
		return fmt.Errorf("%w: the current key cannot be retired", ErrInvalidConfig)
	}
	if _, ok := old.byID[kid]; !ok {
		return fmt.Errorf("%w: no key %q", ErrUnknownKey, kid)
	}
	byID := make(map[string]*Key, len(old.byID))
	for id, k := range old.byID {
		if id != kid {
			byID[id] = k
		}
	}
	return s.publish(old.current, byID)
}

// publish builds the JWKS document and swaps in the new snapshot.
func (s *KeySet) publish(current *Key, byID map[string]*Key) error {
	set := jwk.NewSet()
	// Publish the current key first, then the others in key ID order.
	ids := make([]string, 0, len(byID))
	for id := range byID {
		if id != current.id {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range append([]string{current.id}, ids...) {
		k := byID[id]
		if k.alg == HS256 {
			continue // a shared secret is never published
		}
		pub, err := jwk.Import(k.public)
		if err != nil {
			return fmt.Errorf("jwt: JWK of key %q: %w", id, err)
		}
		for name, v := range map[string]any{jwk.KeyIDKey: k.id, jwk.AlgorithmKey: string(k.alg), jwk.KeyUsageKey: "sig"} {
			if err := pub.Set(name, v); err != nil {
				return fmt.Errorf("jwt: JWK of key %q: %w", id, err)
			}
		}
		if err := set.AddKey(pub); err != nil {
			return fmt.Errorf("jwt: JWK of key %q: %w", id, err)
		}
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("jwt: JWKS: %w", err)
	}
	s.snap.Store(&keySnapshot{current: current, byID: byID, jwks: doc})
	return nil
}

// JWKS returns the JSON Web Key Set document of the public keys.
func (s *KeySet) JWKS() []byte { return append([]byte(nil), s.snap.Load().jwks...) }

// ServeHTTP serves the JWKS document (for GET and HEAD).
func (s *KeySet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, `{"error":"method_not_allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(s.snap.Load().jwks)
}
