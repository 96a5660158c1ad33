package httpsig

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/base62"
	"github.com/keygate/keygate/internal/cutoff"
	"github.com/keygate/keygate/internal/lifecycle"
	"github.com/keygate/keygate/internal/validate"
)

// Errors about managing credentials, beside [ErrNotFound], [ErrRevoked],
// [ErrExpired], [ErrDisabled] and [ErrUnseal]. Test for them with
// [errors.Is]: the returned errors may wrap them with context (a key ID,
// never a secret).
var (
	// ErrExists is returned when a credential with that key ID already exists.
	ErrExists = errors.New("httpsig: duplicate key ID")
	// ErrConflict is returned when the credential changed since it was read
	// (its Version differs); read it again and retry.
	ErrConflict = errors.New("httpsig: credential changed concurrently")
	// ErrInvalidParams is returned when a management call or a [Config] got an
	// invalid argument; the error says which.
	ErrInvalidParams = errors.New("httpsig: invalid parameters")
	// ErrInvalidState is returned when the operation does not apply to the
	// credential in its current state, for example enabling a revoked one.
	ErrInvalidState = errors.New("httpsig: operation not allowed in the credential's state")
)

// The anatomy of key IDs and secrets.
const (
	// KeyIDPrefix starts every key ID that [Manager.Create] mints.
	KeyIDPrefix = "hk_"
	// KeyIDLen is the length of a minted key ID: [KeyIDPrefix] and 16
	// random base62 characters (about 95 bits). A key ID is public: it is
	// the keyid of a signature and names the credential in logs.
	KeyIDLen = len(KeyIDPrefix) + 16
	// SecretLen is the length of a shared secret: 64 bytes from
	// crypto/rand, the block size of SHA-256 (RFC 2104's recommended
	// maximum for an HMAC key).
	SecretLen = 64
	// MaxKeyIDLen bounds the key IDs [Manager.Lookup] takes to the store;
	// longer ones are unknown without a lookup.
	MaxKeyIDLen = 256
)

// maxReplacedSecrets bounds how many replaced secrets a credential keeps
// during overlapping rotation grace periods, beside the current one.
const maxReplacedSecrets = 4

// credentialUpdateRetries bounds the compare-and-swap retries of one
// management call under contention.
const credentialUpdateRetries = 16

// Status is the revocation state of a credential. Disabling is separate
// (see [Credential.Disabled]) so that enabling returns a credential to
// where it was. There is no review state: unlike a live API key, a live
// HMAC credential signs from the moment it is created.
type Status string

// The statuses.
const (
	// StatusActive is the status of a credential that verifies (unless
	// it is disabled or expired).
	StatusActive Status = "active"
	// StatusRevoked is the status of a credential that never verifies
	// again. Revocation is final.
	StatusRevoked Status = "revoked"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return s == StatusActive || s == StatusRevoked }

// StoredSecret is one accepted secret of a credential in its stored form:
// sealed with AES-256-GCM under the master key, never in plaintext. A
// credential has one current secret and, during a rotation's grace period,
// the secrets it replaced.
type StoredSecret struct {
	// Sealed is version (1 byte) || nonce (12) || ciphertext || tag (16),
	// authenticated together with the credential's key ID.
	Sealed []byte
	// NotAfter ends the validity of a replaced secret; zero for the
	// current one.
	NotAfter time.Time
}

// Credential is what a [CredentialStore] keeps about an HMAC credential:
// its sealed secrets and metadata.
type Credential struct {
	// KeyID is the public identifier, the keyid of the signatures.
	KeyID string
	// Grant is what the credential is allowed, as on API keys: carried
	// into the Principal, enforced by the access-control layer (package
	// middleware).
	keygate.Grant
	Name string

	// Secrets are the sealed secrets, current first.
	Secrets []StoredSecret

	Status   Status
	Disabled bool

	Created   time.Time
	Expires   time.Time // zero: never
	RevokedAt time.Time
	RotatedAt time.Time
	// TokensNotBefore is the credential's token cut-off: every one-time
	// token the credential obtained at or before it is refused
	// ([Credential.CutOff]). Rotating without grace, disabling and
	// revoking set it to now; zero means no cut-off.
	TokensNotBefore time.Time

	// Version counts the credential's updates; [CredentialStore.Update]
	// uses it for compare-and-swap. Create stores version 1.
	Version int64
}

// Usable reports whether the credential may verify a request at now: nil,
// or [ErrRevoked], [ErrExpired] or [ErrDisabled], in that order.
func (c Credential) Usable(now time.Time) error {
	switch {
	case c.Status == StatusRevoked:
		return ErrRevoked
	case !c.Expires.IsZero() && !now.Before(c.Expires):
		return ErrExpired
	case c.Disabled:
		return ErrDisabled
	case c.Status != StatusActive:
		// An unknown status (a newer schema, a corrupted row) never
		// verifies.
		return ErrRevoked
	}
	return nil
}

// CutOff reports whether a token the credential obtained at issuedAt has
// been cut off by [Credential.TokensNotBefore]. The comparison is in whole
// seconds, as for API keys (apikey.Record.CutOff): a token issued in the
// very second of the cut-off is cut off too (it may have been obtained
// just before it).
func (c Credential) CutOff(issuedAt time.Time) bool {
	return cutoff.Applies(c.TokensNotBefore, issuedAt)
}

// clone returns a copy of c that shares no memory with it: the string
// slices in one allocation, the sealed bytes in another.
func (c Credential) clone() Credential {
	c.Grant = keygate.CloneGrant(c.Grant)
	if c.Secrets != nil {
		size := 0
		for _, s := range c.Secrets {
			size += len(s.Sealed)
		}
		bytes := make([]byte, 0, size)
		secrets := make([]StoredSecret, len(c.Secrets))
		for i, s := range c.Secrets {
			if s.Sealed != nil {
				start := len(bytes)
				bytes = append(bytes, s.Sealed...)
				s.Sealed = bytes[start:len(bytes):len(bytes)]
			}
			secrets[i] = s
		}
		c.Secrets = secrets
	}
	return c
}

// ListFilter selects the credentials [CredentialStore.List] returns, in
// the order (Created, KeyID), oldest first, one page at a time.
type ListFilter struct {
	// Account, when set, keeps only that account's credentials; empty
	// means the credentials of every account.
	Account string
	// Mode, when set, keeps only credentials of that mode.
	Mode keygate.Mode
	// Status, when set, keeps only credentials in that status. (Disabled
	// credentials keep their status: see [Credential.Disabled].)
	Status Status
	// AfterCreated and AfterID are a position in the order: only the
	// matching credentials after it are returned, (Created, KeyID) >
	// (AfterCreated, AfterID). To fetch the next page, pass the Created
	// and KeyID of the last credential of the previous one. The position
	// need not be a credential that exists or matches; with an empty
	// AfterID it means "created at AfterCreated or later". Both zero: from
	// the start.
	AfterCreated time.Time
	AfterID      string
	// Limit, when positive, returns at most that many credentials: the
	// first matching ones after the position. Zero means no limit;
	// [Manager.List] refuses a negative one.
	Limit int
}

// matches reports whether c passes f's account, mode and status filters
// and comes after its position.
func (f ListFilter) matches(c *Credential) bool {
	switch {
	case f.Account != "" && c.Account != f.Account,
		f.Mode != "" && c.Mode != f.Mode,
		f.Status != "" && c.Status != f.Status:
		return false
	case f.AfterCreated.IsZero() && f.AfterID == "":
		return true
	}
	if cmp := c.Created.Compare(f.AfterCreated); cmp != 0 {
		return cmp > 0
	}
	return c.KeyID > f.AfterID
}

// CredentialStore keeps HMAC credentials. Implementations must be safe for
// concurrent use, and every method must honour ctx (return ctx.Err(),
// wrapped or not, once it is done).
//
// Atomicity is part of the contract, so that SQL and Redis backends can
// implement it in the backend: Create must refuse a duplicate key ID even
// when two calls race, and Update is a compare-and-swap on Version. Key IDs
// compare byte for byte (a case-insensitive collation would let one
// credential answer to several key IDs).
//
// A store only ever sees sealed secrets. It must not keep references to the
// slices it is given, and the records it returns are the caller's own: it
// copies slices in and out.
//
// Run the conformance suite httpsigtest.TestCredentialStore against every
// implementation.
type CredentialStore interface {
	// Create stores c, whose Version is ignored, with Version 1 and
	// returns the stored credential. It returns an error wrapping
	// [ErrExists] if a credential with c.KeyID exists.
	Create(ctx context.Context, c Credential) (Credential, error)
	// Get returns the credential with that key ID, or an error wrapping
	// [ErrNotFound].
	Get(ctx context.Context, keyID string) (Credential, error)
	// List returns the credentials that match f's account, mode and
	// status and come after its position, oldest first (by Created, then
	// KeyID, byte for byte), at most f.Limit of them when it is positive.
	// Paging through with the last credential of each page as the next
	// position returns every matching credential that exists throughout
	// exactly once. (A SQL backend implements it as WHERE ... AND
	// (created, key_id) > ($1, $2) ORDER BY created, key_id LIMIT $3,
	// with an index on (created, key_id) and a binary collation.)
	List(ctx context.Context, f ListFilter) ([]Credential, error)
	// Update replaces the stored credential with c if the stored Version
	// equals c.Version, stores it with Version+1 and returns it. It
	// returns an error wrapping [ErrConflict] if the versions differ and
	// [ErrNotFound] if there is no such credential.
	Update(ctx context.Context, c Credential) (Credential, error)
}

// Secret holds a plaintext shared secret, as returned once by
// [Manager.Create] and [Manager.Rotate]. Hand it to its owner with
// [Secret.Base64] (or [Secret.Reveal]) and then drop it: keygate keeps it
// only sealed.
//
// A Secret redacts itself wherever it could leak by accident: fmt verbs
// (%v, %+v, %#v, %s, %q, %x, ...), log/slog and encoding/json all show only
// the key ID, as in "hk_4fT9kQ2mZx7LbN3w[REDACTED]". The plaintext is held
// by a function value, so even a Secret inside an unexported struct field,
// which fmt prints by reflection without calling its methods, shows only a
// code address.
type Secret struct {
	keyID     string
	plaintext func() []byte
}

// newSecret draws a fresh SecretLen-byte secret for keyID.
func newSecret(keyID string) Secret {
	b := make([]byte, SecretLen)
	rand.Read(b) // never fails: see crypto/rand.Read
	return Secret{keyID: keyID, plaintext: func() []byte { return b }}
}

// KeyID returns the key ID of the credential the secret belongs to.
func (s Secret) KeyID() string { return s.keyID }

// Reveal returns a copy of the 64 secret bytes (nil for the zero Secret).
// Call it only to hand the secret to its owner or to sign with it.
func (s Secret) Reveal() []byte {
	if s.plaintext == nil {
		return nil
	}
	return append([]byte(nil), s.plaintext()...)
}

// Base64 returns the secret in standard base64 with padding (88
// characters), the form in which it is shown to its owner and passed to
// clients such as keygate sign. It returns "" for the zero Secret.
func (s Secret) Base64() string {
	if s.plaintext == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(s.plaintext())
}

// String returns the redacted form of the secret: its key ID followed by
// "[REDACTED]".
func (s Secret) String() string {
	if s.plaintext == nil {
		return ""
	}
	return s.keyID + "[REDACTED]"
}

// GoString returns the redacted form of the secret, for %#v.
func (s Secret) GoString() string { return "httpsig.Secret(" + s.String() + ")" }

// Format writes the redacted form of the secret for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue returns the redacted form of the secret for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the redacted form of the secret. To send the
// plaintext, marshal [Secret.Base64] explicitly.
func (s Secret) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%q", s.String()), nil
}

// Config configures a [Manager].
type Config struct {
	// Store keeps the credentials. Nil means a new
	// [MemoryCredentialStore].
	Store CredentialStore
	// MasterKey seals the secrets at rest with AES-256-GCM: exactly
	// MasterKeyLen (32) random bytes, required, kept outside the store
	// (an environment variable, a secrets manager, a KMS). NewManager
	// copies it. Changing it makes every stored secret unreadable
	// ([ErrUnseal]).
	MasterKey []byte
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// OnChange, when set, is told of every management action that changed
	// a credential (created, rotated, revoked, disabled, enabled), after
	// it is stored, with the actor taken from the context (see
	// [keygate.WithActor]). Actions that change nothing, such as revoking
	// a revoked credential, are not reported.
	OnChange keygate.ChangeFunc
	// SecretCacheEntries bounds the credentials whose opened secrets
	// Lookup keeps in memory, so that it does not unseal them on every
	// request: a cached secret is used only while the store holds the very
	// sealed bytes it was opened from, and only after the credential read
	// from the store on that call was found usable (see [Manager.Lookup]).
	// Zero means [DefaultSecretCacheEntries]; negative opens every secret
	// on every call.
	SecretCacheEntries int
}

// Manager mints, looks up and manages HMAC credentials on top of a
// [CredentialStore]. It is safe for concurrent use, and it implements
// [CredentialSource] for the verifier.
//
// A credential belongs to an account and a mode, has a public key ID
// ("hk_" and 16 base62 characters) and a 64-byte random secret that is
// shown once, at creation or rotation, and stored only sealed under the
// master key. Revocation, expiry, disabling and rotation with a grace
// period work as for API keys; there is no review state (a live credential
// is active from creation), and no last-used time.
type Manager struct {
	store  CredentialStore
	sealer sealer
	now    func() time.Time
	// systemClock: Config.Now was nil, now is time.Now (a Verifier with
	// the same clock may hand its reading over; see lookupShared).
	systemClock bool
	// life runs what credentials share with API keys: create, rotate,
	// revoke, disable, the compare-and-swap update and change events.
	life lifecycle.Manager[Credential, Status]
	// decoy is a sealed secret that Lookup opens (through the cache) when
	// it has no secret to open, so that an unknown or unusable credential
	// costs what a usable one costs.
	decoy [][]byte
	// secrets caches opened secrets; nil when SecretCacheEntries < 0.
	secrets *secretCache
}

// NewManager returns a Manager for cfg. It fails, with an error wrapping
// [ErrInvalidParams], if the master key is missing or not 32 bytes long.
func NewManager(cfg Config) (*Manager, error) {
	s, err := newSealer(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	m := &Manager{store: cfg.Store, sealer: s, now: cfg.Now, secrets: newSecretCache(cfg.SecretCacheEntries)}
	if m.store == nil {
		m.store = NewMemoryCredentialStore()
	}
	if m.now == nil {
		m.now, m.systemClock = time.Now, true
	}
	decoy := newSecret("")
	m.decoy = [][]byte{s.seal("", decoy.plaintext())}
	m.life = lifecycle.Manager[Credential, Status]{
		Name: "httpsig", Noun: "credential", Revoked: StatusRevoked,
		Fields: func(c *Credential) lifecycle.Fields[Status] {
			return lifecycle.Fields[Status]{ID: &c.KeyID, Grant: &c.Grant, Status: &c.Status, Disabled: &c.Disabled,
				RevokedAt: &c.RevokedAt, RotatedAt: &c.RotatedAt, TokensNotBefore: &c.TokensNotBefore}
		},
		Store:   lifecycle.Store[Credential]{Get: m.store.Get, Create: m.store.Create, Update: m.store.Update},
		Retries: credentialUpdateRetries, Now: m.now, OnChange: cfg.OnChange,
		Errors: lifecycle.Errors{Exists: ErrExists, Conflict: ErrConflict,
			InvalidParams: ErrInvalidParams, InvalidState: ErrInvalidState, Revoked: ErrRevoked},
		Actions: lifecycle.Actions{Created: keygate.ActionHMACCreated, Rotated: keygate.ActionHMACRotated,
			Revoked: keygate.ActionHMACRevoked, Disabled: keygate.ActionHMACDisabled, Enabled: keygate.ActionHMACEnabled},
	}
	return m, nil
}

// CreateParams describes a new credential.
type CreateParams struct {
	// Grant is what the credential is allowed. Its Account is required: 1
	// to 128 characters of A-Z a-z 0-9 and "_-.:", as are its Stores and
	// Package. Its Mode is test or live, and required. Its countries are
	// upper-case ISO 3166-1 alpha-2 codes, its IPs addresses or CIDR
	// prefixes.
	keygate.Grant
	// Name is a label for people: at most 200 bytes of UTF-8 text.
	Name string
	// Expires, when set, must be in the future.
	Expires time.Time
}

// Create mints a credential with a fresh key ID and secret and stores it
// with the secret sealed. The returned Secret is the only time the
// plaintext leaves the manager: hand it to its owner. The credential is
// active at once, in either mode.
func (m *Manager) Create(ctx context.Context, p CreateParams) (Secret, Credential, error) {
	now := m.now()
	if err := p.validate(now); err != nil {
		return Secret{}, Credential{}, err
	}
	var secret Secret
	c, err := m.life.Create(ctx, func() Credential {
		keyID := randomKeyID()
		secret = newSecret(keyID)
		return Credential{
			KeyID:   keyID,
			Grant:   p.Grant,
			Name:    p.Name,
			Secrets: []StoredSecret{{Sealed: m.sealer.seal(keyID, secret.plaintext())}},
			Status:  StatusActive,
			Created: now,
			Expires: p.Expires,
		}
	})
	if err != nil {
		return Secret{}, Credential{}, err
	}
	return secret, c, nil
}

// Get returns the credential with that key ID, or an error wrapping
// [ErrNotFound].
func (m *Manager) Get(ctx context.Context, keyID string) (Credential, error) {
	return m.life.Get(ctx, keyID)
}

// List returns the credentials that match f, oldest first (by Created,
// then KeyID), at most f.Limit of them when it is positive; see
// [ListFilter]. It returns an error wrapping [ErrInvalidParams] if f has
// an invalid account, mode or status, an AfterID that is not 1 to 128
// characters of A-Z a-z 0-9 and "_-.:" (as every minted key ID is), or a
// negative limit.
func (m *Manager) List(ctx context.Context, f ListFilter) ([]Credential, error) {
	own := ""
	if f.Status != "" && !f.Status.Valid() {
		own = fmt.Sprintf("status must be %q or %q", StatusActive, StatusRevoked)
	}
	return m.life.List(lifecycle.Filter{Account: f.Account, Mode: f.Mode, AfterID: f.AfterID, Limit: f.Limit}, own,
		func() ([]Credential, error) { return m.store.List(ctx, f) })
}

// Rotate gives the credential a new secret and returns it. The credential
// keeps its key ID and settings. The replaced secret stays valid for grace
// (zero: it stops verifying at once); secrets replaced by earlier
// rotations keep their own grace periods, up to four at a time beside the
// current one (the oldest are dropped first). A rotation without grace
// also sets [Credential.TokensNotBefore] to now: the one-time tokens the
// credential obtained so far go with the old secret. A revoked credential
// cannot be rotated ([ErrRevoked]).
func (m *Manager) Rotate(ctx context.Context, keyID string, grace time.Duration) (Secret, Credential, error) {
	var secret Secret
	c, err := m.life.Rotate(ctx, keyID, grace, func(c *Credential, now time.Time) error {
		secret = newSecret(c.KeyID)
		c.Secrets = lifecycle.Keep(StoredSecret{Sealed: m.sealer.seal(c.KeyID, secret.plaintext())}, c.Secrets,
			func(s *StoredSecret) *time.Time { return &s.NotAfter }, now, grace, maxReplacedSecrets)
		return nil
	})
	m.secrets.forget(keyID)
	if err != nil {
		return Secret{}, Credential{}, err
	}
	return secret, c, nil
}

// Revoke makes the credential invalid from the very next lookup in this
// process (and, with a shared store, in every process that reads it).
// Revocation is final, so it also erases the sealed secrets. Revoking twice
// is not an error.
func (m *Manager) Revoke(ctx context.Context, keyID string) (Credential, error) {
	// Revocation is final: the sealed secrets go, revoked before or not.
	defer m.secrets.forget(keyID)
	return m.life.Revoke(ctx, keyID, func(c *Credential) { c.Secrets = nil })
}

// Disable stops the credential from verifying until [Manager.Enable]. It
// sets [Credential.TokensNotBefore] to now: the one-time tokens the
// credential obtained so far stay refused after Enable. A revoked
// credential cannot be disabled or enabled ([ErrInvalidState]).
func (m *Manager) Disable(ctx context.Context, keyID string) (Credential, error) {
	defer m.secrets.forget(keyID)
	return m.life.SetDisabled(ctx, keyID, true)
}

// Enable undoes [Manager.Disable].
func (m *Manager) Enable(ctx context.Context, keyID string) (Credential, error) {
	return m.life.SetDisabled(ctx, keyID, false)
}

var _ CredentialSource = (*Manager)(nil)

// Lookup implements [CredentialSource]: it returns the credential's
// identity and its plaintext secrets that verify now, current first. It
// returns [ErrNotFound] for an unknown key ID (or an empty one, or one
// longer than MaxKeyIDLen, without asking the store), [ErrRevoked],
// [ErrExpired] or [ErrDisabled] for a credential that may not sign, an
// error wrapping [ErrUnseal] if a secret does not open under the master
// key, or the store's error.
//
// Each call reads the credential from the store and checks it (status,
// expiry, disabling, the grace period of each replaced secret) before it
// uses any secret. The opened secrets are cached in memory, per key ID and
// sealed secret (see [Config.SecretCacheEntries]): a credential version
// opens its secrets once, and a rotation, which stores new sealed bytes,
// opens afresh. A revocation, expiry or disabling is therefore seen exactly
// when the store shows it, cache or not; the returned secrets may be shared
// with the cache and must not be modified. An unknown or unusable
// credential goes through the cache too, with a decoy secret, so that it
// costs what a usable one costs and the time Lookup takes says little
// about which it was.
func (m *Manager) Lookup(ctx context.Context, keyID string) (Active, error) {
	var read Credential
	c, entry, err := m.lookup(ctx, keyID, false, &read, time.Time{})
	if err != nil {
		return Active{}, err
	}
	// The caller gets copies of its own, in one allocation.
	size := 0
	for _, o := range entry {
		size += len(o.plain)
	}
	own := make([]byte, 0, size)
	secrets := make([][]byte, len(entry))
	for i, o := range entry {
		start := len(own)
		own = append(own, o.plain...)
		secrets[i] = own[start:len(own):len(own)]
	}
	return Active{KeyID: c.KeyID, Grant: c.Grant, Secrets: secrets}, nil
}

// lookupShared is Lookup for the [Verifier] of this package: the same
// checks, in the same order, but the secrets come as the cache's entry,
// with its MAC pools, and the grant's slices may be the store's (read
// them, never modify them). For a key ID that may not sign, it returns the
// decoy's entry with the error, so that the verifier's MAC work costs what
// it costs for a usable credential.
//
// now, when not zero, is a reading of the Manager's own clock that the
// caller made (a Verifier whose clock is also time.Now): lookup then
// checks the credential against it rather than reading the clock again.
//
// It writes the credential's key ID and grant into *outID and *out (in
// place: the grant is large), and leaves them alone on an error.
func (m *Manager) lookupShared(ctx context.Context, keyID string, now time.Time, outID *string, out *keygate.Grant) ([]openedSecret, error) {
	var read Credential
	c, entry, err := m.lookup(ctx, keyID, true, &read, now)
	if err != nil {
		return entry, err
	}
	*outID, *out = c.KeyID, c.Grant
	return entry, nil
}

// lookup is Lookup's work: the credential read from the store (the
// store's own record when shared is true and the store can share it, read
// it only; else read into own) and checked, and the opened secrets that
// verify now (the clock's reading, or now when not zero). For a key ID
// that may not sign, the entry returned with the error is the decoy's.
func (m *Manager) lookup(ctx context.Context, keyID string, shared bool, own *Credential, now time.Time) (*Credential, []openedSecret, error) {
	if keyID == "" || len(keyID) > MaxKeyIDLen {
		return nil, nil, ErrNotFound
	}
	c := own
	var err error
	if ms, ok := m.store.(*MemoryCredentialStore); ok && shared {
		c, err = ms.getShared(ctx, keyID)
	} else {
		*own, err = m.store.Get(ctx, keyID)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		m.secrets.forget(keyID)
		return nil, m.openDecoy(), ErrNotFound
	case err != nil:
		return nil, nil, fmt.Errorf("httpsig: lookup: %w", err)
	case c.KeyID != keyID:
		// A store that matched another spelling of the key ID.
		return nil, m.openDecoy(), ErrNotFound
	}
	if now.IsZero() {
		now = m.now()
	}
	if err := c.Usable(now); err != nil {
		m.secrets.forget(keyID)
		return nil, m.openDecoy(), err
	}
	// The secrets that verify now, current first (a stable partition).
	var buf [2 * (maxReplacedSecrets + 1)][]byte
	sealed := buf[:0]
	for _, s := range c.Secrets {
		if s.NotAfter.IsZero() {
			sealed = append(sealed, s.Sealed)
		}
	}
	for _, s := range c.Secrets {
		if !s.NotAfter.IsZero() && now.Before(s.NotAfter) {
			sealed = append(sealed, s.Sealed)
		}
	}
	if len(sealed) == 0 {
		return nil, nil, fmt.Errorf("httpsig: lookup %s: %w: no valid secret", keyID, ErrInvalidState)
	}
	entry, err := m.secrets.open(m.sealer, keyID, sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("httpsig: lookup %s: %w", keyID, err)
	}
	return c, entry, nil
}

// openDecoy spends the time of opening one secret, as Lookup does for a
// usable credential: through the cache (a hit, once the decoy is cached),
// or a decryption when there is none. It returns the decoy's entry, or
// nil if it does not open.
func (m *Manager) openDecoy() []openedSecret {
	entry, _ := m.secrets.open(m.sealer, "", m.decoy)
	return entry
}

// validate checks p against the clock reading now.
func (p CreateParams) validate(now time.Time) error {
	if why := validate.Credential(p.Grant, p.Name, p.Expires, now); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalidParams, why)
	}
	return nil
}

// randomKeyID returns a fresh key ID: KeyIDPrefix and 16 random base62
// characters.
func randomKeyID() string { return base62.ID(KeyIDPrefix, KeyIDLen-len(KeyIDPrefix)) }
