package redisstore

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/iprule"
)

// ipRuleCache reloads a Checker's rules when the broadcast names them.
type ipRuleCache struct{ c *iprule.Checker }

func (r ipRuleCache) Invalidate(id string) {
	if id == IPRulesChanged {
		r.c.Invalidate()
	}
}

func (r ipRuleCache) InvalidateAll() { r.c.Invalidate() }

// TestInvalidationsIPRules plays two instances whose IP rule checkers
// (TTL one minute) read one shared store, joined by Invalidations: once
// B's subscription has reported a rule added on A, B applies it, long
// before its copy expires, and so a deletion.
func TestInvalidationsIPRules(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	shared := iprule.NewMemoryStore()
	newChecker := func() (*iprule.Checker, *droppedIDs, keygate.ChangeFunc) {
		c := iprule.NewChecker(shared, iprule.CheckerConfig{TTL: time.Minute})
		dropped := newDroppedIDs(ipRuleCache{c})
		return c, dropped, subscribeCache(t, cfg, dropped)
	}
	_, _, publishA := newChecker()
	b, droppedB, _ := newChecker()
	ip := netip.MustParseAddr("2001:db8::7")
	require.NoError(t, b.Check(ctx, "acct_1", ip, true)) // B's copy: no rule, for a minute

	for range 5 {
		rule, err := shared.Create(ctx, iprule.Rule{ID: iprule.NewID(), Account: "acct_1", Action: iprule.Deny, CIDR: "2001:db8::/32"})
		require.NoError(t, err)
		droppedB.reset()
		publishA(ctx, keygate.Change{Action: keygate.ActionIPRuleCreated, Account: "acct_1"})
		droppedB.wait(t, IPRulesChanged)
		require.ErrorIs(t, b.Check(ctx, "acct_1", ip, true), ipbind.ErrIPDenied, "B applies a rule added on A once the broadcast arrived")

		_, err = shared.Delete(ctx, rule.ID)
		require.NoError(t, err)
		droppedB.reset()
		publishA(ctx, keygate.Change{Action: keygate.ActionIPRuleDeleted, Account: "acct_1"})
		droppedB.wait(t, IPRulesChanged)
		require.NoError(t, b.Check(ctx, "acct_1", ip, true), "B forgets a rule deleted on A")
	}
}
