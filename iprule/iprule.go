// Package iprule keeps a service's own IP allow and deny lists, which
// decide from which addresses the service (and its gateway) may be called
// at all: rules that apply to every request of the service (service-wide)
// or to every credential of one account, on top of the rules each key or
// credential carries itself.
//
// A [Rule] allows or denies one address or CIDR prefix, IPv4 or IPv6. The
// rules of one scope (the service, or one account) are matched as
// [ipbind.Rules] are: a deny entry wins over an allow entry, and a
// non-empty allow list admits only the addresses it matches. A request
// passes when it passes both the service-wide rules and its account's:
// a deny entry of either wins, and an allow list of either narrows.
//
// Rules live in a [Store] (a [MemoryStore], or package sqlstore's in a
// SQL database). A [Checker] keeps them in memory for the per-request
// check of package middleware, and reloads them when told of a change
// ([Checker.Invalidate], or [Checker.OnChange] as a
// [keygate.ChangeFunc]) or when its copy is older than its TTL.
package iprule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/base62"
	"github.com/keygate/keygate/ipbind"
)

// Action is what a rule does with the addresses it matches.
type Action string

// The actions of a rule.
const (
	// Allow puts the prefix on its scope's allow list: once the list is
	// not empty, only the addresses it matches are admitted.
	Allow Action = "allow"
	// Deny refuses the addresses the prefix matches, whatever an allow
	// entry says.
	Deny Action = "deny"
)

// Valid reports whether a is Allow or Deny.
func (a Action) Valid() bool { return a == Allow || a == Deny }

// Rule is one entry of an allow or deny list.
type Rule struct {
	// ID identifies the rule, such as "ipr_…".
	ID string
	// Account is the account whose credentials the rule applies to;
	// empty for a service-wide rule, which applies to every request.
	Account string
	// Action is Allow or Deny.
	Action Action
	// CIDR is the address or prefix, in its canonical form
	// ([Canonical]): "192.0.2.0/24", "2001:db8::/32", or a single
	// address as "/32" or "/128".
	CIDR string
	// Note is a free text for people, such as "office VPN".
	Note string
	// Created is when the rule was added, and CreatedBy who added it (an
	// admin key's ID, a console user).
	Created   time.Time
	CreatedBy string
}

// Errors of the stores. Test for them with [errors.Is].
var (
	// ErrNotFound is returned for a rule ID that no rule has.
	ErrNotFound = errors.New("iprule: no such IP rule")
	// ErrExists is returned when a rule with the same ID, or with the
	// same account, action and prefix, exists already.
	ErrExists = errors.New("iprule: the IP rule exists already")
	// ErrInvalidPrefix wraps the errors of [Canonical]: the text is not
	// an IPv4 or IPv6 address or CIDR prefix as [ipbind.ParseRules]
	// reads them.
	ErrInvalidPrefix = errors.New("iprule: not an IP address or CIDR prefix")
)

// Bounds of a rule's text fields.
const (
	// MaxNoteLen is the longest Note, in bytes.
	MaxNoteLen = 200
	// MaxCIDRLen is the longest address or prefix text accepted.
	MaxCIDRLen = 64
)

// IDPrefix starts every rule ID [NewID] makes, and IDLen is their length.
const (
	IDPrefix = "ipr_"
	IDLen    = 24
)

// NewID returns a new random rule ID.
func NewID() string { return base62.ID(IDPrefix, IDLen-len(IDPrefix)) }

// Canonical returns the canonical form of an address or CIDR prefix as
// [ipbind.ParseRules] reads it: a prefix with its length ("192.0.2.1"
// becomes "192.0.2.1/32"), IPv4-mapped IPv6 as IPv4, IPv6 compressed. A
// prefix with host bits set, a zone or anything else that is not an
// address is refused with an error wrapping [ErrInvalidPrefix], which
// never quotes s.
func Canonical(s string) (string, error) {
	if len(s) > MaxCIDRLen || strings.TrimSpace(s) != s {
		return "", fmt.Errorf("%w: too long or surrounded by spaces", ErrInvalidPrefix)
	}
	r, err := ipbind.ParseRules([]string{s}, nil)
	if err != nil {
		if why := reason(err); why != "" {
			return "", fmt.Errorf("%w: %s", ErrInvalidPrefix, why)
		}
		return "", ErrInvalidPrefix
	}
	return r.Allow()[0].String(), nil
}

// reason is the end of an ipbind error, after the entry it quotes (such
// as "host bits set" or "zones are not allowed"), or "" when it says no
// more than ErrInvalidPrefix.
func reason(err error) string {
	msg := err.Error()
	i := strings.LastIndex(msg, ": ")
	if i < 0 || strings.HasSuffix(ErrInvalidPrefix.Error(), msg[i:]) {
		return ""
	}
	return msg[i+2:]
}

// Filter selects the rules [Store.List] returns. The zero Filter selects
// every rule.
type Filter struct {
	// Account, when set, selects that account's rules only.
	Account string
	// ServiceWide selects the service-wide rules only. It may not be
	// combined with Account.
	ServiceWide bool
}

// Matches reports whether f selects r.
func (f Filter) Matches(r Rule) bool {
	switch {
	case f.ServiceWide:
		return r.Account == ""
	case f.Account != "":
		return r.Account == f.Account
	}
	return true
}

// Store keeps rules. Implementations are safe for concurrent use and pass
// the conformance suite of package ipruletest.
type Store interface {
	// Create stores r as given (its ID, canonical CIDR and Created set
	// by the caller) and returns it as stored. It fails with an error
	// wrapping ErrExists when a rule has r's ID, or r's Account, Action
	// and CIDR.
	Create(ctx context.Context, r Rule) (Rule, error)
	// Get returns the rule with that ID, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Rule, error)
	// List returns the rules f selects, oldest first (by Created, then
	// ID).
	List(ctx context.Context, f Filter) ([]Rule, error)
	// Delete removes the rule with that ID and returns it, or fails with
	// an error wrapping ErrNotFound.
	Delete(ctx context.Context, id string) (Rule, error)
}
