package apikey

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/cutoff"
)

// Errors returned by this package. Test for them with [errors.Is]: the
// returned errors may wrap them with context (never with any part of a key).
var (
	// ErrNotFound is returned when no record has that key ID. Store methods
	// return errors that wrap it.
	ErrNotFound = errors.New("apikey: not found")
	// ErrExists is returned when a record with that key ID already exists.
	ErrExists = errors.New("apikey: duplicate key ID")
	// ErrConflict is returned when the record changed since it was read (its
	// Version differs); read it again and retry.
	ErrConflict = errors.New("apikey: record changed concurrently")

	// ErrKeyInvalid is wrapped by every error that rejects a presented key:
	// [ErrMalformed], [ErrUnknownKey], [ErrRevoked], [ErrExpired],
	// [ErrDisabled] and [ErrPendingReview]. One errors.Is against it tells
	// a bad key from a store failure; the specific errors tell the reason.
	ErrKeyInvalid = errors.New("apikey: key rejected")
	// ErrMalformed is returned for a string that is not a well-formed key
	// (layout, alphabet, length or checksum), or that has another prefix
	// than the manager's.
	ErrMalformed error = &rejection{"apikey: malformed key"}
	// ErrUnknownKey is returned for a well-formed key that is unknown, or
	// whose secret does not match. The two are deliberately
	// indistinguishable.
	ErrUnknownKey error = &rejection{"apikey: invalid key"}
	// ErrRevoked is returned for a key that was revoked.
	ErrRevoked error = &rejection{"apikey: key revoked"}
	// ErrExpired is returned for a key whose expiry time has passed.
	ErrExpired error = &rejection{"apikey: key expired"}
	// ErrDisabled is returned for a key that is disabled.
	ErrDisabled error = &rejection{"apikey: key disabled"}
	// ErrPendingReview is returned for a live key that has not been
	// approved yet.
	ErrPendingReview error = &rejection{"apikey: key pending review"}

	// ErrInvalidParams is returned when a management call got an invalid
	// argument; the error says which.
	ErrInvalidParams = errors.New("apikey: invalid parameters")
	// ErrInvalidState is returned when the operation does not apply to the key
	// in its current state, for example approving a revoked key.
	ErrInvalidState = errors.New("apikey: operation not allowed in the key's state")
	// ErrSameActor is returned when [Manager.ApproveSeparately] was asked to
	// approve a key by whoever created it or last set its permissions or
	// package.
	ErrSameActor = errors.New("apikey: the approver created the key or last set its permissions")
)

// rejection is the error type of the specific rejections: each has its own
// message and is also [ErrKeyInvalid] for [errors.Is].
type rejection struct{ msg string }

func (e *rejection) Error() string { return e.msg }

// Is reports whether target is [ErrKeyInvalid], the umbrella of every
// rejection.
func (e *rejection) Is(target error) bool { return target == ErrKeyInvalid }

// Status is the review and revocation state of a key. Disabling is separate
// (see [Record.Disabled]) so that enabling returns a key to where it was.
type Status string

// The statuses.
const (
	// StatusPendingReview is the status of a new live key, which
	// authenticates only after [Manager.Approve].
	StatusPendingReview Status = "pending_review"
	// StatusActive is the status of a key that authenticates (unless it
	// is disabled or expired).
	StatusActive Status = "active"
	// StatusRevoked is the status of a key that never authenticates
	// again. Revocation is final.
	StatusRevoked Status = "revoked"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	return s == StatusPendingReview || s == StatusActive || s == StatusRevoked
}

// Hash is one accepted secret of a key: the SHA-256 (or, with a pepper,
// HMAC-SHA256) of the key's 43-character secret part. A key has one current hash and,
// during a rotation's grace period, the hashes it replaced.
type Hash struct {
	Sum [32]byte
	// NotAfter ends the validity of a replaced secret; zero for the current
	// one.
	NotAfter time.Time
}

// Record is what a [Store] keeps about a key: its hashes and metadata, never
// the plaintext (its Hint is the public tail of the checksum).
type Record struct {
	ID string
	// Grant is what the key is allowed: its account, mode, package,
	// permissions, stores and origin rules, enforced by the
	// access-control layer (package middleware).
	keygate.Grant
	Kind keygate.Kind
	Name string
	// CreatedBy is who created the key: [keygate.ActorFromContext] of
	// [Manager.Create]'s context, or empty when nobody was known. It is
	// at most 200 bytes of text: an actor that is not has its invalid
	// bytes and control characters replaced by U+FFFD and is cut to 200
	// bytes.
	CreatedBy string
	// PermissionsSetBy is who last widened the key: [keygate.ActorFromContext]
	// of [Manager.Create], then of the last [Manager.Update] that may have
	// given it more (its package, permissions, stores, origin rules or
	// expiry; see Update), in the same form as CreatedBy. The admin API's
	// separation of duties refuses the approval of a key by whoever
	// widened it.
	PermissionsSetBy string
	// Hint is the last four characters of the current key, for people to
	// tell keys apart ("…4242"), set by [Manager.Create] and
	// [Manager.Rotate]. It is public: those characters are the tail of
	// the checksum, never part of the secret, and say nothing useful about
	// it. Empty for a record that no Manager minted.
	Hint string

	Status   Status
	Disabled bool
	Hashes   []Hash

	Created    time.Time
	Expires    time.Time // zero: never
	LastUsed   time.Time // updated in batches; see Config.LastUsedInterval
	ApprovedBy string
	ApprovedAt time.Time
	RevokedAt  time.Time
	RotatedAt  time.Time
	// TokensNotBefore is the key's token cut-off: every token the key
	// obtained at or before it (access tokens compared by their iat
	// second, refresh tokens by their issue time) is refused. Rotating
	// without grace, disabling and revoking set it to now; zero means no
	// cut-off.
	TokensNotBefore time.Time

	// Version counts the record's updates; [Store.Update] uses it for
	// compare-and-swap. Create stores version 1.
	Version int64
}

// Usable reports whether the key may authenticate at now: nil, or
// [ErrRevoked], [ErrExpired], [ErrDisabled] or [ErrPendingReview], in that
// order. It says nothing about the secret: [Manager.Verify] checks that
// first. OAuth uses it for public clients, which present only a key ID.
func (r Record) Usable(now time.Time) error { return r.usable(now) }

// usable is Usable without copying the record.
func (r *Record) usable(now time.Time) error {
	switch {
	case r.Status == StatusRevoked:
		return ErrRevoked
	case !r.Expires.IsZero() && !now.Before(r.Expires):
		return ErrExpired
	case r.Disabled:
		return ErrDisabled
	case r.Status != StatusActive:
		return ErrPendingReview
	}
	return nil
}

// CutOff reports whether a token the key obtained at issuedAt has been cut
// off by [Record.TokensNotBefore]. The comparison is in whole seconds, the
// resolution of a JWT's iat: a token issued in the very second of the
// cut-off is cut off too (it may have been obtained just before it), so a
// client that obtains a token in the second after a rotation without
// grace may have to obtain it again. Accounts and HMAC credentials apply
// the same rule.
func (r Record) CutOff(issuedAt time.Time) bool {
	return cutoff.Applies(r.TokensNotBefore, issuedAt)
}

// copyVerified copies into dst the fields of r that verifying a key reads
// and [Manager.VerifyGrant] hands over: the ID, grant, kind, status,
// disabled flag, hashes and expiry, leaving dst's other fields as they
// were (memRecord.fill without whole writes the same ones). It spares the
// request path the copy of a whole Record.
func (r *Record) copyVerified(dst *Record) {
	dst.ID, dst.Grant, dst.Kind, dst.Status, dst.Disabled, dst.Hashes, dst.Expires =
		r.ID, r.Grant, r.Kind, r.Status, r.Disabled, r.Hashes, r.Expires
}

// clone returns a copy of r that shares no memory with it.
func (r Record) clone() Record {
	r.Hashes = cloneSlice(r.Hashes)
	r.Grant = keygate.CloneGrant(r.Grant)
	return r
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// ListFilter selects the records [Store.List] returns, in the order
// (Created, ID), oldest first, one page at a time.
type ListFilter struct {
	// Account, when set, keeps only that account's keys; empty means the
	// keys of every account.
	Account string
	// Mode, when set, keeps only keys of that mode.
	Mode keygate.Mode
	// Status, when set, keeps only keys in that status. (Disabled keys
	// keep their status: see [Record.Disabled].)
	Status Status
	// Kind, when set, keeps only keys of that kind (publishable or
	// secret).
	Kind keygate.Kind
	// ExpiresBefore, when set, keeps only keys with an expiry
	// ([Record.Expires] not zero) before it: expired keys, and keys about
	// to expire.
	ExpiresBefore time.Time
	// AfterCreated and AfterID are a position in the order: only the
	// matching records after it are returned, (Created, ID) >
	// (AfterCreated, AfterID). To fetch the next page, pass the Created
	// and ID of the last record of the previous one. The position need
	// not be a record that exists or matches; with an empty AfterID it
	// means "created at AfterCreated or later". Both zero: from the
	// start.
	AfterCreated time.Time
	AfterID      string
	// Limit, when positive, returns at most that many records: the first
	// matching ones after the position. Zero means no limit;
	// [Manager.List] refuses a negative one.
	Limit int
}

// matches reports whether r passes f's account, mode, status, kind and
// expiry filters and comes after its position.
func (f ListFilter) matches(r *Record) bool {
	switch {
	case f.Account != "" && r.Account != f.Account,
		f.Mode != "" && r.Mode != f.Mode,
		f.Status != "" && r.Status != f.Status,
		f.Kind != "" && r.Kind != f.Kind,
		!f.ExpiresBefore.IsZero() && (r.Expires.IsZero() || !r.Expires.Before(f.ExpiresBefore)):
		return false
	case f.AfterCreated.IsZero() && f.AfterID == "":
		return true
	}
	if c := r.Created.Compare(f.AfterCreated); c != 0 {
		return c > 0
	}
	return r.ID > f.AfterID
}

// Store keeps key records. Implementations must be safe for concurrent use,
// and every method must honour ctx (return ctx.Err(), wrapped or not, once
// it is done).
//
// Atomicity is part of the contract, so that SQL and Redis backends can
// implement it in the backend: Create must refuse a duplicate ID even when
// two calls race, Update is a compare-and-swap on Version, and Touch only
// ever moves LastUsed forward.
//
// A Store must not keep references to the slices it is given. Records it
// returns may share memory with each other and with its internal state, so
// callers must treat them as read-only ([Manager] hands out copies).
//
// Run the conformance suite in package apikeytest against every
// implementation.
type Store interface {
	// Create stores rec, whose Version is ignored, with Version 1 and
	// returns the stored record. It returns an error wrapping
	// [ErrExists] if a record with rec.ID exists.
	Create(ctx context.Context, rec Record) (Record, error)
	// Get returns the record with that ID, or an error wrapping
	// [ErrNotFound].
	Get(ctx context.Context, id string) (Record, error)
	// List returns the records that match f's account, mode and status
	// and come after its position, oldest first (by Created, then ID), at
	// most f.Limit of them when it is positive. Paging through with the
	// last record of each page as the next position returns every
	// matching record that exists throughout exactly once. (A SQL backend
	// implements it as WHERE ... AND (created, id) > ($1, $2) ORDER BY
	// created, id LIMIT $3, with an index on (created, id).)
	List(ctx context.Context, f ListFilter) ([]Record, error)
	// Update replaces the stored record with rec if the stored Version
	// equals rec.Version, stores it with Version+1 and returns it. It
	// returns an error wrapping [ErrConflict] if the versions differ and
	// [ErrNotFound] if there is no such record. LastUsed is kept as
	// stored: only Touch changes it.
	Update(ctx context.Context, rec Record) (Record, error)
	// Touch sets LastUsed to t if t is later than the stored value. It
	// changes nothing else, not even Version, and is atomic with Update: a
	// Touch racing an Update (a revocation, say) must never write back
	// fields read before that Update. It returns an error wrapping
	// [ErrNotFound] if there is no such record.
	Touch(ctx context.Context, id string, t time.Time) error
}
