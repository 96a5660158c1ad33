package password

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// DefaultMaxConcurrent bounds the checks a [Checker] runs at once when
// [CheckerConfig.MaxConcurrent] is zero. Each Argon2id check with
// [DefaultParams] takes 64 MiB.
const DefaultMaxConcurrent = 4

// DefaultMaxPerClient bounds the checks one client has under way at once
// when [CheckerConfig.MaxPerClient] is zero: one client cannot take more
// than one of the [DefaultMaxConcurrent] slots, so it cannot deny
// sign-ins to the others.
const DefaultMaxPerClient = 1

// ErrBusy is what [Checker.Check] answers when the overall bound or the
// client's share of it is reached: the check did not run.
var ErrBusy = errors.New("password: too many checks under way")

// CheckerConfig configures a [Checker].
type CheckerConfig struct {
	// Params are the Argon2id costs of the dummy hash that unknown names
	// are checked against; they should be those of the stored hashes, so
	// that an unknown name costs what a wrong password does. Zero means
	// [DefaultParams].
	Params Params
	// MaxConcurrent bounds the checks under way at once; beyond it Check
	// answers [ErrBusy]. Zero means [DefaultMaxConcurrent].
	MaxConcurrent int
	// MaxPerClient bounds the checks one client has under way at once.
	// Zero means [DefaultMaxPerClient].
	MaxPerClient int
}

// Checker runs password checks for sign-ins open to anyone, where each
// Argon2id check costs much memory and time: at most MaxConcurrent at
// once, of which one client has at most MaxPerClient, so that a client
// holding many guesses in flight delays only itself. Beyond either bound
// it answers [ErrBusy] at once rather than queueing. An IPv6 client counts
// with its /64, which one client usually holds whole; the zero address
// (client unknown) is subject to the overall bound only. An unknown name
// is checked against a dummy hash, so that timing does not tell which
// names exist. A Checker is safe for concurrent use.
type Checker struct {
	dummy string        // a hash to verify against for unknown names
	slots chan struct{} // one per check under way

	perClient int
	mu        sync.Mutex
	held      map[netip.Addr]int // checks under way per client group
}

// NewChecker returns a Checker for cfg. It hashes the dummy password once,
// at cfg.Params' cost.
func NewChecker(cfg CheckerConfig) (*Checker, error) {
	params := cfg.Params
	if params == (Params{}) {
		params = DefaultParams
	}
	maxConcurrent := cfg.MaxConcurrent
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	perClient := cfg.MaxPerClient
	if perClient <= 0 {
		perClient = DefaultMaxPerClient
	}
	dummy, err := Hash("unknown user", params)
	if err != nil {
		return nil, err
	}
	return &Checker{dummy: dummy, slots: make(chan struct{}, maxConcurrent), perClient: perClient,
		held: map[netip.Addr]int{}}, nil
}

// Lookup finds the stored hash that a [Checker.Check] verifies against.
// It answers known false (and no error) for a name that has none, and an
// error only when it could not look (a store that is down).
type Lookup func(ctx context.Context) (encoded string, known bool, err error)

// Check verifies password for a sign-in from client. Within the bounds it
// takes a slot, calls lookup (holding the slot, so that slow lookups count
// against the client too) and verifies password against the hash found,
// or against the dummy hash when lookup reports the name unknown.
//
// It returns nil when the password matches a known hash; [ErrBusy] beyond
// the bounds; ctx's error when it has ended; lookup's error as it is; or
// an error wrapping [ErrMismatch] for an unknown name, a wrong or too long
// password, or a malformed stored hash (also wrapping [ErrTooLong] or
// [ErrMalformedHash] then). No error carries the password.
func (c *Checker) Check(ctx context.Context, client netip.Addr, password string, lookup Lookup) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	group, ok := c.acquire(client)
	if !ok {
		return ErrBusy
	}
	defer c.release(group)
	encoded, known, err := lookup(ctx)
	if err != nil {
		return err
	}
	if !known {
		encoded = c.dummy
	}
	err = Verify(password, encoded)
	switch {
	case err == nil && known:
		return nil
	case err == nil, errors.Is(err, ErrMismatch):
		return ErrMismatch
	}
	return fmt.Errorf("%w: %w", ErrMismatch, err)
}

// ClientGroup is what a client address is counted under: an IPv4 address
// (also IPv4-mapped IPv6) alone, an IPv6 address with its /64 (the
// network address of the /64), which one client usually holds whole.
func ClientGroup(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// acquire takes a slot for a check from client, if the overall bound and
// the client's share allow. It returns the group to release.
func (c *Checker) acquire(client netip.Addr) (netip.Addr, bool) {
	var group netip.Addr
	if client.IsValid() {
		group = ClientGroup(client)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.held[group] >= c.perClient {
			return group, false
		}
	}
	select {
	case c.slots <- struct{}{}:
	default:
		return group, false
	}
	if group.IsValid() {
		c.held[group]++
	}
	return group, true
}

// release frees the slot acquire took.
func (c *Checker) release(group netip.Addr) {
	if group.IsValid() {
		c.mu.Lock()
		if c.held[group]--; c.held[group] <= 0 {
			delete(c.held, group)
		}
		c.mu.Unlock()
	}
	<-c.slots
}

// String describes the checker without its dummy hash.
func (c *Checker) String() string { return "password.Checker" }
