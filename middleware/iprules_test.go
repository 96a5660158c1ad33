package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/middleware"
)

// addIPRule stores a rule and reports the change through onChange, as
// the admin API does.
func addIPRule(t *testing.T, s iprule.Store, onChange keygate.ChangeFunc, acct string, a iprule.Action, cidr string) iprule.Rule {
	t.Helper()
	c, err := iprule.Canonical(cidr)
	require.NoError(t, err)
	r, err := s.Create(context.Background(), iprule.Rule{ID: iprule.NewID(), Account: acct, Action: a, CIDR: c, Created: time.Now()})
	require.NoError(t, err)
	onChange(context.Background(), keygate.Change{Action: keygate.ActionIPRuleCreated, Account: acct})
	return r
}

// TestIPRulesNextRequest: a rule added to the shared store refuses the
// next request from its address on every instance that the change
// broadcast reaches, whatever their cache TTL, with 403 ip_forbidden
// audited as a denial; other addresses and accounts pass, and a deleted
// rule stops refusing on the next request.
func TestIPRulesNextRequest(t *testing.T) {
	keys := newKeyManager(t)
	key := mkKey(t, keys, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1"}})
	other := mkKey(t, keys, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_2"}})
	store := iprule.NewMemoryStore()
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})

	// Two instances: each its own Checker (with a TTL that never runs
	// out within the test), one store, one broadcast.
	var instances []http.Handler
	var checkers []*iprule.Checker
	for range 2 {
		c := iprule.NewChecker(store, iprule.CheckerConfig{TTL: time.Hour})
		checkers = append(checkers, c)
		a, err := middleware.New(middleware.Config{APIKeys: keys, Access: middleware.AccessConfig{IPRules: c}, Audit: middleware.AuditConfig{Writer: w}})
		require.NoError(t, err)
		instances = append(instances, a.Audit(a.Handler(principalJSON)))
	}
	broadcast := func(ctx context.Context, c keygate.Change) {
		for _, ch := range checkers {
			ch.OnChange(ctx, c)
		}
	}
	expect := func(key, remote string, want int) {
		t.Helper()
		for i, h := range instances {
			rec := serve(h, areq{remote: remote, key: key})
			assert.Equal(t, want, rec.Code, "instance %d, %s", i, remote)
			if want == http.StatusForbidden {
				assert.Equal(t, "ip_forbidden", errorCode(t, rec))
			}
		}
	}
	expect(key, "192.0.2.7:1", 200) // both instances have loaded the (empty) rules

	r := addIPRule(t, store, broadcast, "", iprule.Deny, "192.0.2.0/24")
	expect(key, "192.0.2.7:1", 403)
	expect(other, "192.0.2.8:1", 403)
	expect(key, "198.51.100.1:1", 200)

	addIPRule(t, store, broadcast, "acct_1", iprule.Allow, "2001:db8::/32")
	expect(key, "[2001:db8::1]:1", 200)
	expect(key, "198.51.100.1:1", 403) // outside acct_1's allow list
	expect(other, "198.51.100.1:1", 200)

	_, err := store.Delete(context.Background(), r.ID)
	require.NoError(t, err)
	broadcast(context.Background(), keygate.Change{Action: keygate.ActionIPRuleDeleted})
	expect(other, "192.0.2.8:1", 200)

	require.NoError(t, w.Close(context.Background()))
	var denied int
	for _, e := range sink.Events() {
		if e.Decision == audit.Deny {
			denied++
			assert.Equal(t, "ip_forbidden", e.Reason)
			assert.NotEmpty(t, e.KeyID, "the refused caller is named")
		}
	}
	assert.Equal(t, 6, denied)
}

// TestIPRulesOnTopOfKeyRules: a key's own rules still apply: a key that
// denies an address the service allows is refused there.
func TestIPRulesOnTopOfKeyRules(t *testing.T) {
	keys := newKeyManager(t)
	key := mkKey(t, keys, apikey.CreateParams{Grant: keygate.Grant{DeniedIPs: []string{"10.1.0.0/16"}}})
	store := iprule.NewMemoryStore()
	c := iprule.NewChecker(store, iprule.CheckerConfig{})
	addIPRule(t, store, c.OnChange, "", iprule.Allow, "10.0.0.0/8")
	h := newAccessAuth(t, keys, middleware.AccessConfig{IPRules: c}).Handler(principalJSON)
	assert.Equal(t, 200, serve(h, areq{remote: "10.2.0.1:1", key: key}).Code)
	assert.Equal(t, 403, serve(h, areq{remote: "10.1.0.1:1", key: key}).Code)  // the key's deny
	assert.Equal(t, 403, serve(h, areq{remote: "192.0.2.1:1", key: key}).Code) // the service's allow list
}

// downRules cannot read its rules.
type downRules struct{}

func (downRules) Check(context.Context, string, netip.Addr, bool) error {
	return errors.New("database down")
}

// TestIPRulesFailClosed: rules that cannot be read refuse every request
// with 503, never let it through.
func TestIPRulesFailClosed(t *testing.T) {
	keys := newKeyManager(t)
	key := mkKey(t, keys, apikey.CreateParams{})
	h := newAccessAuth(t, keys, middleware.AccessConfig{IPRules: downRules{}}).Handler(principalJSON)
	rec := serve(h, areq{remote: "192.0.2.1:1", key: key})
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
}

// TestIPRulesCheckOrigin: the guard's CheckOrigin, which the token
// endpoint uses, applies the service-wide rules and those of the Origin's
// account.
func TestIPRulesCheckOrigin(t *testing.T) {
	keys := newKeyManager(t)
	store := iprule.NewMemoryStore()
	c := iprule.NewChecker(store, iprule.CheckerConfig{})
	addIPRule(t, store, c.OnChange, "acct_1", iprule.Deny, "192.0.2.1")
	a := newAccessAuth(t, keys, middleware.AccessConfig{IPRules: c})
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
	req.RemoteAddr = "192.0.2.1:1"
	_, err := a.CheckOrigin(req, keygate.Grant{Account: "acct_1"})
	assert.ErrorIs(t, err, middleware.ErrForbidden)
	assert.Equal(t, "ip_forbidden", middleware.Classify(err).Code)
	_, err = a.CheckOrigin(req, keygate.Grant{Account: "acct_2"})
	assert.NoError(t, err)
	addIPRule(t, store, c.OnChange, "", iprule.Deny, "192.0.2.0/24")
	_, err = a.CheckOrigin(req, keygate.Grant{Account: "acct_2"})
	assert.ErrorIs(t, err, middleware.ErrForbidden)
}
