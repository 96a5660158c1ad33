package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/iprule"
)

// ipRules lists the rules through the API.
func (e *env) listIPRules(query string) []admin.IPRule {
	e.t.Helper()
	r := e.get(e.adminKey, "/ip-rules"+query)
	mustStatus(e.t, r, http.StatusOK)
	var l admin.List[admin.IPRule]
	r.decode(e.t, &l)
	return l.Data
}

func ruleIDs(rs []admin.IPRule) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestIPRulesLifecycle: rules are created, listed and deleted over the
// API, stored in canonical form, applied by the Authenticator on the next
// request, audited with the caller as actor, and answered as the OpenAPI
// document describes.
func TestIPRulesLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{packages: testpackages.Retail()})
	e.createAccount("acct_a", "GO")
	e.createAccount("acct_b", "GO")
	keyA := e.createKeys(`{"account":"acct_a","mode":"test","kind":"sk"}`).Secret.Key
	keyB := e.createKeys(`{"account":"acct_b","mode":"test","kind":"sk"}`).Secret.Key
	require.Equal(t, http.StatusOK, e.whoami(keyA))

	// The test server's clients call from 127.0.0.1: acct_a's keys may
	// no longer, from the next request on.
	r := e.post(e.writeKey, "/ip-rules", `{"account":"acct_a","action":"deny","cidr":"127.0.0.1","note":"loopback"}`)
	mustStatus(t, r, http.StatusCreated)
	var deny admin.IPRule
	r.decode(t, &deny)
	assert.Equal(t, admin.IPRule{ID: deny.ID, Account: "acct_a", Action: "deny", CIDR: "127.0.0.1/32", Note: "loopback",
		Created: e.clock.Now(), CreatedBy: e.writeID}, deny)
	assert.Equal(t, http.StatusForbidden, e.whoami(keyA))
	assert.Equal(t, "ip_forbidden", errorCode(t, e.send(req{method: "GET", path: "/v1/whoami", key: keyA})))
	assert.Equal(t, http.StatusOK, e.whoami(keyB))

	e.clock.Advance(time.Second)
	// A service-wide allow list without loopback refuses everybody, the
	// admin keys too; an IPv6 rule of acct_b changes nothing for IPv4.
	r = e.post(e.adminKey, "/ip-rules", `{"action":"allow","cidr":"::ffff:10.0.0.0/104"}`)
	mustStatus(t, r, http.StatusCreated)
	var allow admin.IPRule
	r.decode(t, &allow)
	assert.Equal(t, "10.0.0.0/8", allow.CIDR)
	assert.Empty(t, allow.Account)
	assert.Equal(t, http.StatusForbidden, e.whoami(keyB))
	mustStatus(t, e.get(e.adminKey, "/ip-rules"), http.StatusForbidden)
	// The way back in: the database, then a change reported through
	// Do, which no IP rule guards.
	_, err := e.ipRules.Delete(context.Background(), allow.ID)
	require.NoError(t, err)
	mustStatus(t, e.get(e.adminKey, "/ip-rules"), http.StatusForbidden) // no change event yet
	e.clock.Advance(time.Second)
	rb := do(t, e.handler, operator("alice"), "POST", "/ip-rules", `{"account":"acct_b","action":"deny","cidr":"2001:db8::/32"}`)
	require.Nil(t, rb.Err)
	assert.Equal(t, http.StatusOK, e.whoami(keyB))

	all := e.listIPRules("")
	require.Len(t, all, 2)
	assert.Equal(t, deny, all[0])
	assert.Equal(t, "2001:db8::/32", all[1].CIDR)
	assert.Equal(t, []string{deny.ID}, ruleIDs(e.listIPRules("?account=acct_a")))
	assert.Equal(t, []string{all[1].ID}, ruleIDs(e.listIPRules("?account=acct_b")))
	assert.Empty(t, e.listIPRules("?scope=service"))
	assert.Empty(t, e.listIPRules("?account=acct_none"))

	// Deleted: acct_a's key works again on the next request.
	r = e.send(req{method: "DELETE", path: "/ip-rules/" + deny.ID, key: e.writeKey})
	mustStatus(t, r, http.StatusOK)
	var gone admin.IPRule
	r.decode(t, &gone)
	assert.Equal(t, deny, gone)
	assert.Equal(t, http.StatusOK, e.whoami(keyA))
	r = e.send(req{method: "DELETE", path: "/ip-rules/" + deny.ID, key: e.writeKey})
	mustStatus(t, r, http.StatusNotFound)
	assert.Equal(t, "not_found", errorCode(t, r))

	e.checkDocumented(t)
	var changes []string
	for _, ev := range e.events() {
		if ev.Action == "ip_rule.created" || ev.Action == "ip_rule.deleted" {
			changes = append(changes, ev.Action+" "+ev.Actor+" "+ev.Account)
		}
	}
	assert.Equal(t, []string{
		"ip_rule.created " + e.writeID + " acct_a",
		"ip_rule.created " + e.adminID + " ",
		"ip_rule.created console:alice acct_b",
		"ip_rule.deleted " + e.writeID + " acct_a",
	}, changes)
}

// TestIPRulesIdempotency: a create repeated with its Idempotency-Key is
// answered with the first response and stores one rule.
func TestIPRulesIdempotency(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := `{"action":"deny","cidr":"192.0.2.0/24"}`
	send := func(body string) response {
		return e.send(req{method: "POST", path: "/ip-rules", key: e.adminKey, body: body, header: map[string]string{"Idempotency-Key": "rule-1"}})
	}
	first := send(body)
	mustStatus(t, first, http.StatusCreated)
	again := send(body)
	mustStatus(t, again, http.StatusCreated)
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.JSONEq(t, string(first.body), string(again.body))
	assert.Len(t, e.listIPRules(""), 1)
	other := send(`{"action":"deny","cidr":"198.51.100.0/24"}`)
	mustStatus(t, other, http.StatusUnprocessableEntity)
	// Without the key, the same rule again is a conflict.
	r := e.post(e.adminKey, "/ip-rules", body)
	mustStatus(t, r, http.StatusConflict)
	assert.Equal(t, "conflict", errorCode(t, r))
	assert.Len(t, e.listIPRules(""), 1)
}

// TestIPRulesBadInput: every bad request is a 4xx naming the problem,
// never stored.
func TestIPRulesBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_a", "")
	for _, tt := range []struct {
		body, field, msg string
	}{
		{`{"cidr":"192.0.2.1"}`, "action", "is required"},
		{`{"action":"block","cidr":"192.0.2.1"}`, "action", `must be "allow" or "deny"`},
		{`{"action":"deny"}`, "cidr", "is required"},
		{`{"action":"deny","cidr":"10.1.2.3/8"}`, "cidr", ""},
		{`{"action":"deny","cidr":"fe80::1%eth0"}`, "cidr", ""},
		{`{"action":"deny","cidr":"example.com"}`, "cidr", ""},
		{`{"action":"deny","cidr":" 192.0.2.1"}`, "cidr", ""},
		{`{"action":"deny","cidr":"192.0.2.0/33"}`, "cidr", ""},
		{`{"action":"deny","cidr":"192.0.2.1","account":"acct_none"}`, "account", "no account has this ID"},
		{`{"action":"deny","cidr":"192.0.2.1","account":"bad id"}`, "account", ""},
		{`{"action":"deny","cidr":"192.0.2.1","note":"a\u0000b"}`, "note", ""},
	} {
		r := e.post(e.adminKey, "/ip-rules", tt.body)
		if !assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tt.body, r.body) {
			continue
		}
		m := r.json(t)
		assert.Equal(t, "validation_failed", m["error"], tt.body)
		fields, _ := m["fields"].(map[string]any)
		assert.Contains(t, fields, tt.field, tt.body)
		if tt.msg != "" {
			assert.Equal(t, tt.msg, fields[tt.field], tt.body)
		}
		assert.NotContains(t, string(r.body), "example.com", "the input is not echoed")
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/ip-rules", `{"action":"deny","cidr":"192.0.2.1","ports":[80]}`, http.StatusBadRequest},
		{"POST", "/ip-rules", `[]`, http.StatusBadRequest},
		{"GET", "/ip-rules?scope=all", "", http.StatusBadRequest},
		{"GET", "/ip-rules?account=acct_a&scope=service", "", http.StatusBadRequest},
		{"GET", "/ip-rules?account=bad%20id", "", http.StatusBadRequest},
		{"GET", "/ip-rules?limit=5", "", http.StatusBadRequest},
		{"DELETE", "/ip-rules/ipr_none", "", http.StatusNotFound},
		{"DELETE", "/ip-rules/bad%20id", "", http.StatusNotFound},
		{"DELETE", "/ip-rules", "", http.StatusMethodNotAllowed},
		{"PATCH", "/ip-rules/ipr_none", `{}`, http.StatusMethodNotAllowed},
	} {
		r := e.send(req{method: tt.method, path: tt.path, key: e.adminKey, body: tt.body})
		assert.Equal(t, tt.status, r.status, "%s %s: %s", tt.method, tt.path, r.body)
	}
	assert.Empty(t, e.listIPRules(""))
	// The permissions: reading does not let one write.
	mustStatus(t, e.post(e.readKey, "/ip-rules", `{"action":"deny","cidr":"192.0.2.1"}`), http.StatusForbidden)
	mustStatus(t, e.get(e.writeKey, "/ip-rules"), http.StatusForbidden)
	e.checkDocumented(t)
}

// TestIPRulesNotConfigured: without Config.IPRules the routes answer 404
// not_found.
func TestIPRulesNotConfigured(t *testing.T) {
	e := newEnv(t, envOptions{noOptional: true})
	for _, q := range []req{
		{method: "POST", path: "/ip-rules", body: `{"action":"deny","cidr":"192.0.2.1"}`},
		{method: "GET", path: "/ip-rules"},
		{method: "DELETE", path: "/ip-rules/ipr_1"},
	} {
		q.key = e.adminKey
		r := e.send(q)
		assert.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", q.method, q.path, r.body)
	}
}

// TestIPRulesConfined: a caller confined to one account sees and manages
// its account's rules alone, never the service-wide ones nor another
// account's.
func TestIPRulesConfined(t *testing.T) {
	e := newEnv(t, envOptions{packages: testpackages.Retail()})
	e.createAccount("acct_a", "GO")
	e.createAccount("acct_b", "GO")
	ctx := context.Background()
	mk := func(acct, cidr string) iprule.Rule {
		e.clock.Advance(time.Second)
		r, err := e.ipRules.Create(ctx, iprule.Rule{ID: iprule.NewID(), Account: acct, Action: iprule.Deny, CIDR: cidr, Created: e.clock.Now()})
		require.NoError(t, err)
		return r
	}
	service, other := mk("", "192.0.2.0/24"), mk("acct_b", "198.51.100.0/24")
	bob := owner("bob", "acct_a")

	for _, body := range []string{`{"action":"deny","cidr":"203.0.113.1"}`, `{"account":"acct_b","action":"deny","cidr":"203.0.113.1"}`} {
		r := do(t, e.handler, bob, "POST", "/ip-rules", body)
		require.NotNil(t, r.Err, body)
		assert.Equal(t, http.StatusBadRequest, r.Status, body)
		assert.Contains(t, r.Err.Fields, "account", body)
	}
	r := do(t, e.handler, bob, "POST", "/ip-rules", `{"account":"acct_a","action":"deny","cidr":"203.0.113.1"}`)
	require.Nil(t, r.Err)
	own := r.Body.(admin.IPRule)
	assert.Equal(t, "console:bob", own.CreatedBy)

	r = do(t, e.handler, bob, "GET", "/ip-rules", "")
	require.Nil(t, r.Err)
	assert.Equal(t, []string{own.ID}, ruleIDs(r.Body.(admin.List[admin.IPRule]).Data))
	r = do(t, e.handler, bob, "GET", "/ip-rules?account=acct_a", "")
	require.Nil(t, r.Err)
	assert.Equal(t, []string{own.ID}, ruleIDs(r.Body.(admin.List[admin.IPRule]).Data))
	assert.Equal(t, http.StatusNotFound, do(t, e.handler, bob, "GET", "/ip-rules?account=acct_b", "").Status)
	assert.Equal(t, http.StatusBadRequest, do(t, e.handler, bob, "GET", "/ip-rules?scope=service", "").Status)

	for _, id := range []string{service.ID, other.ID} {
		r := do(t, e.handler, bob, "DELETE", "/ip-rules/"+id, "")
		assert.Equal(t, http.StatusNotFound, r.Status)
		_, err := e.ipRules.Get(ctx, id)
		assert.NoError(t, err, "the rule is still there")
	}
	assert.Equal(t, http.StatusOK, do(t, e.handler, bob, "DELETE", "/ip-rules/"+own.ID, "").Status)
	assert.Equal(t, http.StatusNotFound, do(t, e.handler, bob, "DELETE", "/ip-rules/"+own.ID, "").Status)

	// An operator sees them all.
	r = do(t, e.handler, operator("alice"), "GET", "/ip-rules", "")
	require.Nil(t, r.Err)
	assert.Equal(t, []string{service.ID, other.ID}, ruleIDs(r.Body.(admin.List[admin.IPRule]).Data))
}
