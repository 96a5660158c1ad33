package jwt

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate"
)

// Opaque tokens: refresh and one-time tokens are not JWTs but random
// strings, of which stores keep only the SHA-256. Their prefixes tell them
// apart from each other, from access tokens (which always start with
// "eyJ") and from API keys, so that no kind of token passes as another.
const (
	// RefreshTokenPrefix starts every refresh token.
	RefreshTokenPrefix = "kgrt_"
	// OneTimeTokenPrefix starts every one-time token.
	OneTimeTokenPrefix = "kgot_"
	// OpaqueSecretLen is the length of the random part of an opaque token:
	// 32 bytes from crypto/rand in unpadded base64url.
	OpaqueSecretLen = 43
	// RefreshTokenLen is the length of a refresh token.
	RefreshTokenLen = len(RefreshTokenPrefix) + OpaqueSecretLen
	// OneTimeTokenLen is the length of a one-time token.
	OneTimeTokenLen = len(OneTimeTokenPrefix) + OpaqueSecretLen
)

// newOpaqueToken returns a new token with prefix and its SHA-256.
func newOpaqueToken(prefix string) (string, [32]byte, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", [32]byte{}, fmt.Errorf("jwt: random token: %w", err)
	}
	tok := prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	return tok, sha256.Sum256([]byte(tok)), nil
}

// hashOpaque returns the SHA-256 of token if it is a well-formed token with
// prefix: the prefix followed by exactly OpaqueSecretLen base64url
// characters. Anything else is refused before any store lookup.
func hashOpaque(token, prefix string) ([32]byte, bool) {
	if len(token) != len(prefix)+OpaqueSecretLen || token[:len(prefix)] != prefix {
		return [32]byte{}, false
	}
	for i := len(prefix); i < len(token); i++ {
		switch c := token[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return [32]byte{}, false
		}
	}
	return sha256.Sum256([]byte(token)), true
}

// sameHash compares two token hashes in constant time.
func sameHash(a, b [32]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Refresh token defaults.
const (
	// DefaultRefreshIdleTimeout is [RefreshConfig.IdleTimeout] when zero:
	// a session ends after 14 days without a refresh.
	DefaultRefreshIdleTimeout = 14 * 24 * time.Hour
	// DefaultRefreshAbsoluteLifetime is [RefreshConfig.AbsoluteLifetime]
	// when zero: a session ends 90 days after sign-in, refreshed or not.
	DefaultRefreshAbsoluteLifetime = 90 * 24 * time.Hour
	// DefaultMaxRefreshFamilies is [RefreshConfig.MaxFamilies] when zero:
	// one client and subject (one user of one application) hold at most
	// 100 open sessions; signing in a 101st time ends the oldest.
	DefaultMaxRefreshFamilies = 100
)

// RefreshStatus is the state of one refresh token.
type RefreshStatus string

// The refresh token statuses.
const (
	// RefreshActive is the status of a token that can be exchanged,
	// once.
	RefreshActive RefreshStatus = "active"
	// RefreshRotated is the status of a token that has been exchanged
	// for the next one of its family. Presenting it again is reuse.
	RefreshRotated RefreshStatus = "rotated"
	// RefreshRevoked is the status of a token whose family has been
	// revoked. Revocation is final.
	RefreshRevoked RefreshStatus = "revoked"
)

// RefreshRecord is what a [RefreshStore] keeps about one refresh token: its
// hash, never the token, and what is needed to mint the next access token.
//
// The tokens rotated from one grant form a family, which shares Family,
// AbsoluteExpiresAt and the grant's fields, and is revoked as a whole.
type RefreshRecord struct {
	// Hash is the SHA-256 of the whole token; it identifies the record.
	Hash [32]byte
	// Family is a random ID shared by every token rotated from one grant.
	Family string
	// ClientID is the key ID of the API key of the client the token was
	// issued to. Only that client may exchange or revoke it.
	ClientID string
	// Subject is the sub of the access tokens: the account, or the user
	// of a password grant.
	Subject string
	// Scope is the scope of the access tokens minted from the family.
	Scope string
	// Grant is what the family's access tokens grant, copied into each
	// of them (see [RefreshRecord.AccessClaims]). A family carries only
	// its Account, Mode, Package, Permissions, Stores and AllowedIPs: a
	// store keeps only those, and [RefreshTokens] never sets DeniedIPs,
	// AllowedCountries or DeniedCountries. The token endpoint (package
	// oauth) takes the origin rules and the package from the client key
	// as it is at each refresh instead.
	keygate.Grant

	// IssuedAt is when this token was issued.
	IssuedAt time.Time
	// IdleExpiresAt ends this token if it is not exchanged before: each
	// rotation moves it forward, up to AbsoluteExpiresAt.
	IdleExpiresAt time.Time
	// AbsoluteExpiresAt ends the whole family; rotation never moves it.
	AbsoluteExpiresAt time.Time

	// Status is active, rotated or revoked.
	Status RefreshStatus
	// RotatedAt is when the token was exchanged; zero if it never was. It
	// is kept when the family is revoked afterwards: a token that was
	// rotated is reused whenever it is presented again.
	RotatedAt time.Time
	// RevokedAt is when the family was revoked; zero while it is not.
	RevokedAt time.Time
}

// Active reports whether the token can still be exchanged at now: it is
// active and neither its idle timeout nor its family's absolute lifetime
// has passed. Introspection (RFC 7662) reports this as "active".
func (r RefreshRecord) Active(now time.Time) bool {
	return r.Status == RefreshActive && now.Before(r.IdleExpiresAt) && now.Before(r.AbsoluteExpiresAt)
}

// AccessClaims returns the claims of an access token for the grant: sub,
// client_id, scope, sid (the family) and keygate's claims. The caller may narrow Scope (RFC
// 6749 §6) before passing them to [Issuer.Issue], which sets the rest. The
// slices are copies.
func (r RefreshRecord) AccessClaims() Claims {
	return Claims{
		Subject:  r.Subject,
		ClientID: r.ClientID,
		Scope:    r.Scope,
		Session:  r.Family,
		Grant:    carried(r.Grant),
	}
}

// clone returns a copy of r that shares no memory with it.
func (r RefreshRecord) clone() RefreshRecord {
	r.Grant = keygate.CloneGrant(r.Grant)
	return r
}

// carried returns a copy of the part of g a refresh family carries: its
// Account, Mode, Package, Permissions, Stores and AllowedIPs.
func carried(g keygate.Grant) keygate.Grant {
	return keygate.Grant{
		Account:     g.Account,
		Mode:        g.Mode,
		Package:     g.Package,
		Permissions: slices.Clone(g.Permissions),
		Stores:      slices.Clone(g.Stores),
		AllowedIPs:  slices.Clone(g.AllowedIPs),
	}
}

// RefreshStore keeps refresh token records. Implementations must be safe for
// concurrent use and honour ctx (return ctx.Err(), wrapped or not, once it
// is done, without changing anything). They must not keep references to the
// slices they are given, and the records they return must share no memory
// with their state.
//
// Atomicity is part of the contract, so that SQL backends (a transaction
// that locks the old row, SELECT ... FOR UPDATE) and Redis backends (a Lua
// script) implement it in the backend: Rotate decides and applies its
// outcome in one step, so that of two Rotate calls for one token exactly one
// succeeds; and once RevokeFamily has returned, no token of the family is
// active, even one stored by a Rotate racing it.
//
// Run the conformance suite in package jwttest against every
// implementation.
type RefreshStore interface {
	// Create stores rec, the first token of a new family. It returns an
	// error wrapping [ErrExists] if a record with rec.Hash exists.
	Create(ctx context.Context, rec RefreshRecord) error
	// Get returns the record with this hash, whatever its status, or an
	// error wrapping [ErrNotFound].
	Get(ctx context.Context, hash [32]byte) (RefreshRecord, error)
	// Rotate exchanges the token with hash old for next, the next token of
	// its family, atomically:
	//   - old is active: it becomes rotated with RotatedAt = now, next is
	//     stored as given, and Rotate returns old's updated record;
	//   - old was rotated before (RotatedAt is set, whether the family has
	//     been revoked since or not): this is reuse. The whole family,
	//     the tokens issued in exchange included, is revoked as by
	//     RevokeFamily(ctx, family, now), next is not stored, and Rotate
	//     returns old's updated record with an error wrapping
	//     [ErrRefreshReuse];
	//   - old is revoked and was never rotated: next is not stored, and
	//     Rotate returns old's record with an error wrapping
	//     [ErrRefreshRevoked];
	//   - there is no record with hash old: an error wrapping
	//     [ErrNotFound].
	// If next.Hash is taken, Rotate changes nothing and returns an error
	// wrapping [ErrExists]. Rotate does not check expiry times.
	Rotate(ctx context.Context, old [32]byte, next RefreshRecord, now time.Time) (RefreshRecord, error)
	// RevokeFamily revokes every token of the family: each one not yet
	// revoked gets Status revoked and RevokedAt = at; RotatedAt is kept.
	// Revoking an unknown or already revoked family is not an error.
	RevokeFamily(ctx context.Context, family string, at time.Time) error
	// OpenFamilies returns the families of the client clientID and the
	// subject that are open at now: that hold a token that is active with
	// its idle and absolute deadlines after now (see [RefreshRecord.Active]).
	// They are ordered oldest first: by AbsoluteExpiresAt, then by family
	// ID. [RefreshTokens.Issue] calls it to bound the families one client
	// and subject hold.
	OpenFamilies(ctx context.Context, clientID, subject string, now time.Time) ([]string, error)
}

// MemoryRefreshStore is the in-memory [RefreshStore]: safe for concurrent
// use, lost when the process ends. It forgets a family once its absolute
// lifetime has passed (measured against the IssuedAt of the records it is
// given, so that it follows the caller's clock). The zero value is not
// usable; call [NewMemoryRefreshStore].
type MemoryRefreshStore struct {
	mu       sync.Mutex
	recs     map[[32]byte]*RefreshRecord
	families map[string][][32]byte
	// owners lists the families of each client and subject, in the
	// order of their creation; OpenFamilies and the sweep drop the ones
	// that can no longer be open.
	owners map[refreshOwner][]string
	writes int
}

// refreshOwner is the client and subject a family counts against.
type refreshOwner struct{ clientID, subject string }

// NewMemoryRefreshStore returns an empty MemoryRefreshStore.
func NewMemoryRefreshStore() *MemoryRefreshStore {
	return &MemoryRefreshStore{recs: map[[32]byte]*RefreshRecord{}, families: map[string][][32]byte{},
		owners: map[refreshOwner][]string{}}
}

var _ RefreshStore = (*MemoryRefreshStore)(nil)

// sweepEvery is how many writes a memory store takes between two sweeps of
// expired records.
const sweepEvery = 1024

// Create implements [RefreshStore].
func (s *MemoryRefreshStore) Create(ctx context.Context, rec RefreshRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.Hash]; ok {
		return ErrExists
	}
	if _, ok := s.families[rec.Family]; !ok {
		o := refreshOwner{rec.ClientID, rec.Subject}
		s.owners[o] = append(s.owners[o], rec.Family)
	}
	s.insert(rec)
	return nil
}

// OpenFamilies implements [RefreshStore], in time proportional to the
// families of clientID and subject still indexed.
func (s *MemoryRefreshStore) OpenFamilies(ctx context.Context, clientID, subject string, now time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := refreshOwner{clientID, subject}
	var open []*RefreshRecord
	kept := s.owners[o][:0]
	for _, fam := range s.owners[o] {
		hashes := s.families[fam]
		if len(hashes) == 0 {
			continue // forgotten by the sweep
		}
		last := s.recs[hashes[len(hashes)-1]] // the newest token
		if last.Status == RefreshRevoked || !now.Before(last.AbsoluteExpiresAt) {
			continue // never open again
		}
		kept = append(kept, fam)
		if last.Active(now) {
			open = append(open, last)
		}
	}
	if len(kept) == 0 {
		delete(s.owners, o)
	} else {
		s.owners[o] = kept
	}
	slices.SortFunc(open, func(a, b *RefreshRecord) int {
		if c := a.AbsoluteExpiresAt.Compare(b.AbsoluteExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.Family, b.Family)
	})
	fams := make([]string, len(open))
	for i, r := range open {
		fams[i] = r.Family
	}
	return fams, nil
}

// Get implements [RefreshStore].
func (s *MemoryRefreshStore) Get(ctx context.Context, hash [32]byte) (RefreshRecord, error) {
	if err := ctx.Err(); err != nil {
		return RefreshRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[hash]
	if !ok {
		return RefreshRecord{}, ErrNotFound
	}
	return r.clone(), nil
}

// Rotate implements [RefreshStore].
func (s *MemoryRefreshStore) Rotate(ctx context.Context, old [32]byte, next RefreshRecord, now time.Time) (RefreshRecord, error) {
	if err := ctx.Err(); err != nil {
		return RefreshRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[old]
	switch {
	case !ok:
		return RefreshRecord{}, ErrNotFound
	case cur.Status == RefreshRotated || !cur.RotatedAt.IsZero():
		s.revokeFamily(cur.Family, now)
		return cur.clone(), ErrRefreshReuse
	case cur.Status != RefreshActive:
		s.revokeFamily(cur.Family, now)
		return cur.clone(), ErrRefreshRevoked
	}
	if _, taken := s.recs[next.Hash]; taken {
		return RefreshRecord{}, ErrExists
	}
	cur.Status = RefreshRotated
	cur.RotatedAt = now
	s.insert(next)
	return cur.clone(), nil
}

// RevokeFamily implements [RefreshStore].
func (s *MemoryRefreshStore) RevokeFamily(ctx context.Context, family string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeFamily(family, at)
	return nil
}

// revokeFamily revokes the family; s.mu is held.
func (s *MemoryRefreshStore) revokeFamily(family string, at time.Time) {
	for _, h := range s.families[family] {
		if r := s.recs[h]; r.Status != RefreshRevoked {
			r.Status = RefreshRevoked
			r.RevokedAt = at
		}
	}
}

// insert stores a copy of rec and, every so often, forgets the families
// whose absolute lifetime ended before rec was issued; s.mu is held.
func (s *MemoryRefreshStore) insert(rec RefreshRecord) {
	rec = rec.clone()
	s.recs[rec.Hash] = &rec
	s.families[rec.Family] = append(s.families[rec.Family], rec.Hash)
	if s.writes++; s.writes < sweepEvery {
		return
	}
	s.writes = 0
	swept := false
	for fam, hashes := range s.families {
		if s.recs[hashes[0]].AbsoluteExpiresAt.Before(rec.IssuedAt) {
			for _, h := range hashes {
				delete(s.recs, h)
			}
			delete(s.families, fam)
			swept = true
		}
	}
	if !swept {
		return
	}
	for o, fams := range s.owners {
		fams = slices.DeleteFunc(fams, func(f string) bool { _, ok := s.families[f]; return !ok })
		if len(fams) == 0 {
			delete(s.owners, o)
		} else {
			s.owners[o] = fams
		}
	}
}

// RefreshConfig configures [RefreshTokens]. The zero value is usable: an
// in-memory store, the default lifetimes and the system clock.
type RefreshConfig struct {
	// Store keeps the records. Nil means a new [MemoryRefreshStore].
	Store RefreshStore
	// IdleTimeout ends a session that is not refreshed for that long:
	// each refresh moves the deadline forward (a sliding session), up to
	// the absolute lifetime. Zero means [DefaultRefreshIdleTimeout].
	IdleTimeout time.Duration
	// AbsoluteLifetime ends a session that long after its grant, however
	// often it is refreshed. Zero means [DefaultRefreshAbsoluteLifetime].
	AbsoluteLifetime time.Duration
	// MaxFamilies bounds the open families (sessions) of one client and
	// subject: when Issue opens one more, it revokes the oldest open
	// families of that client and subject, so that at most MaxFamilies
	// stay open, and reports each through OnChange. Zero means
	// [DefaultMaxRefreshFamilies]. See [RefreshTokens.Issue] for why the
	// oldest is revoked rather than the new one refused.
	MaxFamilies int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// OnChange, when set, is told of two management actions, after they
	// are stored: [keygate.ActionRefreshReuse], a security event (a
	// rotated token was presented again and its family was revoked; the
	// actor is the client that presented it), and
	// [keygate.ActionRefreshRevoked] (Revoke, where the actor is the
	// revoking client; RevokeFamily, where it is the context's; and Issue
	// revoking the oldest families over MaxFamilies, where it is the
	// client that signed in again).
	// Change.TokenID is the family's ID; no token or hash of one is ever
	// reported. It runs on the request's goroutine, so it must
	// not block for long.
	OnChange keygate.ChangeFunc
	// Denylist, when set, takes the access tokens of a family with it
	// (RFC 9700 §4.14.2): when the family is revoked (Revoke,
	// RevokeFamily) or its reuse is detected, its ID is revoked as a
	// session ([Denylist.RevokeSession]), so that the verifier refuses
	// every access token whose sid names it ([Claims.Session],
	// [RefreshRecord.AccessClaims]). Use the verifier's denylist. Nil
	// means access tokens outlive their family.
	Denylist Denylist
	// AccessTokenTTL is the longest lifetime of the access tokens minted
	// with the family: a revoked family's Denylist entry lasts that long
	// past the revocation, when the last of them has expired. Zero means
	// AbsoluteLifetime, an upper bound that needs no knowledge of the
	// access tokens (the entry then lasts as long as the family could
	// have).
	AccessTokenTTL time.Duration
}

// RefreshGrant is what a new family of refresh tokens carries: the client
// it is issued to and what its access tokens grant.
type RefreshGrant struct {
	// ClientID is the key ID of the client's API key. Required.
	ClientID string
	// Subject is the sub of the access tokens. Required.
	Subject string
	// Scope is copied into each access token.
	Scope string
	// Grant is what the access tokens grant: its Account (required),
	// Mode (required, test or live), Package, Permissions, Stores and
	// AllowedIPs are copied into each of them. A family does not carry
	// DeniedIPs, AllowedCountries or DeniedCountries (see
	// [RefreshRecord]): Issue refuses a grant that sets them.
	keygate.Grant
}

// RefreshTokens issues, rotates and revokes refresh tokens (RFC 6749 §6)
// with rotation on every use and reuse detection (RFC 9700 §4.14.2). It is
// safe for concurrent use.
//
// A refresh token is "kgrt_" followed by 43 base64url characters (256 bits
// from crypto/rand); the store keeps only its SHA-256.
//
// Concurrent refreshes: there is no grace window. When two requests
// exchange the same token at the same time, exactly one wins; the other is
// treated as reuse and revokes the family, including the token the winner
// just received, so both clients must sign in again. This is RFC 9700's
// safe default: a legitimate client serialises its refreshes, and a window
// in which a rotated token still works is a window for a thief.
type RefreshTokens struct {
	store       RefreshStore
	idle        time.Duration
	absolute    time.Duration
	maxFamilies int
	now         func() time.Time
	onChange    keygate.ChangeFunc
	denylist    Denylist
	accessTTL   time.Duration
}

// NewRefreshTokens returns a RefreshTokens for cfg. It fails, with an error
// wrapping [ErrInvalidConfig], if a duration or MaxFamilies is negative.
func NewRefreshTokens(cfg RefreshConfig) (*RefreshTokens, error) {
	if cfg.IdleTimeout < 0 || cfg.AbsoluteLifetime < 0 || cfg.AccessTokenTTL < 0 {
		return nil, fmt.Errorf("%w: negative refresh token lifetime", ErrInvalidConfig)
	}
	if cfg.MaxFamilies < 0 {
		return nil, fmt.Errorf("%w: negative MaxFamilies", ErrInvalidConfig)
	}
	rt := &RefreshTokens{store: cfg.Store, idle: cfg.IdleTimeout, absolute: cfg.AbsoluteLifetime,
		maxFamilies: cfg.MaxFamilies, now: cfg.Now, onChange: cfg.OnChange, denylist: cfg.Denylist,
		accessTTL: cfg.AccessTokenTTL}
	if rt.maxFamilies == 0 {
		rt.maxFamilies = DefaultMaxRefreshFamilies
	}
	if rt.store == nil {
		rt.store = NewMemoryRefreshStore()
	}
	if rt.idle == 0 {
		rt.idle = DefaultRefreshIdleTimeout
	}
	if rt.absolute == 0 {
		rt.absolute = DefaultRefreshAbsoluteLifetime
	}
	if rt.accessTTL == 0 {
		rt.accessTTL = rt.absolute
	}
	if rt.now == nil {
		rt.now = time.Now
	}
	return rt, nil
}

// Store returns the store of the refresh tokens.
func (rt *RefreshTokens) Store() RefreshStore { return rt.store }

// Issue starts a new family for g and returns its first token and record.
// The token is returned only here: it is not stored. A grant without a
// client ID, a subject, an account or a valid mode, or with denied IPs or
// country rules (which a family does not carry), is refused with an error
// wrapping [ErrInvalidParams].
//
// Bound. One client and subject hold at most MaxFamilies open families.
// Once the new family is stored, Issue asks the store for the open
// families of g.ClientID and g.Subject and revokes the oldest of the
// others until MaxFamilies remain, new one included, reporting each
// through OnChange as [keygate.ActionRefreshRevoked]. Revoking the oldest
// rather than refusing the new one is what identity providers do (Auth0
// keeps 200 refresh tokens per user and application, revoking the oldest):
// a user who signs in again on a new device is never locked out by
// sessions forgotten on old ones, and the count stays bounded all the
// same. The bound is per client and subject, not per client alone, so
// that one user signing in over and over through a shared client can end
// only that user's sessions, never those of the client's other users.
// Issues racing for one client and subject each count the other's new
// family, so they may revoke more than needed (with MaxFamilies 1, both
// new families): the bound holds once they return, at the cost of a
// sign-in to repeat.
//
// If the open families cannot be read or revoked, Issue returns an error
// and no token (the new family stays stored, unusable, until it expires).
func (rt *RefreshTokens) Issue(ctx context.Context, g RefreshGrant) (string, RefreshRecord, error) {
	switch {
	case g.ClientID == "" || g.Subject == "" || g.Account == "":
		return "", RefreshRecord{}, fmt.Errorf("%w: a refresh grant needs a client ID, a subject and an account", ErrInvalidParams)
	case !g.Mode.Valid():
		return "", RefreshRecord{}, fmt.Errorf("%w: a refresh grant needs mode test or live", ErrInvalidParams)
	case len(g.DeniedIPs) > 0 || len(g.AllowedCountries) > 0 || len(g.DeniedCountries) > 0:
		return "", RefreshRecord{}, fmt.Errorf("%w: a refresh family carries no denied IPs and no country rules", ErrInvalidParams)
	}
	tok, hash, err := newOpaqueToken(RefreshTokenPrefix)
	if err != nil {
		return "", RefreshRecord{}, err
	}
	now := rt.now()
	rec := RefreshRecord{
		Hash:              hash,
		Family:            rand.Text(),
		ClientID:          g.ClientID,
		Subject:           g.Subject,
		Scope:             g.Scope,
		Grant:             carried(g.Grant),
		IssuedAt:          now,
		AbsoluteExpiresAt: now.Add(rt.absolute),
		Status:            RefreshActive,
	}
	rec.IdleExpiresAt = rt.idleDeadline(now, rec.AbsoluteExpiresAt)
	if err := rt.store.Create(ctx, rec); err != nil {
		return "", RefreshRecord{}, fmt.Errorf("jwt: store refresh token: %w", err)
	}
	if err := rt.bound(ctx, rec, now); err != nil {
		return "", RefreshRecord{}, err
	}
	return tok, rec.clone(), nil
}

// bound revokes the oldest open families of rec's client and subject,
// other than rec's, beyond MaxFamilies.
func (rt *RefreshTokens) bound(ctx context.Context, rec RefreshRecord, now time.Time) error {
	open, err := rt.store.OpenFamilies(ctx, rec.ClientID, rec.Subject, now)
	if err != nil {
		return fmt.Errorf("jwt: count refresh token families: %w", err)
	}
	open = slices.DeleteFunc(open, func(f string) bool { return f == rec.Family })
	for _, fam := range open[:max(0, len(open)-(rt.maxFamilies-1))] {
		if err := rt.endFamily(ctx, fam, now); err != nil {
			return err
		}
		old := rec
		old.Family = fam
		rt.report(ctx, keygate.ActionRefreshRevoked, old, now)
	}
	return nil
}

// idleDeadline is min(now+idle, absolute).
func (rt *RefreshTokens) idleDeadline(now, absolute time.Time) time.Time {
	if d := now.Add(rt.idle); d.Before(absolute) {
		return d
	}
	return absolute
}

// lookup returns the record of a well-formed, known token.
func (rt *RefreshTokens) lookup(ctx context.Context, token string) (RefreshRecord, error) {
	hash, ok := hashOpaque(token, RefreshTokenPrefix)
	if !ok {
		return RefreshRecord{}, fmt.Errorf("%w: malformed", ErrRefreshInvalid)
	}
	rec, err := rt.store.Get(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		return RefreshRecord{}, fmt.Errorf("%w: unknown", ErrRefreshInvalid)
	case err != nil:
		return RefreshRecord{}, fmt.Errorf("jwt: read refresh token: %w", err)
	case !sameHash(rec.Hash, hash):
		// A store that returns another record than asked for is broken;
		// never let it hand out someone else's grant.
		return RefreshRecord{}, fmt.Errorf("%w: unknown", ErrRefreshInvalid)
	}
	return rec, nil
}

// Lookup returns the record of token, whatever its status and expiry, for
// introspection (RFC 7662: see [RefreshRecord.Active]). It returns an error
// wrapping [ErrRefreshInvalid] if the token is malformed or unknown.
func (rt *RefreshTokens) Lookup(ctx context.Context, token string) (RefreshRecord, error) {
	return rt.lookup(ctx, token)
}

// Rotate exchanges token, presented by the client clientID, for the next
// token of its family (the refresh_token grant), and returns the new token
// and its record, from which the caller mints the access token (see
// [RefreshRecord.AccessClaims]). The new token keeps the grant, its scope
// included (RFC 6749 §6), and the family's absolute deadline; its idle
// deadline is min(now+IdleTimeout, AbsoluteExpiresAt): each refresh slides
// the session.
//
// Every error wraps [ErrRefreshInvalid] (invalid_grant), except store
// failures and a cancelled ctx. In order:
//   - malformed or unknown token: ErrRefreshInvalid;
//   - token issued to another client: [ErrRefreshClient], and nothing
//     changes (a client cannot affect another client's session);
//   - token already rotated: [ErrRefreshReuse]. The family is revoked,
//     whatever the token's own expiry, its access tokens with it (with
//     RefreshConfig.Denylist), and OnChange is told;
//   - family revoked: [ErrRefreshRevoked];
//   - idle timeout or absolute lifetime passed: [ErrRefreshExpired].
//
// See [RefreshTokens] for two concurrent refreshes with one token.
func (rt *RefreshTokens) Rotate(ctx context.Context, token, clientID string) (string, RefreshRecord, error) {
	rec, err := rt.lookup(ctx, token)
	if err != nil {
		return "", RefreshRecord{}, err
	}
	if rec.ClientID != clientID {
		return "", RefreshRecord{}, ErrRefreshClient
	}
	now := rt.now()
	if rec.Status == RefreshActive && (!now.Before(rec.IdleExpiresAt) || !now.Before(rec.AbsoluteExpiresAt)) {
		return "", RefreshRecord{}, ErrRefreshExpired
	}
	// A rotated or revoked token goes to the store too, which detects
	// reuse and revokes the family atomically.
	tok, hash, err := newOpaqueToken(RefreshTokenPrefix)
	if err != nil {
		return "", RefreshRecord{}, err
	}
	next := rec.clone()
	next.Hash = hash
	next.IssuedAt = now
	next.IdleExpiresAt = rt.idleDeadline(now, rec.AbsoluteExpiresAt)
	next.Status = RefreshActive
	next.RotatedAt = time.Time{}
	next.RevokedAt = time.Time{}
	old, err := rt.store.Rotate(ctx, rec.Hash, next, now)
	switch {
	case errors.Is(err, ErrRefreshReuse):
		rt.report(ctx, keygate.ActionRefreshReuse, old, now)
		if err := rt.revokeSession(ctx, old.Family, now); err != nil {
			return "", RefreshRecord{}, err
		}
		return "", RefreshRecord{}, ErrRefreshReuse
	case errors.Is(err, ErrRefreshRevoked):
		return "", RefreshRecord{}, ErrRefreshRevoked
	case errors.Is(err, ErrNotFound):
		// Forgotten between Get and Rotate.
		return "", RefreshRecord{}, fmt.Errorf("%w: unknown", ErrRefreshInvalid)
	case err != nil:
		return "", RefreshRecord{}, fmt.Errorf("jwt: rotate refresh token: %w", err)
	}
	return tok, next, nil
}

// Revoke revokes the family of token on behalf of the client clientID
// (RFC 7009): the token, every token rotated from the same grant and every
// token issued in exchange can no longer be used. It works with any token of
// the family, including one already rotated, and is idempotent.
//
// A malformed or unknown token is not an error (RFC 7009 §2.2: the client
// cannot do anything about it, and the token is not usable anyway). A token
// issued to another client is refused with [ErrRefreshClient] and changes
// nothing (RFC 7009 §2.1: "the authorization server ... verifies whether
// the token was issued to the client making the revocation request. If
// this validation fails, the request is refused"); an endpoint may answer
// that as unauthorized_client, as ory/fosite does.
//
// With RefreshConfig.Denylist, the access tokens minted with or from the
// family (their sid) are revoked too; without it they stay valid until
// they expire.
func (rt *RefreshTokens) Revoke(ctx context.Context, token, clientID string) error {
	rec, err := rt.lookup(ctx, token)
	switch {
	case errors.Is(err, ErrRefreshInvalid):
		return nil
	case err != nil:
		return err
	case rec.ClientID != clientID:
		return ErrRefreshClient
	}
	now := rt.now()
	if err := rt.endFamily(ctx, rec.Family, now); err != nil {
		return err
	}
	if rec.Status != RefreshRevoked {
		rt.report(ctx, keygate.ActionRefreshRevoked, rec, now)
	}
	return nil
}

// ErrInvalidFamily is returned when [RefreshTokens.RevokeFamily] got a string
// that is not a refresh-token family ID. It wraps [ErrInvalidParams].
var ErrInvalidFamily = fmt.Errorf("%w: invalid refresh-token family ID", ErrInvalidParams)

// MaxFamilyLen bounds the family IDs [RefreshTokens.RevokeFamily] takes.
// [RefreshTokens.Issue] makes 26-character ones.
const MaxFamilyLen = 64

// validFamily reports whether family is a family ID as Issue makes them:
// random text in the RFC 4648 base32 alphabet (A-Z and 2-7; see
// crypto/rand.Text), here 1 to MaxFamilyLen characters of it.
func validFamily(family string) bool {
	if family == "" || len(family) > MaxFamilyLen {
		return false
	}
	for i := 0; i < len(family); i++ {
		if c := family[i]; !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// RevokeFamily revokes the refresh-token family with that ID
// ([RefreshRecord.Family]), as an administrative action: unlike
// [RefreshTokens.Revoke], it needs no token and checks no client. Every
// token of the family, including the ones issued by a rotation racing the
// revocation, can no longer be used. Revoking an unknown or already
// revoked family is not an error.
//
// A family ID is what [RefreshTokens.Issue] makes: 1 to MaxFamilyLen
// characters of A-Z and 2-7; anything else is refused with an error
// wrapping [ErrInvalidFamily] (and so [ErrInvalidParams]), without asking
// the store.
//
// It reports [keygate.ActionRefreshRevoked] through RefreshConfig.OnChange
// with the actor from ctx ([keygate.ActorFromContext]) and the family as
// Change.TokenID. The store does not say whether the family existed or was
// revoked already, so every successful call is reported, and the report
// names no client, subject or account.
//
// With RefreshConfig.Denylist, the access tokens minted with or from the
// family (their sid) are revoked too; without it they stay valid until
// they expire.
func (rt *RefreshTokens) RevokeFamily(ctx context.Context, family string) error {
	if !validFamily(family) {
		return ErrInvalidFamily
	}
	now := rt.now()
	if err := rt.endFamily(ctx, family, now); err != nil {
		return err
	}
	if rt.onChange != nil {
		rt.onChange(ctx, keygate.Change{Action: keygate.ActionRefreshRevoked, Time: now,
			Actor: keygate.ActorFromContext(ctx), TokenID: family})
	}
	return nil
}

// endFamily revokes the family in the store and then, through
// revokeSession, its access tokens.
func (rt *RefreshTokens) endFamily(ctx context.Context, family string, now time.Time) error {
	if err := rt.store.RevokeFamily(ctx, family, now); err != nil {
		return fmt.Errorf("jwt: revoke refresh token family: %w", err)
	}
	return rt.revokeSession(ctx, family, now)
}

// revokeSession revokes the family's access tokens in RefreshConfig's
// Denylist, if any. They were minted at the latest now (the family can no
// longer mint any) and live at most RefreshConfig.AccessTokenTTL (by
// default the family's absolute lifetime), so the entry lasts that long
// past now.
func (rt *RefreshTokens) revokeSession(ctx context.Context, family string, now time.Time) error {
	if rt.denylist == nil {
		return nil
	}
	if err := rt.denylist.RevokeSession(ctx, family, now.Add(rt.accessTTL)); err != nil {
		return fmt.Errorf("jwt: revoke the family's access tokens: %w", err)
	}
	return nil
}

// report tells RefreshConfig.OnChange about an action on rec's family,
// done by rec's client.
func (rt *RefreshTokens) report(ctx context.Context, action keygate.Action, rec RefreshRecord, at time.Time) {
	if rt.onChange == nil {
		return
	}
	rt.onChange(ctx, keygate.Change{Action: action, Time: at, Actor: rec.ClientID, KeyID: rec.ClientID,
		TokenID: rec.Family, Subject: rec.Subject, Account: rec.Account, Mode: rec.Mode})
}
