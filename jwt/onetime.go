package jwt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keygate/keygate"
)

// DefaultOneTimeTTL is [OneTimeConfig.TTL] when zero.
const DefaultOneTimeTTL = 60 * time.Second

// DefaultOneTimePerKey is [OneTimeConfig.MaxPerKey] when zero: one
// credential may hold 1,000 outstanding one-time tokens (about 300 KB in
// the memory store), far more than a client redeeming its tokens within
// the minute of their lifetime needs, and few enough that no credential
// can make the store grow without bound.
const DefaultOneTimePerKey = 1000

// OneTimeRecord is what a [OneTimeStore] keeps about one one-time token:
// its hash, never the token, its purpose, who obtained it and its optional
// bindings. An empty binding (or a zero BodyHash) binds nothing.
type OneTimeRecord struct {
	// Hash is the SHA-256 of the whole token; it identifies the record.
	Hash [32]byte
	// Purpose names the one operation the token allows, for example
	// "checkout:confirm".
	Purpose string
	// Account, KeyID and Subject identify who obtained the token; the
	// caller that redeems it acts as them.
	Account string
	KeyID   string
	Subject string
	// Mode is the mode of the credential that obtained the token.
	Mode keygate.Mode
	// Method, Path and EntityID, when set, must equal the request's.
	Method   string
	Path     string
	EntityID string
	// BodyHash, when not zero, is the SHA-256 of the only request body
	// the token accepts.
	BodyHash [32]byte
	// IssuedAt and ExpiresAt bound the token's life.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// OneTimeStore keeps one-time token records. Implementations must be safe
// for concurrent use and honour ctx (return ctx.Err(), wrapped or not, once
// it is done, without changing anything).
//
// Consume is atomic by contract: it removes and returns the record in one
// step, so that of any number of concurrent calls for one hash, in any
// number of processes sharing the store, exactly one gets the record. In
// Redis that is GETDEL (and Put is SET ... NX PXAT); in SQL, DELETE ...
// WHERE hash = $1 RETURNING ....
//
// Run the conformance suite in package jwttest against every
// implementation.
//
// Put bounds what one credential may hold: the records of one owner (the
// pair rec.Account, rec.KeyID) that have not expired are counted, and a Put
// that would make them more than max is refused. The count and the insert
// are one step, also between concurrent Puts on several instances (a lock
// in the memory store, a Lua script in Redis, a transaction holding a
// lock on the owner in SQL).
type OneTimeStore interface {
	// Put stores rec. It returns an error wrapping [ErrExists] if a
	// record with rec.Hash exists, and, if max > 0, an error wrapping
	// [ErrOneTimeQuota] if max records of rec's Account and KeyID are
	// stored and not expired (ExpiresAt after rec.IssuedAt, or after the
	// store's own clock); max <= 0 bounds nothing. The store may forget
	// rec once rec.ExpiresAt has passed.
	Put(ctx context.Context, rec OneTimeRecord, max int) error
	// Consume removes the record with this hash and returns it, or returns
	// an error wrapping [ErrNotFound] if there is none (never stored,
	// already consumed, or forgotten after expiry). It may return a record
	// that has expired: the caller checks ExpiresAt.
	Consume(ctx context.Context, hash [32]byte) (OneTimeRecord, error)
}

// MemoryOneTimeStore is the in-memory [OneTimeStore]: safe for concurrent
// use, lost when the process ends. Every so often it forgets the records
// that expired before the IssuedAt of the record being stored (so that it
// follows the caller's clock). It also indexes the records by owner
// (account and key ID): a bounded Put forgets the owner's records that have
// expired by rec.IssuedAt and counts the others, in time proportional to
// max. The zero value is not usable; call [NewMemoryOneTimeStore].
type MemoryOneTimeStore struct {
	mu     sync.Mutex
	recs   map[[32]byte]OneTimeRecord
	owners map[oneTimeOwner]map[[32]byte]struct{}
	writes int
}

// oneTimeOwner is the credential a one-time record counts against.
type oneTimeOwner struct{ account, keyID string }

func ownerOf(rec OneTimeRecord) oneTimeOwner { return oneTimeOwner{rec.Account, rec.KeyID} }

// NewMemoryOneTimeStore returns an empty MemoryOneTimeStore.
func NewMemoryOneTimeStore() *MemoryOneTimeStore {
	return &MemoryOneTimeStore{recs: map[[32]byte]OneTimeRecord{}, owners: map[oneTimeOwner]map[[32]byte]struct{}{}}
}

var _ OneTimeStore = (*MemoryOneTimeStore)(nil)

// Put implements [OneTimeStore].
func (s *MemoryOneTimeStore) Put(ctx context.Context, rec OneTimeRecord, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.Hash]; ok {
		return ErrExists
	}
	o := ownerOf(rec)
	held := s.owners[o]
	if max > 0 && len(held) >= max {
		for h := range held {
			if !s.recs[h].ExpiresAt.After(rec.IssuedAt) {
				s.forget(h)
			}
		}
		if held = s.owners[o]; len(held) >= max {
			return fmt.Errorf("%w: %d outstanding", ErrOneTimeQuota, len(held))
		}
	}
	if s.writes++; s.writes >= sweepEvery {
		s.writes = 0
		for h, r := range s.recs {
			if r.ExpiresAt.Before(rec.IssuedAt) {
				s.forget(h)
			}
		}
		held = s.owners[o]
	}
	if held == nil {
		held = map[[32]byte]struct{}{}
		s.owners[o] = held
	}
	held[rec.Hash] = struct{}{}
	s.recs[rec.Hash] = rec
	return nil
}

// forget removes the record with hash h from recs and its owner's index;
// s.mu is held.
func (s *MemoryOneTimeStore) forget(h [32]byte) {
	rec, ok := s.recs[h]
	if !ok {
		return
	}
	delete(s.recs, h)
	o := ownerOf(rec)
	if held := s.owners[o]; held != nil {
		delete(held, h)
		if len(held) == 0 {
			delete(s.owners, o)
		}
	}
}

// Outstanding returns the number of records of the account and key ID
// that the store holds, counting those that have expired but are not yet
// forgotten. It is meant for monitoring and tests.
func (s *MemoryOneTimeStore) Outstanding(account, keyID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.owners[oneTimeOwner{account, keyID}])
}

// Consume implements [OneTimeStore].
func (s *MemoryOneTimeStore) Consume(ctx context.Context, hash [32]byte) (OneTimeRecord, error) {
	if err := ctx.Err(); err != nil {
		return OneTimeRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recs[hash]
	if !ok {
		return OneTimeRecord{}, ErrNotFound
	}
	s.forget(hash)
	return rec, nil
}

// OneTimeConfig configures [OneTimeTokens]. The zero value is usable: an
// in-memory store, a 60-second lifetime and the system clock.
type OneTimeConfig struct {
	// Store keeps the records. Nil means a new [MemoryOneTimeStore]; use
	// a shared store when several processes serve the routes.
	Store OneTimeStore
	// TTL is the lifetime of a token. Zero means [DefaultOneTimeTTL].
	TTL time.Duration
	// MaxPerKey bounds the outstanding tokens (issued, neither redeemed
	// nor expired) of one credential, that is of one account and key ID
	// (of one account when the key ID is empty), in the store: Issue
	// refuses another with an error wrapping [ErrOneTimeQuota]. Zero
	// means [DefaultOneTimePerKey]. The store enforces it (see
	// [OneTimeStore]), so it holds across instances sharing a store.
	MaxPerKey int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// OneTimeParams describes the one-time token to issue.
type OneTimeParams struct {
	// Purpose names the one operation the token allows, for example
	// "checkout:confirm". Required.
	Purpose string
	// Account is the account of the caller that obtains the token.
	// Required.
	Account string
	// KeyID and Subject identify the caller further: the key ID of its
	// credential and its subject.
	KeyID   string
	Subject string
	// Mode is the mode of the caller's credential. Required.
	Mode keygate.Mode
	// Method, Path and EntityID, when set, bind the token to the request
	// method (compared exactly, so use the canonical upper case), the URL
	// path (in the form the redeeming route will pass) and the ID of the
	// entity the operation acts on.
	Method   string
	Path     string
	EntityID string
	// Body, when not nil, binds the token to this exact request body
	// through its SHA-256; an empty non-nil Body binds the empty body.
	Body []byte
}

// Use describes the request that presents a one-time token: the route's
// purpose and what the bindings are checked against.
type Use struct {
	// Purpose is the one purpose the route accepts.
	Purpose string
	// Method, Path, EntityID and Body are the request's; each is checked
	// only when the token binds it.
	Method   string
	Path     string
	EntityID string
	Body     []byte
}

// OneTimeTokens issues and redeems one-time tokens: short-lived tokens for
// one protected operation, presented as "Authorization: Bearer <token>" on
// the one route that accepts their purpose. It is safe for concurrent use.
//
// A one-time token is "kgot_" followed by 43 base64url characters (256 bits
// from crypto/rand); the store keeps only its SHA-256.
type OneTimeTokens struct {
	store  OneTimeStore
	ttl    time.Duration
	perKey int
	now    func() time.Time
}

// NewOneTimeTokens returns a OneTimeTokens for cfg. It fails, with an error
// wrapping [ErrInvalidConfig], if TTL or MaxPerKey is negative.
func NewOneTimeTokens(cfg OneTimeConfig) (*OneTimeTokens, error) {
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("%w: negative one-time token TTL", ErrInvalidConfig)
	}
	if cfg.MaxPerKey < 0 {
		return nil, fmt.Errorf("%w: negative one-time token MaxPerKey", ErrInvalidConfig)
	}
	ot := &OneTimeTokens{store: cfg.Store, ttl: cfg.TTL, perKey: cfg.MaxPerKey, now: cfg.Now}
	if ot.perKey == 0 {
		ot.perKey = DefaultOneTimePerKey
	}
	if ot.store == nil {
		ot.store = NewMemoryOneTimeStore()
	}
	if ot.ttl == 0 {
		ot.ttl = DefaultOneTimeTTL
	}
	if ot.now == nil {
		ot.now = time.Now
	}
	return ot, nil
}

// Store returns the store of the one-time tokens.
func (ot *OneTimeTokens) Store() OneTimeStore { return ot.store }

// Issue stores a new one-time token for p and returns it with the record
// stored for it, whose IssuedAt and ExpiresAt give its lifetime (for an
// expires_in field). The token is returned only here: the store keeps its
// hash. If the credential (p.Account and p.KeyID) already holds MaxPerKey
// outstanding tokens, Issue stores nothing and returns an error wrapping
// [ErrOneTimeQuota].
func (ot *OneTimeTokens) Issue(ctx context.Context, p OneTimeParams) (string, OneTimeRecord, error) {
	switch {
	case p.Purpose == "" || p.Account == "":
		return "", OneTimeRecord{}, fmt.Errorf("%w: a one-time token needs a purpose and an account", ErrInvalidParams)
	case !p.Mode.Valid():
		return "", OneTimeRecord{}, fmt.Errorf("%w: a one-time token needs mode test or live", ErrInvalidParams)
	}
	tok, hash, err := newOpaqueToken(OneTimeTokenPrefix)
	if err != nil {
		return "", OneTimeRecord{}, err
	}
	now := ot.now()
	rec := OneTimeRecord{
		Hash:    hash,
		Purpose: p.Purpose,
		Account: p.Account, KeyID: p.KeyID, Subject: p.Subject, Mode: p.Mode,
		Method: p.Method, Path: p.Path, EntityID: p.EntityID,
		IssuedAt:  now,
		ExpiresAt: now.Add(ot.ttl),
	}
	if p.Body != nil {
		rec.BodyHash = sha256.Sum256(p.Body)
	}
	if err := ot.store.Put(ctx, rec, ot.perKey); err != nil {
		return "", OneTimeRecord{}, fmt.Errorf("jwt: store one-time token: %w", err)
	}
	return tok, rec, nil
}

// Redeem consumes token for the request described by u and returns its
// record, which says who obtained it (Account, KeyID, Subject, Mode).
//
// The token is consumed first, atomically, and only then checked: a token
// presented for the wrong purpose, to the wrong method, path or entity, or
// with another body, is burnt, and the client must obtain a new one. That
// is deliberate. The single atomic consume is the only gate, so there is no
// check-then-use race between concurrent requests; a token that reaches the
// wrong route has leaked or is being misused, and burning it means that
// whoever holds it gets one attempt, never a chance to probe the bindings
// until one matches.
//
// Every error wraps [ErrOneTimeInvalid], except store failures and a
// cancelled ctx: ErrOneTimeInvalid itself for a malformed, unknown or
// already used token; [ErrOneTimeExpired] after its lifetime;
// [ErrOneTimePurpose] for another purpose than u.Purpose;
// [ErrOneTimeBinding] for a request that does not match a binding the token
// sets.
func (ot *OneTimeTokens) Redeem(ctx context.Context, token string, u Use) (OneTimeRecord, error) {
	hash, ok := hashOpaque(token, OneTimeTokenPrefix)
	if !ok {
		return OneTimeRecord{}, fmt.Errorf("%w: malformed", ErrOneTimeInvalid)
	}
	rec, err := ot.store.Consume(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		return OneTimeRecord{}, fmt.Errorf("%w: unknown or already used", ErrOneTimeInvalid)
	case err != nil:
		return OneTimeRecord{}, fmt.Errorf("jwt: consume one-time token: %w", err)
	case !sameHash(rec.Hash, hash):
		// A store that returns another record than asked for is broken;
		// never let it hand out someone else's token.
		return OneTimeRecord{}, fmt.Errorf("%w: unknown or already used", ErrOneTimeInvalid)
	}
	if !ot.now().Before(rec.ExpiresAt) {
		return OneTimeRecord{}, ErrOneTimeExpired
	}
	if u.Purpose == "" || rec.Purpose != u.Purpose {
		return OneTimeRecord{}, ErrOneTimePurpose
	}
	switch {
	case rec.Method != "" && rec.Method != u.Method:
		return OneTimeRecord{}, fmt.Errorf("%w: method", ErrOneTimeBinding)
	case rec.Path != "" && rec.Path != u.Path:
		return OneTimeRecord{}, fmt.Errorf("%w: path", ErrOneTimeBinding)
	case rec.EntityID != "" && rec.EntityID != u.EntityID:
		return OneTimeRecord{}, fmt.Errorf("%w: entity ID", ErrOneTimeBinding)
	case rec.BodyHash != [32]byte{} && !sameHash(rec.BodyHash, sha256.Sum256(u.Body)):
		return OneTimeRecord{}, fmt.Errorf("%w: body", ErrOneTimeBinding)
	}
	return rec, nil
}
