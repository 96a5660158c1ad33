package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/base62"
	"github.com/keygate/keygate/internal/cas"
	"github.com/keygate/keygate/internal/validate"
)

// Config configures a [Manager]. The zero value is usable: an in-memory
// store and the system clock.
type Config struct {
	// Store keeps the accounts. Nil means a new [MemoryStore].
	Store Store
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// OnChange, when set, is told of every account created
	// ([keygate.ActionAccountCreated]), changed
	// ([keygate.ActionAccountUpdated]), disabled
	// ([keygate.ActionAccountDisabled]) and enabled
	// ([keygate.ActionAccountEnabled]), after it is stored, with
	// Change.Account the account's ID and the actor taken from the
	// context (see [keygate.WithActor]). An update that changes nothing
	// is not reported.
	OnChange keygate.ChangeFunc
	// Packages, when not nil, are the only packages an account may have
	// (besides none, the empty package): the service's packages, such as
	// access.Packages.Names. Create and Update refuse any other with an error
	// wrapping [ErrInvalidParams] that names the package. Nil allows any
	// package of the right syntax.
	Packages []string
}

// Manager creates, reads, lists, updates, disables and enables accounts on
// top of a [Store]. It is safe for concurrent use. It implements [Lookup].
type Manager struct {
	store    Store
	now      func() time.Time
	onChange keygate.ChangeFunc
	packages []string // nil: any
}

// maxUpdateRetries bounds the compare-and-swap retries of one Update under
// contention.
const maxUpdateRetries = 16

// NewManager returns a Manager for cfg. Every Config is valid today; the
// error is there for settings to come.
func NewManager(cfg Config) (*Manager, error) {
	// An empty, non-nil list (Clone keeps it non-nil) allows no package
	// but none.
	m := &Manager{store: cfg.Store, now: cfg.Now, onChange: cfg.OnChange, packages: slices.Clone(cfg.Packages)}
	if m.store == nil {
		m.store = NewMemoryStore()
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// CreateParams describes a new account.
type CreateParams struct {
	// ID, when set, is the account's ID: 1 to 128 characters of A-Z a-z
	// 0-9 and "_-.:", such as an ID from another system. Empty means a
	// generated one: IDPrefix and 16 random base62 characters.
	ID string
	// Name is a label for people: 1 to MaxNameLen bytes of UTF-8 text
	// without control characters. Required.
	Name string
	// Package is the account's package, such as "GO" (same syntax as ID, and
	// one of Config.Packages when set), or empty.
	Package string
}

// Create stores a new account, created and updated now, and returns it. It
// returns an error wrapping [ErrInvalidParams] if p is invalid, or
// [ErrExists] if p.ID is taken.
func (m *Manager) Create(ctx context.Context, p CreateParams) (Account, error) {
	if p.ID != "" && !validate.Ident(p.ID) {
		return Account{}, fmt.Errorf("%w: ID must be %s", ErrInvalidParams, identSyntax)
	}
	if err := checkName(p.Name); err != nil {
		return Account{}, err
	}
	if err := m.checkPackage(p.Package); err != nil {
		return Account{}, err
	}
	now := m.now()
	for attempt := 0; ; attempt++ {
		a := Account{ID: p.ID, Name: p.Name, Package: p.Package, Created: now, Updated: now}
		if a.ID == "" {
			a.ID = newID()
		}
		stored, err := m.store.Create(ctx, a)
		if errors.Is(err, ErrExists) && p.ID == "" && attempt < 3 {
			continue // a 95-bit collision: vanishingly rare, but handled
		}
		if err != nil {
			return Account{}, fmt.Errorf("account: create: %w", err)
		}
		m.report(ctx, keygate.ActionAccountCreated, stored)
		return stored, nil
	}
}

// Get returns the account with that ID, or an error wrapping
// [ErrNotFound]. An ID that no account could have is not found without
// asking the store.
func (m *Manager) Get(ctx context.Context, id string) (Account, error) {
	if !validate.Ident(id) {
		return Account{}, fmt.Errorf("account: get: %w", ErrNotFound)
	}
	var a Account
	var err error
	if c, ok := m.store.(*CachedStore); ok {
		// The per-request lookup of the middleware: read the cached
		// account in place and copy it once, not once per layer. (An
		// Account holds no reference types: the copy shares nothing.)
		var p *Account
		if p, err = c.s.GetRef(ctx, id); err == nil {
			a = *p
		}
	} else {
		a, err = m.store.Get(ctx, id)
	}
	if err != nil {
		return Account{}, fmt.Errorf("account: get: %w", err)
	}
	return a, nil
}

// List returns the accounts after f's position that match its search,
// oldest first (by Created, then ID), at most f.Limit of them when it is
// positive; see [ListFilter]. It returns an error wrapping
// [ErrInvalidParams] for a negative Limit, an AfterID that no account could
// have, or a Search that is not text.
func (m *Manager) List(ctx context.Context, f ListFilter) ([]Account, error) {
	if err := checkFilter(f); err != nil {
		return nil, err
	}
	as, err := m.store.List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("account: list: %w", err)
	}
	return as, nil
}

// checkFilter validates a list filter.
func checkFilter(f ListFilter) error {
	switch {
	case f.Limit < 0:
		return fmt.Errorf("%w: limit must not be negative", ErrInvalidParams)
	case f.AfterID != "" && !validate.Ident(f.AfterID):
		return fmt.Errorf("%w: after ID must be %s", ErrInvalidParams, identSyntax)
	case !validate.Text(f.Search, MaxNameLen):
		return fmt.Errorf("%w: search must be at most %d bytes of text", ErrInvalidParams, MaxNameLen)
	}
	return nil
}

// Changes lists what [Manager.Update] sets; nil fields are left as they
// are.
type Changes struct {
	// Name, when set, renames the account (1 to MaxNameLen bytes of
	// text).
	Name *string
	// Package, when set, moves the account to that package (one of
	// Config.Packages when set); a pointer to "" removes it.
	Package *string
}

// errUnchanged ends an update that would change nothing.
var errUnchanged = errors.New("account: unchanged")

// Update applies c to the account atomically (a compare-and-swap, retried
// when another writer got there first), sets Updated, and returns the
// account. Changes that set what is already there store nothing and return
// the account as it is. It returns an error wrapping [ErrInvalidParams],
// [ErrNotFound], or [ErrConflict] after too many concurrent writers.
func (m *Manager) Update(ctx context.Context, id string, c Changes) (Account, error) {
	if c.Name != nil {
		if err := checkName(*c.Name); err != nil {
			return Account{}, err
		}
	}
	if c.Package != nil {
		if err := m.checkPackage(*c.Package); err != nil {
			return Account{}, err
		}
	}
	return m.change(ctx, id, "update", keygate.ActionAccountUpdated, func(a *Account) bool {
		changed := false
		if c.Name != nil && *c.Name != a.Name {
			a.Name, changed = *c.Name, true
		}
		if c.Package != nil && *c.Package != a.Package {
			a.Package, changed = *c.Package, true
		}
		return changed
	})
}

// Disable suspends the account atomically (a compare-and-swap, like
// [Manager.Update]): every credential of it is then refused on its next
// request wherever the account is looked up ([Lookup]), until [Manager.Enable].
// It also sets [Account.TokensNotBefore] to now: the access tokens,
// one-time tokens and refresh-token families the account's credentials
// obtained so far stay refused after Enable, as a disabled API key's do.
// Disabling a disabled account stores nothing, reports nothing and returns
// it as it is. It returns an error wrapping [ErrNotFound], or [ErrConflict]
// after too many concurrent writers.
func (m *Manager) Disable(ctx context.Context, id string) (Account, error) {
	return m.setDisabled(ctx, id, true)
}

// Enable undoes [Manager.Disable], but for the tokens it cut off: their
// credentials obtain new ones. Enabling an account that is not disabled
// stores nothing, reports nothing and returns it as it is.
func (m *Manager) Enable(ctx context.Context, id string) (Account, error) {
	return m.setDisabled(ctx, id, false)
}

func (m *Manager) setDisabled(ctx context.Context, id string, disabled bool) (Account, error) {
	action, op := keygate.ActionAccountEnabled, "enable"
	if disabled {
		action, op = keygate.ActionAccountDisabled, "disable"
	}
	return m.change(ctx, id, op, action, func(a *Account) bool {
		if a.Disabled == disabled {
			return false
		}
		a.Disabled = disabled
		if disabled {
			// Enabling the account again does not bring back the
			// tokens its credentials obtained before.
			a.TokensNotBefore = m.now()
		}
		return true
	})
}

// change applies mutate to the account id atomically (a compare-and-swap,
// retried when another writer got there first), sets Updated, stores it
// and reports action. When mutate reports no change, nothing is stored
// or reported, and the account is returned as it is. op names the call in
// errors.
func (m *Manager) change(ctx context.Context, id, op string, action keygate.Action, mutate func(*Account) bool) (Account, error) {
	if !validate.Ident(id) {
		return Account{}, fmt.Errorf("account: %s: %w", op, ErrNotFound)
	}
	var current Account
	a, err := cas.Update(
		func() (Account, error) { return m.store.Get(ctx, id) },
		func(a *Account) error {
			if !mutate(a) {
				current = *a
				return errUnchanged
			}
			a.Updated = m.now()
			return nil
		},
		func(a Account) (Account, error) { return m.store.Update(ctx, a) },
		func(err error) bool { return errors.Is(err, ErrConflict) },
		maxUpdateRetries)
	switch {
	case errors.Is(err, errUnchanged):
		return current, nil
	case err != nil:
		return Account{}, fmt.Errorf("account: %s: %w", op, err)
	}
	m.report(ctx, action, a)
	return a, nil
}

// report tells Config.OnChange about a stored change to a.
func (m *Manager) report(ctx context.Context, action keygate.Action, a Account) {
	if m.onChange == nil {
		return
	}
	m.onChange(ctx, keygate.Change{Action: action, Time: m.now(), Actor: keygate.ActorFromContext(ctx), Account: a.ID})
}

// identSyntax describes validate.Ident for error messages.
const identSyntax = "1 to 128 characters of A-Z a-z 0-9 _ - . :"

func checkName(name string) error {
	if name == "" || !validate.Text(name, MaxNameLen) {
		return fmt.Errorf("%w: name must be 1 to %d bytes of text without control characters", ErrInvalidParams, MaxNameLen)
	}
	return nil
}

// checkPackage refuses a package of the wrong syntax, or one outside
// Config.Packages when set.
func (m *Manager) checkPackage(pkg string) error {
	switch {
	case pkg == "":
		return nil
	case !validate.Ident(pkg):
		return fmt.Errorf("%w: package must be %s", ErrInvalidParams, identSyntax)
	case m.packages != nil && !slices.Contains(m.packages, pkg):
		return fmt.Errorf("%w: package must be one of the service's packages (%s)", ErrUnknownPackage, strings.Join(m.packages, ", "))
	}
	return nil
}

// Packages returns the packages an account may have (Config.Packages),
// or nil when any package of the right syntax is allowed.
func (m *Manager) Packages() []string { return slices.Clone(m.packages) }

// newID returns a fresh account ID: IDPrefix and 16 random base62
// characters.
func newID() string { return base62.ID(IDPrefix, IDLen-len(IDPrefix)) }
