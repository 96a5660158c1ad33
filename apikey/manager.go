package apikey

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/lifecycle"
	"github.com/keygate/keygate/internal/strbytes"
	"github.com/keygate/keygate/internal/validate"
)

// Config configures a [Manager]. The zero value is usable: an in-memory
// store, the "bk" prefix, plain SHA-256 hashes and the system clock.
type Config struct {
	// Store keeps the records. Nil means a new [MemoryStore].
	Store Store
	// Prefix starts every key: 1 to 12 lowercase letters. Empty means
	// [DefaultPrefix].
	Prefix string
	// Pepper, when set (at least 32 bytes), makes the stored hashes
	// HMAC-SHA256 under it instead of SHA-256, so that a stolen database
	// alone does not let anyone test guesses. Keep it outside the store.
	// Changing it invalidates every key.
	Pepper []byte
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// LastUsedInterval is how often last-used times, collected in memory
	// on the request path, are written to the store. Zero means one
	// minute; at most a day. Call [Manager.Close] before shutting down.
	LastUsedInterval time.Duration
	// OnChange, when set, is told of every management action that changed
	// a key (created, rotated, revoked, approved, disabled, enabled,
	// updated), after it is stored, with the actor taken from the context
	// (see [keygate.WithActor]; Approve names its approver). Actions that
	// change nothing, such as revoking a revoked key, are not reported.
	OnChange keygate.ChangeFunc
}

// Manager mints, verifies and manages API keys on top of a [Store]. It is
// safe for concurrent use. Verify writes last-used times to the store from
// goroutines of its own: call [Manager.Close] when done with a Manager.
type Manager struct {
	store    Store
	prefix   string
	now      func() time.Time
	hmacPool *sync.Pool // nil without a pepper
	usage    usageTracker
	// life runs what keys share with HMAC credentials: create, rotate,
	// revoke, disable, the compare-and-swap update and change events.
	life lifecycle.Manager[Record, Status]

	bgMu     sync.Mutex // guards closed and bg.Add
	closed   bool       // set by Close: no background flush starts afterwards
	bg       sync.WaitGroup
	bgCtx    context.Context // of the background flushes; cancelled when Close gives up
	bgCancel context.CancelFunc
}

// maxPreviousHashes bounds how many replaced secrets a key keeps during
// overlapping rotation grace periods.
const maxPreviousHashes = 4

// maxLastUsedInterval bounds Config.LastUsedInterval.
const maxLastUsedInterval = 24 * time.Hour

// maxUpdateRetries bounds the compare-and-swap retries of one management
// call under contention.
const maxUpdateRetries = 16

// NewManager returns a Manager for cfg. It fails if cfg is invalid.
func NewManager(cfg Config) (*Manager, error) {
	m := &Manager{store: cfg.Store, prefix: cfg.Prefix, now: cfg.Now}
	m.bgCtx, m.bgCancel = context.WithCancel(context.Background())
	if m.store == nil {
		m.store = NewMemoryStore()
	}
	if m.prefix == "" {
		m.prefix = DefaultPrefix
	}
	if !validPrefix(m.prefix) {
		return nil, fmt.Errorf("%w: prefix must be 1 to %d lowercase letters", ErrInvalidParams, MaxPrefixLen)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if cfg.Pepper != nil {
		if len(cfg.Pepper) < 32 {
			return nil, fmt.Errorf("%w: pepper must be at least 32 bytes", ErrInvalidParams)
		}
		pepper := append([]byte(nil), cfg.Pepper...)
		m.hmacPool = &sync.Pool{New: func() any { return hmac.New(sha256.New, pepper) }}
	}
	m.usage.interval = cfg.LastUsedInterval
	if m.usage.interval <= 0 {
		m.usage.interval = time.Minute
	}
	m.usage.interval = min(m.usage.interval, maxLastUsedInterval)
	m.life = lifecycle.Manager[Record, Status]{
		Name: "apikey", Noun: "key", Revoked: StatusRevoked,
		Fields: func(r *Record) lifecycle.Fields[Status] {
			return lifecycle.Fields[Status]{ID: &r.ID, Grant: &r.Grant, Status: &r.Status, Disabled: &r.Disabled,
				RevokedAt: &r.RevokedAt, RotatedAt: &r.RotatedAt, TokensNotBefore: &r.TokensNotBefore}
		},
		Store:   lifecycle.Store[Record]{Get: m.store.Get, Create: m.store.Create, Update: m.store.Update},
		Clone:   Record.clone,
		Retries: maxUpdateRetries, Now: m.now, OnChange: cfg.OnChange,
		Errors: lifecycle.Errors{Exists: ErrExists, Conflict: ErrConflict,
			InvalidParams: ErrInvalidParams, InvalidState: ErrInvalidState, Revoked: ErrRevoked},
		Actions: lifecycle.Actions{Created: keygate.ActionKeyCreated, Rotated: keygate.ActionKeyRotated,
			Revoked: keygate.ActionKeyRevoked, Disabled: keygate.ActionKeyDisabled, Enabled: keygate.ActionKeyEnabled},
	}
	return m, nil
}

func validPrefix(p string) bool {
	if p == "" || len(p) > MaxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 'a' || p[i] > 'z' {
			return false
		}
	}
	return true
}

// Prefix returns the prefix of the keys this manager mints and accepts.
func (m *Manager) Prefix() string { return m.prefix }

// hash returns the stored form of a well-formed key: the hash of its
// secret part. (Hashing 43 bytes takes one SHA-256 block; the whole key
// would take two. The rest of the key is bound to the record otherwise: the
// ID by the lookup, the prefix, mode and kind by comparison.)
func (m *Manager) hash(key string) [32]byte {
	secret := key[len(key)-ChecksumLen-SecretLen : len(key)-ChecksumLen]
	if m.hmacPool == nil {
		return sha256.Sum256(strbytes.View(secret))
	}
	h := m.hmacPool.Get().(hash.Hash)
	h.Reset()
	h.Write(strbytes.View(secret))
	var sum [32]byte
	h.Sum(sum[:0])
	m.hmacPool.Put(h)
	return sum
}

// CreateParams describes a new key.
type CreateParams struct {
	// Grant is what the key is allowed. Its Account is required: 1 to
	// 128 characters of A-Z a-z 0-9 and "_-.:", as are its Stores and
	// Package. Its Mode is test or live; live keys start in
	// [StatusPendingReview]. Its countries are upper-case ISO 3166-1
	// alpha-2 codes, its IPs addresses or CIDR prefixes.
	keygate.Grant
	// Kind is publishable or secret. [Manager.CreatePair] ignores it.
	Kind keygate.Kind
	// Name is a label for people: at most 200 bytes of UTF-8 text.
	Name string
	// Expires, when set, must be in the future.
	Expires time.Time
}

// Create mints a new key and stores its hash. The returned Key is the only
// time the plaintext exists: hand it to its owner. The record names the
// context's actor as CreatedBy and keeps the key's last four characters as
// its Hint.
func (m *Manager) Create(ctx context.Context, p CreateParams) (Key, Record, error) {
	if !p.Kind.Valid() {
		return Key{}, Record{}, fmt.Errorf("%w: kind must be %q or %q", ErrInvalidParams, keygate.KindPublishable, keygate.KindSecret)
	}
	if err := m.validate(p); err != nil {
		return Key{}, Record{}, err
	}
	now := m.now()
	status := StatusActive
	if p.Mode == keygate.ModeLive {
		status = StatusPendingReview
	}
	createdBy := actorText(keygate.ActorFromContext(ctx))
	var key Key
	rec, err := m.life.Create(ctx, func() Record {
		key = mint(m.prefix, p.Mode, p.Kind, newKeyID())
		return Record{
			ID:               key.ID(),
			Grant:            keygate.CloneGrant(p.Grant),
			Kind:             p.Kind,
			Name:             p.Name,
			CreatedBy:        createdBy,
			PermissionsSetBy: createdBy,
			Hint:             hint(key),
			Status:           status,
			Hashes:           []Hash{{Sum: m.hash(key.Reveal())}},
			Created:          now,
			Expires:          p.Expires,
		}
	})
	if err != nil {
		return Key{}, Record{}, err
	}
	return key, rec, nil
}

// CreatePair creates an account's publishable and secret keys for one mode,
// with the same metadata (p.Kind is ignored).
func (m *Manager) CreatePair(ctx context.Context, p CreateParams) (publishable, secret Key, err error) {
	p.Kind = keygate.KindPublishable
	publishable, _, err = m.Create(ctx, p)
	if err != nil {
		return Key{}, Key{}, err
	}
	p.Kind = keygate.KindSecret
	secret, _, err = m.Create(ctx, p)
	if err != nil {
		// Do not leave half a pair behind.
		if _, rerr := m.Revoke(ctx, publishable.ID()); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return Key{}, Key{}, err
	}
	return publishable, secret, nil
}

// Get returns the record of the key with that ID.
func (m *Manager) Get(ctx context.Context, id string) (Record, error) {
	return m.life.Get(ctx, id)
}

// Lookup returns the record of the key with that ID as the store holds it,
// without copying it: the lookup of the key that obtained a token, on
// every request that presents the token (see middleware.ClientKeys). The
// record may share memory with the store: treat it as read-only. Use
// [Manager.Get] for a record of your own.
func (m *Manager) Lookup(ctx context.Context, id string) (Record, error) {
	var rec Record
	if err := m.LookupInto(ctx, id, &rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// LookupInto is [Manager.Lookup] writing the record into rec rather than
// returning it, so that a caller that already has room for it (the
// middleware, for the key of every access token it checks) spares a copy
// of the record and the room for it on its stack. On an error rec holds
// anything.
func (m *Manager) LookupInto(ctx context.Context, id string, rec *Record) error {
	if _, err := m.get(ctx, id, rec, true); err != nil {
		return fmt.Errorf("apikey: lookup: %w", err)
	}
	return nil
}

// List returns the keys that match f, oldest first (by Created, then ID),
// at most f.Limit of them when it is positive; see [ListFilter]. It
// returns an error wrapping [ErrInvalidParams] if f has an invalid
// account, mode, status or kind, an AfterID that is not 1 to 128 characters of
// A-Z a-z 0-9 and "_-.:" (as every key ID is), or a negative limit.
func (m *Manager) List(ctx context.Context, f ListFilter) ([]Record, error) {
	own := ""
	switch {
	case f.Status != "" && !f.Status.Valid():
		own = fmt.Sprintf("status must be %q, %q or %q", StatusPendingReview, StatusActive, StatusRevoked)
	case f.Kind != "" && !f.Kind.Valid():
		own = fmt.Sprintf("kind must be %q or %q", keygate.KindPublishable, keygate.KindSecret)
	}
	return m.life.List(lifecycle.Filter{Account: f.Account, Mode: f.Mode, AfterID: f.AfterID, Limit: f.Limit}, own,
		func() ([]Record, error) { return m.store.List(ctx, f) })
}

// Rotate gives the key a new secret and returns it, like Stripe's "roll
// key". The key keeps its ID and settings; its Hint becomes the new key's.
// The replaced secret stays valid for grace (zero: it stops working at
// once); secrets replaced by earlier rotations keep their own grace
// periods, up to four at a time. A rotation without grace also sets
// [Record.TokensNotBefore] to now: the tokens the key obtained so far
// stop working with the old secret.
func (m *Manager) Rotate(ctx context.Context, id string, grace time.Duration) (Key, Record, error) {
	var key Key
	rec, err := m.life.Rotate(ctx, id, grace, func(r *Record, now time.Time) error {
		if len(r.ID) != IDLen || !isBase62(r.ID) || !r.Mode.Valid() || !r.Kind.Valid() {
			return fmt.Errorf("%w: the stored record is not a key minted by this package", ErrInvalidState)
		}
		key = mint(m.prefix, r.Mode, r.Kind, r.ID)
		r.Hashes = lifecycle.Keep(Hash{Sum: m.hash(key.Reveal())}, r.Hashes,
			func(h *Hash) *time.Time { return &h.NotAfter }, now, grace, maxPreviousHashes)
		r.Hint = hint(key)
		return nil
	})
	if err != nil {
		return Key{}, Record{}, err
	}
	return key, rec, nil
}

// Revoke makes the key invalid from the very next verification in this
// process (and, with a shared store, in every process that reads it; see the
// store's documentation for caching bounds). Revoking twice is not an error.
func (m *Manager) Revoke(ctx context.Context, id string) (Record, error) {
	return m.life.Revoke(ctx, id, nil)
}

// Disable stops the key from authenticating until [Manager.Enable]. It
// sets [Record.TokensNotBefore] to now: the tokens the key obtained so far
// stay refused after Enable.
func (m *Manager) Disable(ctx context.Context, id string) (Record, error) {
	return m.life.SetDisabled(ctx, id, true)
}

// Enable undoes [Manager.Disable]. It does not approve a pending key.
func (m *Manager) Enable(ctx context.Context, id string) (Record, error) {
	return m.life.SetDisabled(ctx, id, false)
}

// Approve activates a live key pending review and records who approved it
// and when. Approving an active key again is an error, so that the record
// keeps its first approver.
func (m *Manager) Approve(ctx context.Context, id, approver string) (Record, error) {
	return m.approve(ctx, id, approver, false)
}

// ApproveSeparately is [Manager.Approve] for a service that separates
// duties: it also refuses an approver that created the key or last set its
// permissions or package ([Record.CreatedBy], [Record.PermissionsSetBy]),
// with an error wrapping [ErrSameActor], atomically with the approval (a
// concurrent update that makes the approver the key's PermissionsSetBy
// cannot slip in between).
func (m *Manager) ApproveSeparately(ctx context.Context, id, approver string) (Record, error) {
	return m.approve(ctx, id, approver, true)
}

func (m *Manager) approve(ctx context.Context, id, approver string, separate bool) (Record, error) {
	if approver == "" || !validate.Text(approver, 200) {
		return Record{}, fmt.Errorf("%w: approver must be 1 to 200 bytes of text", ErrInvalidParams)
	}
	rec, err := m.life.Update(ctx, id, func(r *Record) error {
		if r.Status != StatusPendingReview {
			return fmt.Errorf("%w: only a key pending review can be approved", ErrInvalidState)
		}
		if separate && (r.CreatedBy == approver || r.PermissionsSetBy == approver) {
			return ErrSameActor
		}
		r.Status = StatusActive
		r.ApprovedBy = approver
		r.ApprovedAt = m.now()
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("apikey: approve: %w", err)
	}
	m.life.Report(ctx, keygate.ActionKeyApproved, rec, approver)
	return rec, nil
}

// Changes lists the metadata [Manager.Update] sets; nil fields are left as
// they are.
type Changes struct {
	Name        *string
	Stores      *[]string
	Package     *string
	Permissions *[]string
	AllowedIPs  *[]string
	DeniedIPs   *[]string
	// AllowedCountries and DeniedCountries replace the country rules.
	AllowedCountries *[]string
	DeniedCountries  *[]string
	// Expires sets the expiry time; a pointer to the zero time removes it.
	Expires *time.Time
}

// Update changes a key's metadata atomically. A change that may widen
// what the key holds (another package, a permission or store it did not
// list, a move between no permissions and some, looser origin rules, a
// later or no expiry) records the context's actor as PermissionsSetBy; a
// narrowing keeps the previous one, so that it never hides who widened
// the key from separation of duties. A new expiry for a key that has expired revives
// the key but not the tokens it obtained (TokensNotBefore).
func (m *Manager) Update(ctx context.Context, id string, c Changes) (Record, error) {
	setBy := actorText(keygate.ActorFromContext(ctx))
	rec, err := m.life.Update(ctx, id, func(r *Record) error {
		if r.Status == StatusRevoked {
			return fmt.Errorf("%w: the key is revoked", ErrInvalidState)
		}
		p := CreateParams{Grant: r.Grant, Name: r.Name}
		if c.Name != nil {
			p.Name = *c.Name
		}
		if c.Stores != nil {
			p.Stores = *c.Stores
		}
		if c.Package != nil {
			p.Package = *c.Package
		}
		if c.Permissions != nil {
			p.Permissions = *c.Permissions
		}
		if c.AllowedIPs != nil {
			p.AllowedIPs = *c.AllowedIPs
		}
		if c.DeniedIPs != nil {
			p.DeniedIPs = *c.DeniedIPs
		}
		if c.AllowedCountries != nil {
			p.AllowedCountries = *c.AllowedCountries
		}
		if c.DeniedCountries != nil {
			p.DeniedCountries = *c.DeniedCountries
		}
		if c.Expires != nil {
			p.Expires = *c.Expires
		}
		if err := m.validate(p); err != nil {
			return err
		}
		if widens(r, p) || c.Expires != nil && !r.Expires.IsZero() && (c.Expires.IsZero() || c.Expires.After(r.Expires)) {
			r.PermissionsSetBy = setBy
		}
		if now := m.now(); c.Expires != nil && !r.Expires.IsZero() && !now.Before(r.Expires) && now.After(r.TokensNotBefore) {
			// The key had expired, and with it the tokens it obtained:
			// a new expiry revives the key, never those tokens (as
			// enabling a disabled key does not).
			r.TokensNotBefore = now
		}
		r.Name, r.Stores, r.Package, r.Permissions, r.AllowedIPs = p.Name, p.Stores, p.Package, p.Permissions, p.AllowedIPs
		r.DeniedIPs, r.AllowedCountries, r.DeniedCountries = p.DeniedIPs, p.AllowedCountries, p.DeniedCountries
		if c.Expires != nil {
			r.Expires = p.Expires
		}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("apikey: update: %w", err)
	}
	m.life.Report(ctx, keygate.ActionKeyUpdated, rec, "")
	return rec, nil
}

// widens reports whether changing the key r to the settings p may give
// it something it did not hold: another package, a permission or store it
// did not list, a move between a standard key (no permissions: its
// package's) and a restricted one, an allow list (IPs, countries) that
// was set and is cleared or gains an entry, a deny list that loses an
// entry (Update also counts an expiry that is removed or pushed back). A
// narrowing, or a change of name, is not a widening.
func widens(r *Record, p CreateParams) bool {
	switch {
	case p.Package != r.Package, (len(r.Permissions) == 0) != (len(p.Permissions) == 0):
		return true
	case gains(r.Permissions, p.Permissions), gains(r.Stores, p.Stores):
		return true
	case len(r.AllowedIPs) > 0 && (len(p.AllowedIPs) == 0 || gains(r.AllowedIPs, p.AllowedIPs)):
		return true
	case len(r.AllowedCountries) > 0 && (len(p.AllowedCountries) == 0 || gains(r.AllowedCountries, p.AllowedCountries)):
		return true
	case gains(p.DeniedIPs, r.DeniedIPs), gains(p.DeniedCountries, r.DeniedCountries):
		return true // an entry of the old deny list is gone
	}
	return false
}

// gains reports whether to holds an entry that from lacks.
func gains(from, to []string) bool {
	for _, s := range to {
		if !slices.Contains(from, s) {
			return true
		}
	}
	return false
}

// validate checks everything in p but Kind.
func (m *Manager) validate(p CreateParams) error {
	if why := validate.Credential(p.Grant, p.Name, p.Expires, m.now()); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalidParams, why)
	}
	return nil
}

// HintLen is the length of [Record.Hint].
const HintLen = 4

// hint returns the last HintLen characters of key: the tail of its
// checksum. It is a copy: a substring would keep the whole plaintext key
// in memory for as long as the record lives.
func hint(key Key) string {
	k := key.Reveal()
	return strings.Clone(k[len(k)-HintLen:])
}

// maxActorLen bounds [Record.CreatedBy].
const maxActorLen = 200

// actorText returns actor as at most maxActorLen bytes of text: invalid
// UTF-8 and control characters become U+FFFD, and a longer actor is cut at
// a character boundary.
func actorText(actor string) string {
	if validate.Text(actor, maxActorLen) {
		return actor
	}
	var b strings.Builder
	for _, r := range actor { // invalid bytes come as utf8.RuneError, U+FFFD
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > maxActorLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ValidStoreID reports whether s is acceptable as a store ID (and as an
// account or package name).
func ValidStoreID(s string) bool { return validate.Ident(s) }

// Verify checks a presented key: anatomy and checksum, prefix, then the
// store lookup and a constant-time comparison of hashes, then state. It
// returns the key's record or an error wrapping one of [ErrMalformed],
// [ErrUnknownKey], [ErrRevoked], [ErrExpired], [ErrDisabled],
// [ErrPendingReview], or the store's error.
//
// The returned record has no Hashes; its Stores, Permissions and AllowedIPs
// are the caller's own copies (made in one allocation).
//
// State is reported only after the secret matched, so a caller without the
// key cannot learn whether its ID exists or what state it is in.
func (m *Manager) Verify(ctx context.Context, key string) (Record, error) {
	var rec Record
	if err := m.verify(ctx, key, &rec, true); err != nil {
		return Record{}, err
	}
	rec.Hashes = nil
	rec.Grant = keygate.CloneGrant(rec.Grant)
	return rec, nil
}

// VerifyGrant checks a presented key exactly as [Manager.Verify] does, and
// errs as it does, but hands over only what an authenticating middleware
// needs, without copying the record: the key's ID and kind, and its grant
// in g. The grant's slices may share memory with the store (as
// [Manager.Lookup]'s record does): treat them as read-only and copy them
// before modifying. On an error g is left as it was.
//
// It is the request path of package middleware, which copies the stores
// it hands to a handler; use Verify for a record of your own.
func (m *Manager) VerifyGrant(ctx context.Context, key string, g *keygate.Grant) (id string, kind keygate.Kind, err error) {
	var rec Record
	if err := m.verify(ctx, key, &rec, false); err != nil {
		return "", "", err
	}
	*g = rec.Grant
	return rec.ID, rec.Kind, nil
}

// verify is the one check of [Manager.Verify] and [Manager.VerifyGrant]:
// on success rec is the key's record as the store returned it (sharing
// its memory), and the key's use is noted for its last-used time. Without
// whole, rec may hold only what the check reads and VerifyGrant hands
// over (see memRecord.fill).
func (m *Manager) verify(ctx context.Context, key string, rec *Record, whole bool) error {
	info, err := Parse(key)
	if err != nil {
		return err
	}
	if info.Prefix != m.prefix {
		return errWrongPrefix
	}
	sum := m.hash(key)
	slot, err := m.get(ctx, info.ID, rec, whole)
	if errors.Is(err, ErrNotFound) {
		// Compare anyway, so that an unknown ID costs what a wrong secret
		// costs.
		subtle.ConstantTimeCompare(sum[:], unknownSum[:])
		return ErrUnknownKey
	}
	if err != nil {
		return fmt.Errorf("apikey: verify: %w", err)
	}
	now := m.now()
	match := 0
	for i := range rec.Hashes {
		if h := &rec.Hashes[i]; h.NotAfter.IsZero() || now.Before(h.NotAfter) {
			match |= subtle.ConstantTimeCompare(h.Sum[:], sum[:])
		}
	}
	if match != 1 || rec.Mode != info.Mode || rec.Kind != info.Kind {
		return ErrUnknownKey
	}
	if err := rec.usable(now); err != nil {
		return err
	}
	if m.usage.record(rec.ID, now, slot) {
		m.startFlush()
	}
	return nil
}

// get reads the record with that ID into rec: in place from a
// [MemoryStore], with one copy from a [CachedStore]'s memory (from
// either, only what verify needs without whole: see
// Record.copyVerified), sparing the verification path the copies
// of a record returned by value through each layer. (Concrete types
// rather than an optional interface, so that rec stays on the caller's
// stack.) From either it also returns the record's cached usage slot
// (see usageTracker.record); from other stores, nil.
func (m *Manager) get(ctx context.Context, id string, rec *Record, whole bool) (*atomic.Pointer[usageSlot], error) {
	switch s := m.store.(type) {
	case *MemoryStore:
		return s.readRecord(ctx, id, rec, whole)
	case *CachedStore:
		return s.readRecord(ctx, id, rec, whole)
	}
	return nil, m.getFromStore(ctx, id, rec)
}

// getFromStore is get from any other Store: its Get returns a whole
// record by value. Not inlined, so that the record it returns is not on
// the stack frame of get (on every request's path) for stores that read
// in place: a request's goroutine whose stack outgrows its size after a
// garbage collection shrank it copies the whole stack.
//
//go:noinline
func (m *Manager) getFromStore(ctx context.Context, id string, rec *Record) error {
	var err error
	*rec, err = m.store.Get(ctx, id)
	return err
}

// unknownSum stands in for a stored hash when the key ID is unknown.
var unknownSum [32]byte

// FlushUsage writes the last-used times collected since the previous flush
// to the store. Verify triggers it in the background every
// [Config.LastUsedInterval]; [Manager.Close] calls it too. It
// waits for a background flush that is under way, so that when it returns
// every time collected before the call has been written (or, if the store
// failed, kept for the next flush).
func (m *Manager) FlushUsage(ctx context.Context) error {
	// One flush at a time: a shutdown flush waits for a background one.
	m.usage.flushMu.Lock()
	defer m.usage.flushMu.Unlock()
	pending := m.usage.take()
	var errs []error
	for id, t := range pending {
		switch err := m.store.Touch(ctx, id, t); {
		case errors.Is(err, ErrNotFound):
			m.usage.forget(id)
		case err != nil:
			errs = append(errs, fmt.Errorf("apikey: touch %s: %w", id, err))
			m.usage.restore(id, t)
		}
	}
	return errors.Join(errs...)
}

// Close stops the Manager's background work: it waits for a background
// flush of last-used times that is under way (cancelling its store calls
// if ctx ends first), then writes the times still pending with
// [Manager.FlushUsage] and returns its error. It does not close the
// [Store], which the Manager does not own.
//
// After Close the Manager still mints, verifies and manages keys, but
// starts no goroutine: the last-used times that verifications note are
// kept in memory until FlushUsage, or Close again, writes them. Close is
// safe to call more than once and concurrently.
func (m *Manager) Close(ctx context.Context) error {
	m.bgMu.Lock()
	m.closed = true
	m.bgMu.Unlock()
	m.usage.closed.Store(true)
	stop := context.AfterFunc(ctx, m.bgCancel)
	m.bg.Wait()
	stop()
	return m.FlushUsage(ctx)
}

// startFlush starts a background flush, unless the Manager is closed.
func (m *Manager) startFlush() {
	m.bgMu.Lock()
	defer m.bgMu.Unlock()
	if m.closed {
		m.usage.flushing.Store(false)
		return
	}
	m.bg.Add(1)
	go m.flushInBackground()
}

func (m *Manager) flushInBackground() {
	defer m.bg.Done()
	ctx, cancel := context.WithTimeout(m.bgCtx, 30*time.Second)
	defer cancel()
	_ = m.FlushUsage(ctx) // a failed write is kept and retried at the next flush
	m.usage.flushing.Store(false)
}

// usageTracker collects last-used times in memory so that the request path
// never waits for a store write. Times are kept to the second: a key used
// many times within one second costs one atomic load per request.
type usageTracker struct {
	interval  time.Duration
	flushMu   sync.Mutex // held by a flush
	seen      sync.Map   // key ID → *usageSlot
	nextFlush atomic.Int64
	flushing  atomic.Bool
	// closed is set by Manager.Close: a record that cached one of this
	// tracker's slots gives it up to the next tracker that verifies it,
	// so that a Manager closed and dropped is not kept alive by the
	// records of a store it shared.
	closed atomic.Bool
}

// usageSlot is one key's entry in a usageTracker.
type usageSlot struct {
	tracker *usageTracker // whose slot it is
	last    atomic.Int64  // Unix nanoseconds, 0 once flushed
	// forgotten is set once the tracker dropped the slot (forget): a
	// record that cached it finds the key's slot in seen again.
	forgotten atomic.Bool
}

// record notes that id was used at now, and reports whether the caller
// should start a background flush.
//
// cached, when not nil, is where the key's record in a [MemoryStore] or
// a [CachedStore] caches its slot (memRecord.usage, cachedRecord.usage),
// so that a verification finds the slot without hashing id into seen. It
// holds only a slot of the key id (a memRecord, or a cached copy, is the
// record of one ID for good), and a slot is used from
// it only while it is this tracker's and not forgotten, so that the time
// goes where a lookup in seen would have put it. A record shared by the
// Managers of one store caches the slot of the first that verified it
// (or, once that one is closed, of the next); the others look theirs up,
// as without a cache.
func (u *usageTracker) record(id string, now time.Time, cached *atomic.Pointer[usageSlot]) (flush bool) {
	n := now.UnixNano()
	var slot *usageSlot
	if cached != nil {
		if c := cached.Load(); c != nil && c.tracker == u && !c.forgotten.Load() {
			slot = c
		}
	}
	if slot == nil {
		slot = u.slot(id)
		if cached != nil {
			if c := cached.Load(); c == nil || c.tracker == u || c.tracker.closed.Load() {
				cached.CompareAndSwap(c, slot)
			}
		}
	}
	last := &slot.last
	for {
		old := last.Load()
		if n-old < int64(time.Second) || last.CompareAndSwap(old, n) {
			break
		}
	}
	next := u.nextFlush.Load()
	if next == 0 {
		u.nextFlush.CompareAndSwap(0, n+int64(u.interval))
		return false
	}
	if n >= next && u.flushing.CompareAndSwap(false, true) {
		u.nextFlush.Store(n + int64(u.interval))
		return true
	}
	return false
}

// slot returns id's slot in seen, adding it when there is none.
func (u *usageTracker) slot(id string) *usageSlot {
	v, ok := u.seen.Load(id)
	if !ok {
		v, _ = u.seen.LoadOrStore(id, &usageSlot{tracker: u})
	}
	return v.(*usageSlot)
}

// take returns the times noted since the previous take.
func (u *usageTracker) take() map[string]time.Time {
	pending := make(map[string]time.Time)
	u.seen.Range(func(k, v any) bool {
		if n := v.(*usageSlot).last.Swap(0); n != 0 {
			pending[k.(string)] = time.Unix(0, n).UTC()
		}
		return true
	})
	return pending
}

// restore puts back a time whose write failed, unless a later one arrived.
func (u *usageTracker) restore(id string, t time.Time) {
	last := &u.slot(id).last
	n := t.UnixNano()
	for {
		old := last.Load()
		if old >= n || last.CompareAndSwap(old, n) {
			return
		}
	}
}

// forget drops a key that no longer exists, and its slot wherever a record
// cached it.
func (u *usageTracker) forget(id string) {
	if v, ok := u.seen.LoadAndDelete(id); ok {
		v.(*usageSlot).forgotten.Store(true)
	}
}
