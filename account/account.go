// Package account manages accounts: the owners of API keys and HMAC
// credentials (their Account field), each with a name for people and a
// package, the commercial plan that access rules grant features by (see
// package access).
//
// An account holds no secret. [Manager] creates, reads, lists, renames,
// disables and enables accounts on top of a [Store], with a
// compare-and-swap on every update, and reports what it changes through
// [Config.OnChange]. Disabling an account also cuts off the tokens its
// credentials obtained so far ([Account.TokensNotBefore]): enabling it
// again brings back its keys and credentials, not those tokens.
// [MemoryStore] is the embedded store; every implementation must pass the
// conformance suite in package accounttest.
// [CachedStore] is a read-through cache in front of a slow store, for the
// per-request [Lookup] of the middleware and the OAuth endpoints.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/cutoff"
)

// Errors returned by this package. Test for them with [errors.Is]: the
// returned errors may wrap them with context.
var (
	// ErrNotFound is returned when no account has that ID. Store methods return
	// errors that wrap it.
	ErrNotFound = errors.New("account: not found")
	// ErrExists is returned when an account with that ID already exists.
	ErrExists = errors.New("account: duplicate account ID")
	// ErrConflict is returned when the account changed since it was read (its
	// Version differs); read it again and retry.
	ErrConflict = errors.New("account: account changed concurrently")
	// ErrInvalidParams is returned when a call got an invalid argument; the
	// error says which.
	ErrInvalidParams = errors.New("account: invalid parameters")
	// ErrUnknownPackage is returned when the package is not one of
	// Config.Packages ([Manager.Packages]). It wraps [ErrInvalidParams].
	ErrUnknownPackage = fmt.Errorf("%w: unknown package", ErrInvalidParams)
)

// The anatomy of generated account IDs.
const (
	// IDPrefix starts every account ID that [Manager.Create] generates.
	IDPrefix = "acct_"
	// IDLen is the length of a generated account ID: IDPrefix and 16
	// random base62 characters (about 95 bits).
	IDLen = len(IDPrefix) + 16
	// MaxNameLen is the longest accepted name, in bytes.
	MaxNameLen = 200
)

// Account is what a [Store] keeps about an account.
type Account struct {
	// ID names the account wherever it is used, as the Account of its
	// keys and credentials: 1 to 128 characters of A-Z a-z 0-9 and
	// "_-.:". Generated IDs are IDPrefix and 16 base62 characters.
	ID string
	// Name is a label for people: 1 to MaxNameLen bytes of UTF-8 text
	// without control characters.
	Name string
	// Package is the account's package, such as "GO" (same syntax as ID),
	// or empty.
	Package string
	// Disabled suspends the account: every credential of it (API keys,
	// HMAC credentials, access and one-time tokens) is refused wherever
	// the account is looked up per request ([Lookup]), until it is
	// enabled again. See [Manager.Disable].
	Disabled bool
	// TokensNotBefore is the account's token cut-off: every access token,
	// one-time token and refresh-token family of the account issued at or
	// before it is refused ([Account.CutOff]), even once the account is
	// enabled again. [Manager.Disable] sets it to now; zero means no
	// cut-off.
	TokensNotBefore time.Time
	// Created and Updated are when the account was created and last
	// changed, on the manager's clock.
	Created time.Time
	Updated time.Time
	// Version counts the account's updates; [Store.Update] uses it for
	// compare-and-swap. Create stores version 1.
	Version int64
}

// CutOff reports whether a token of the account issued at issuedAt has
// been cut off by [Account.TokensNotBefore]. The comparison is in whole
// seconds, the resolution of a JWT's iat, as for API keys
// (apikey.Record.CutOff): a token issued in the very second of the
// cut-off is cut off too.
func (a Account) CutOff(issuedAt time.Time) bool {
	return cutoff.Applies(a.TokensNotBefore, issuedAt)
}

// ListFilter selects the accounts [Store.List] returns, in the order
// (Created, ID), oldest first, one page at a time.
type ListFilter struct {
	// AfterCreated and AfterID are a position in the order: only the
	// accounts after it are returned, (Created, ID) > (AfterCreated,
	// AfterID). To fetch the next page, pass the Created and ID of the
	// last account of the previous one. The position need not be an
	// account that exists (it may have been deleted since); with an empty
	// AfterID it means "created at AfterCreated or later". Both zero: from
	// the start.
	AfterCreated time.Time
	AfterID      string
	// Limit, when positive, returns at most that many accounts: the first
	// ones after the position. Zero means no limit; [Manager.List]
	// refuses a negative one.
	Limit int
	// Search, when set, keeps only the accounts whose ID or Name contains
	// it, ASCII letters compared without case (other characters as they
	// are, in every store alike). [Manager.List] refuses one that is not
	// text of at most MaxNameLen bytes.
	Search string
}

// Matches reports whether a passes f's search (its position and limit
// aside): what every store keeps.
func (f *ListFilter) Matches(a *Account) bool {
	if f.Search == "" {
		return true
	}
	s := FoldSearch(f.Search)
	return strings.Contains(FoldSearch(a.ID), s) || strings.Contains(FoldSearch(a.Name), s)
}

// FoldSearch returns s as [ListFilter].Search compares it: with its ASCII
// letters in lower case (as SQL's LOWER does in every database), other
// characters unchanged.
func FoldSearch(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// Store keeps accounts. Implementations must be safe for concurrent use,
// and every method must honour ctx (return ctx.Err(), wrapped or not, once
// it is done, without changing anything).
//
// Atomicity is part of the contract, so that SQL and Redis backends can
// implement it in the backend: Create must refuse a duplicate ID even when
// two calls race, and Update is a compare-and-swap on Version. IDs compare
// byte for byte.
//
// Run the conformance suite accounttest.TestStore against every
// implementation.
type Store interface {
	// Create stores a, whose Version is ignored, with Version 1 and
	// returns the stored account. It returns an error wrapping
	// [ErrExists] if an account with a.ID exists.
	Create(ctx context.Context, a Account) (Account, error)
	// Get returns the account with that ID, or an error wrapping
	// [ErrNotFound].
	Get(ctx context.Context, id string) (Account, error)
	// Update replaces the stored account with a if the stored Version
	// equals a.Version, stores it with Version+1 and returns it. It
	// returns an error wrapping [ErrConflict] if the versions differ and
	// [ErrNotFound] if there is no such account.
	Update(ctx context.Context, a Account) (Account, error)
	// List returns the accounts after f's position, oldest first (by
	// Created, then ID), at most f.Limit of them when it is positive.
	// Paging through with the last account of each page as the next
	// position returns every account that exists throughout exactly once.
	List(ctx context.Context, f ListFilter) ([]Account, error)
}

// Lookup finds an account by ID: what the middleware and the OAuth
// endpoints ask on every request, to refuse the credentials of a disabled
// account and to take the account's current package. [*Manager] and every
// [Store] implement it; put a [CachedStore] in front of a slow store.
type Lookup interface {
	// Get returns the account with that ID, or an error wrapping
	// [ErrNotFound] (or a store error).
	Get(ctx context.Context, id string) (Account, error)
}

// after reports whether a comes after the position (t, id) in the order of
// [Store.List].
func after(a Account, t time.Time, id string) bool {
	if c := a.Created.Compare(t); c != 0 {
		return c > 0
	}
	return a.ID > id
}
