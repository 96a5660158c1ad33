// Package lifecycle runs what API keys (package apikey) and HMAC
// credentials (package httpsig) share of their lifecycle: creation under
// a fresh ID when one collides, rotation with a grace period, revocation,
// disabling and enabling, the change events those report, and the
// compare-and-swap update under all of them. Each manager keeps what is
// its own (minting, secrets, review) and passes in its store and its
// sentinel errors, so that its errors stay its own.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/cas"
	"github.com/keygate/keygate/internal/validate"
)

// createRetries is how many times Create tries again under a fresh ID
// after a collision (of 95 random bits: vanishingly rare, but handled).
const createRetries = 3

// Fields points at the fields of one record that its lifecycle reads and
// sets. S is the package's status type.
type Fields[S ~string] struct {
	// ID points at the record's ID, the key of its store.
	ID *string
	// Grant points at the record's grant, whose account and mode the
	// change events (Report) name.
	Grant *keygate.Grant
	// Status points at the record's status, which Revoke sets to
	// Manager.Revoked.
	Status *S
	// Disabled points at whether the record is disabled (SetDisabled).
	Disabled *bool
	// RevokedAt, RotatedAt and TokensNotBefore point at when the record
	// was revoked and last rotated, and at its cut-off: the tokens it
	// obtained before then are refused.
	RevokedAt, RotatedAt, TokensNotBefore *time.Time
}

// Errors are the sentinels of the package whose records a [Manager] runs.
type Errors struct {
	// Exists and Conflict are what its store's Create and Update return
	// for an ID in use and a lost compare-and-swap.
	Exists, Conflict error
	// InvalidParams, InvalidState and Revoked are what the lifecycle
	// returns for a negative grace period, disabling or enabling a revoked
	// record, and rotating one.
	InvalidParams, InvalidState, Revoked error
}

// Actions are the change events a [Manager] reports.
type Actions struct {
	// Created, Rotated, Revoked, Disabled and Enabled are the actions
	// that Create, Rotate, Revoke and SetDisabled report.
	Created, Rotated, Revoked, Disabled, Enabled keygate.Action
}

// Store is what a [Manager] needs of a store of records R.
type Store[R any] struct {
	// Get reads the record with that ID.
	Get func(ctx context.Context, id string) (R, error)
	// Create stores a new record, or fails with Errors.Exists when its ID
	// is in use.
	Create func(ctx context.Context, r R) (R, error)
	// Update stores r if its version is still the stored one, else fails
	// with Errors.Conflict.
	Update func(ctx context.Context, r R) (R, error)
}

// Manager runs the lifecycle of records R, whose status type is S, in a
// compare-and-swap store. Every field but Clone and OnChange is required.
type Manager[R any, S ~string] struct {
	// Name starts the errors ("apikey" makes "apikey: revoke: ..."), and
	// Noun names a record in them ("the key is revoked").
	Name, Noun string
	// Revoked is the status of a revoked record.
	Revoked S
	// Fields points at r's lifecycle fields.
	Fields func(r *R) Fields[S]
	// Store is the compare-and-swap store that keeps the records.
	Store Store[R]
	// Clone, when set, copies a record that may share memory with the
	// store: the record read for a change, and the record returned.
	Clone func(R) R
	// Retries bounds the compare-and-swap retries of one update.
	Retries int
	// Now is the clock that dates rotations, revocations and disablings.
	Now func() time.Time
	// OnChange, when set, is told about every stored change (see
	// Report).
	OnChange keygate.ChangeFunc
	// Errors are the package's sentinel errors, which the lifecycle's
	// errors wrap.
	Errors Errors
	// Actions are the change events the lifecycle reports.
	Actions Actions
}

func (m *Manager[R, S]) clone(r R) R {
	if m.Clone == nil {
		return r
	}
	return m.Clone(r)
}

// Create stores the record that mint makes, calling mint again (for a
// fresh ID) when the store already has its ID, and reports
// Actions.Created.
func (m *Manager[R, S]) Create(ctx context.Context, mint func() R) (R, error) {
	for attempt := 0; ; attempt++ {
		stored, err := m.Store.Create(ctx, mint())
		if errors.Is(err, m.Errors.Exists) && attempt < createRetries {
			continue
		}
		if err != nil {
			var zero R
			return zero, fmt.Errorf("%s: create: %w", m.Name, err)
		}
		m.Report(ctx, m.Actions.Created, stored, "")
		return m.clone(stored), nil
	}
}

// Get returns the record with that ID (a copy, with Clone).
func (m *Manager[R, S]) Get(ctx context.Context, id string) (R, error) {
	r, err := m.Store.Get(ctx, id)
	if err != nil {
		var zero R
		return zero, fmt.Errorf("%s: get: %w", m.Name, err)
	}
	return m.clone(r), nil
}

// Filter is what list filters of every kind of record hold: the account
// and mode they keep, the ID they start after, and their page size.
type Filter struct {
	// Account, when not empty, selects the records of that account.
	Account string
	// Mode, when not empty, selects the records of that mode.
	Mode keygate.Mode
	// AfterID, when not empty, starts the page after the record with
	// that ID.
	AfterID string
	// Limit is the page size; List refuses a negative one.
	Limit int
}

// List checks f and returns the records list finds, copies with Clone. A
// bad filter is an error wrapping Errors.InvalidParams that says why: its
// account, its mode, own (the package's own first problem with the
// filter, such as its status; "" when none), its after ID or its limit,
// the first of those that is wrong.
func (m *Manager[R, S]) List(f Filter, own string, list func() ([]R, error)) ([]R, error) {
	why := own
	switch {
	case f.Account != "" && !validate.Ident(f.Account):
		why = "account must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"
	case f.Mode != "" && !f.Mode.Valid():
		why = fmt.Sprintf("mode must be %q or %q", keygate.ModeTest, keygate.ModeLive)
	case own != "":
	case f.AfterID != "" && !validate.Ident(f.AfterID):
		why = "after ID must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"
	case f.Limit < 0:
		why = "limit must not be negative"
	}
	if why != "" {
		return nil, fmt.Errorf("%w: %s", m.Errors.InvalidParams, why)
	}
	rs, err := list()
	if err != nil {
		return nil, fmt.Errorf("%s: list: %w", m.Name, err)
	}
	for i := range rs {
		rs[i] = m.clone(rs[i])
	}
	return rs, nil
}

// Update applies change to a fresh copy of the record with that ID and
// stores it with a compare-and-swap, again on a fresh copy when another
// writer got there first, up to Retries times. An error of change ends
// it at once.
func (m *Manager[R, S]) Update(ctx context.Context, id string, change func(*R) error) (R, error) {
	stored, err := cas.Update(
		func() (R, error) {
			cur, err := m.Store.Get(ctx, id)
			return m.clone(cur), err // the store's record may share memory: change a copy
		},
		change,
		func(r R) (R, error) { return m.Store.Update(ctx, r) },
		func(err error) bool { return errors.Is(err, m.Errors.Conflict) },
		m.Retries)
	if err != nil {
		var zero R
		return zero, err
	}
	return m.clone(stored), nil
}

// Rotate gives the record with that ID new secrets: rotate sets them, at
// now, and the record's RotatedAt becomes now. Without grace (zero) the
// record's TokensNotBefore becomes now too: whatever the replaced secret
// obtained goes with it. A negative grace is an error wrapping
// Errors.InvalidParams; a revoked record cannot be rotated
// (Errors.Revoked). It reports Actions.Rotated.
func (m *Manager[R, S]) Rotate(ctx context.Context, id string, grace time.Duration, rotate func(r *R, now time.Time) error) (R, error) {
	var zero R
	if grace < 0 {
		return zero, fmt.Errorf("%w: negative grace period", m.Errors.InvalidParams)
	}
	r, err := m.Update(ctx, id, func(r *R) error {
		f := m.Fields(r)
		if *f.Status == m.Revoked {
			return m.Errors.Revoked
		}
		now := m.Now()
		if err := rotate(r, now); err != nil {
			return err
		}
		*f.RotatedAt = now
		if grace == 0 {
			*f.TokensNotBefore = now
		}
		return nil
	})
	if err != nil {
		return zero, fmt.Errorf("%s: rotate: %w", m.Name, err)
	}
	m.Report(ctx, m.Actions.Rotated, r, "")
	return r, nil
}

// Keep returns the secrets of a record after a rotation at now: fresh
// first, then those of prev that still verify (notAfter points at an
// element's end of validity, zero for the current one): the current one
// for grace (not at all when grace is zero), and those replaced before
// until their own end, at most max of them (the oldest are dropped).
func Keep[E any](fresh E, prev []E, notAfter func(*E) *time.Time, now time.Time, grace time.Duration, max int) []E {
	kept := []E{fresh}
	for _, e := range prev {
		end := notAfter(&e)
		if end.IsZero() {
			if grace == 0 {
				continue
			}
			*end = now.Add(grace)
		}
		if now.Before(*end) && len(kept) <= max {
			kept = append(kept, e)
		}
	}
	return kept
}

// Revoke makes the record with that ID revoked, at now, with its
// TokensNotBefore, and reports Actions.Revoked; revoking a revoked record
// changes nothing and reports nothing. also, when set, changes the record
// too, revoked before or not.
func (m *Manager[R, S]) Revoke(ctx context.Context, id string, also func(*R)) (R, error) {
	changed := false
	r, err := m.Update(ctx, id, func(r *R) error {
		f := m.Fields(r)
		changed = *f.Status != m.Revoked
		if changed {
			*f.Status = m.Revoked
			*f.RevokedAt = m.Now()
			*f.TokensNotBefore = *f.RevokedAt
		}
		if also != nil {
			also(r)
		}
		return nil
	})
	if err != nil {
		var zero R
		return zero, fmt.Errorf("%s: revoke: %w", m.Name, err)
	}
	if changed {
		m.Report(ctx, m.Actions.Revoked, r, "")
	}
	return r, nil
}

// SetDisabled disables or enables the record with that ID, and reports
// Actions.Disabled or Actions.Enabled when that changed it. Disabling sets
// its TokensNotBefore to now: enabling it again does not bring back the
// tokens it obtained before. A revoked record is an error wrapping
// Errors.InvalidState.
func (m *Manager[R, S]) SetDisabled(ctx context.Context, id string, disabled bool) (R, error) {
	changed := false
	r, err := m.Update(ctx, id, func(r *R) error {
		f := m.Fields(r)
		if *f.Status == m.Revoked {
			return fmt.Errorf("%w: the %s is revoked", m.Errors.InvalidState, m.Noun)
		}
		changed = *f.Disabled != disabled
		*f.Disabled = disabled
		if changed && disabled {
			*f.TokensNotBefore = m.Now()
		}
		return nil
	})
	if err != nil {
		var zero R
		return zero, fmt.Errorf("%s: set disabled: %w", m.Name, err)
	}
	if changed {
		action := m.Actions.Enabled
		if disabled {
			action = m.Actions.Disabled
		}
		m.Report(ctx, action, r, "")
	}
	return r, nil
}

// Report tells OnChange, when set, about a stored change to r by actor;
// an empty actor means the context's ([keygate.ActorFromContext]).
func (m *Manager[R, S]) Report(ctx context.Context, action keygate.Action, r R, actor string) {
	if m.OnChange == nil {
		return
	}
	if actor == "" {
		actor = keygate.ActorFromContext(ctx)
	}
	f := m.Fields(&r)
	m.OnChange(ctx, keygate.Change{Action: action, Time: m.Now(), Actor: actor,
		KeyID: *f.ID, Account: f.Grant.Account, Mode: f.Grant.Mode})
}
