package iprule

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/ipbind"
)

// DefaultCheckerTTL is CheckerConfig.TTL when it is zero.
const DefaultCheckerTTL = 2 * time.Second

// CheckerConfig configures a [Checker].
type CheckerConfig struct {
	// TTL is how long the rules read from the store are used before they
	// are read again. It bounds how long a change made through another
	// instance goes unseen here when nothing calls [Checker.Invalidate]
	// for it (a broadcast such as redisstore's Invalidations does). Zero
	// means [DefaultCheckerTTL].
	TTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Checker applies the rules of a [Store] to client addresses, from a copy
// in memory: the per-request check of package middleware
// (middleware.AccessConfig.IPRules). It reads every rule of the store at
// once, on the first check, after [Checker.Invalidate] and when its copy
// is older than CheckerConfig.TTL. It is safe for concurrent use.
type Checker struct {
	store Store
	ttl   time.Duration
	now   func() time.Time

	gen  atomic.Uint64 // bumped by Invalidate
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // one reload at a time
}

// snapshot is the rules of the store at one time, parsed.
type snapshot struct {
	gen      uint64
	loaded   time.Time
	service  scope
	accounts map[string]scope
}

// scope is the parsed rules of the service or of one account.
type scope struct {
	rules ipbind.Rules
	bad   bool // a stored prefix did not parse: admit nobody
}

// check applies s to ip.
func (s scope) check(ip netip.Addr, known bool) error {
	if s.bad {
		return ipbind.ErrIPDenied // a list that cannot be enforced admits nobody
	}
	return s.rules.Check(ip, known)
}

// NewChecker returns a Checker of the rules in store.
func NewChecker(store Store, cfg CheckerConfig) *Checker {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultCheckerTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Checker{store: store, ttl: cfg.TTL, now: cfg.Now}
}

// Check returns nil when a client at ip (known false: its address could
// not be resolved) passes the service-wide rules and those of account
// (empty for a caller without an account: the service-wide rules alone).
// A refusal is an error wrapping [ipbind.ErrIPForbidden] (a
// *[ipbind.ForbiddenError] naming the reason, never the address). When
// the rules cannot be read, Check returns that error, which does not
// wrap ErrIPForbidden: the caller should fail closed (503).
func (c *Checker) Check(ctx context.Context, account string, ip netip.Addr, known bool) error {
	s, err := c.current(ctx)
	if err != nil {
		return err
	}
	if err := s.service.check(ip, known); err != nil {
		return err
	}
	if account == "" {
		return nil
	}
	return s.accounts[account].check(ip, known)
}

// Invalidate makes the next check read the rules from the store again.
func (c *Checker) Invalidate() { c.gen.Add(1) }

// OnChange is a [keygate.ChangeFunc] that calls Invalidate for the
// changes of IP rules ([keygate.ActionIPRuleCreated] and
// [keygate.ActionIPRuleDeleted]) and ignores the others: give it to the
// OnChange of the code that manages the rules on this instance.
func (c *Checker) OnChange(_ context.Context, ch keygate.Change) {
	if ch.Action == keygate.ActionIPRuleCreated || ch.Action == keygate.ActionIPRuleDeleted {
		c.Invalidate()
	}
}

// current returns a fresh snapshot, reading the store when needed.
func (c *Checker) current(ctx context.Context) (*snapshot, error) {
	if s := c.snap.Load(); c.fresh(s) {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.snap.Load(); c.fresh(s) {
		return s, nil // another check reloaded meanwhile
	}
	gen, loaded := c.gen.Load(), c.now()
	rules, err := c.store.List(ctx, Filter{})
	if err != nil {
		return nil, fmt.Errorf("iprule: reading the IP rules: %w", err)
	}
	s := build(rules)
	s.gen, s.loaded = gen, loaded
	c.snap.Store(s)
	return s, nil
}

// fresh reports whether s may be used: read after the last Invalidate and
// within the TTL.
func (c *Checker) fresh(s *snapshot) bool {
	return s != nil && s.gen == c.gen.Load() && c.now().Sub(s.loaded) < c.ttl
}

// build parses rules into a snapshot, through [ipbind.ParseRules].
func build(rules []Rule) *snapshot {
	type lists struct{ allow, deny []string }
	by := map[string]*lists{"": {}}
	for _, r := range rules {
		l := by[r.Account]
		if l == nil {
			l = &lists{}
			by[r.Account] = l
		}
		if r.Action == Allow {
			l.allow = append(l.allow, r.CIDR)
		} else {
			// Anything but allow is taken for deny: an unknown action
			// must not open anything.
			l.deny = append(l.deny, r.CIDR)
		}
	}
	s := &snapshot{accounts: make(map[string]scope, len(by)-1)}
	for acct, l := range by {
		rs, err := ipbind.ParseRules(l.allow, l.deny)
		sc := scope{rules: rs, bad: err != nil}
		if acct == "" {
			s.service = sc
		} else {
			s.accounts[acct] = sc
		}
	}
	return s
}
