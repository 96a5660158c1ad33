package admin_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
)

// TestAuditEvents: every admin call yields exactly one request event naming
// the caller and the admin route, and every state-changing call exactly one
// management event naming the actor and the target.
func TestAuditEvents(t *testing.T) {
	e := newEnv(t, envOptions{})
	type want struct {
		action, target string // target: key ID, account, token ID or subject
	}
	var wantChanges []want
	type sent struct {
		id, method, route, keyID string
		status                   int
	}
	var sents []sent
	n := 0
	do := func(key, method, path, body string, status int, changes ...want) response {
		t.Helper()
		n++
		id := fmt.Sprintf("req-%03d", n)
		r := e.send(req{method: method, path: path, key: key, body: body, header: map[string]string{"X-Request-Id": id}})
		mustStatus(t, r, status)
		e.mu.Lock()
		route := e.calls[len(e.calls)-1].pattern
		e.mu.Unlock()
		keyID := map[string]string{e.adminKey: e.adminID, e.writeKey: e.writeID, e.readKey: e.readID, "": ""}[key]
		sents = append(sents, sent{id, method, route, keyID, status})
		wantChanges = append(wantChanges, changes...)
		return r
	}
	id := func(r response, path ...string) string {
		m := r.json(t)
		for _, p := range path {
			m = m[p].(map[string]any)
		}
		return m["id"].(string)
	}

	do(e.adminKey, "POST", "/accounts", `{"id":"acct_a","name":"A"}`, 201, want{"account.created", "acct_a"})
	do(e.adminKey, "PATCH", "/accounts/acct_a", `{"name":"B"}`, 200, want{"account.updated", "acct_a"})
	do(e.adminKey, "PATCH", "/accounts/acct_a", `{"name":"B"}`, 200) // no change, no event
	do(e.adminKey, "GET", "/accounts", "", 200)
	do(e.readKey, "GET", "/accounts/acct_a", "", 200)
	r := do(e.adminKey, "POST", "/keys", `{"account":"acct_a","mode":"test","kind":"sk"}`, 201)
	sk := id(r, "secret")
	wantChanges = append(wantChanges, want{"key.created", sk})
	do(e.adminKey, "PATCH", "/keys/"+sk, `{"name":"n"}`, 200, want{"key.updated", sk})
	do(e.adminKey, "POST", "/keys/"+sk+"/rotate", `{"grace_seconds":10}`, 200, want{"key.rotated", sk})
	do(e.adminKey, "POST", "/keys/"+sk+"/disable", "", 200, want{"key.disabled", sk})
	do(e.adminKey, "POST", "/keys/"+sk+"/enable", "", 200, want{"key.enabled", sk})
	do(e.adminKey, "POST", "/keys/"+sk+"/revoke", "", 200, want{"key.revoked", sk})
	do(e.adminKey, "POST", "/keys/"+sk+"/revoke", "", 200) // already revoked: no event
	do(e.adminKey, "POST", "/keys/"+sk+"/rotate", "", 409) // refused: no event
	do(e.writeKey, "GET", "/keys/"+sk, "", 403)            // refused by the middleware
	do("", "GET", "/keys", "", 401)                        // no credential
	do(e.readKey, "GET", "/keys?account=acct_a", "", 200)  // allowed
	do(e.readKey, "GET", "/nowhere", "", 404)              // no route
	do("", "GET", "/openapi.json", "", 200)                // public
	do(e.adminKey, "DELETE", "/keys", "", http.StatusMethodNotAllowed)
	r = do(e.adminKey, "POST", "/keys", `{"account":"acct_a","mode":"live","kind":"pk"}`, 201)
	live := id(r, "publishable")
	wantChanges = append(wantChanges, want{"key.created", live})
	do(e.adminKey, "POST", "/keys/"+live+"/approve", "", 200, want{"key.approved", live})
	r = do(e.adminKey, "POST", "/hmac-keys", `{"account":"acct_a","mode":"test"}`, 201)
	hk := id(r)
	wantChanges = append(wantChanges, want{"hmac.created", hk})
	do(e.adminKey, "POST", "/hmac-keys/"+hk+"/rotate", "", 200, want{"hmac.rotated", hk})
	do(e.adminKey, "POST", "/hmac-keys/"+hk+"/revoke", "", 200, want{"hmac.revoked", hk})
	do(e.readKey, "GET", "/hmac-keys", "", 200)
	do(e.adminKey, "POST", "/tokens/revoke", `{"jti":"jti-1"}`, 200, want{"token.revoked", "jti-1"})
	do(e.adminKey, "POST", "/tokens/revoke", `{"subject":"user_9"}`, 200, want{"token.subject_revoked", "user_9"})
	do(e.adminKey, "POST", "/tokens/revoke", `{"family":"ABCDEF234567"}`, 200, want{"refresh.family_revoked", "ABCDEF234567"})
	do(e.readKey, "GET", "/audit?limit=5", "", 200)

	events := e.events()
	byRequest := map[string][]audit.Event{}
	var changes []audit.Event
	for _, ev := range events {
		switch {
		case ev.Action != "":
			if ev.Actor != "keygate init" { // the test's own set-up
				changes = append(changes, ev)
			}
		case ev.RequestID != "":
			byRequest[ev.RequestID] = append(byRequest[ev.RequestID], ev)
		}
	}
	for _, s := range sents {
		evs := byRequest[s.id]
		if !assert.Len(t, evs, 1, "request events of %s %s", s.id, s.route) {
			continue
		}
		ev := evs[0]
		assert.Equal(t, s.status, ev.Status, s.id)
		assert.Equal(t, s.route, ev.Route, s.id)
		assert.Equal(t, s.method, ev.Method, s.id)
		if s.status < 300 && s.keyID != "" {
			assert.Equal(t, s.keyID, ev.KeyID, "%s names the caller", s.id)
			assert.Equal(t, audit.Allow, ev.Decision, s.id)
		}
		if s.status == 401 || s.status == 403 {
			assert.Equal(t, audit.Deny, ev.Decision, s.id)
		}
	}
	assert.Len(t, byRequest, len(sents), "no request event for anything else")

	var got []want
	for _, ev := range changes {
		assert.Equal(t, e.adminID, ev.Actor, "%s names the admin key as actor", ev.Action)
		target := ev.KeyID
		switch {
		case ev.Action == "account.created" || ev.Action == "account.updated":
			target = ev.Account
		case ev.Action == "token.subject_revoked":
			target = ev.Subject
		case ev.TokenID != "":
			target = ev.TokenID
		}
		got = append(got, want{ev.Action, target})
	}
	cmp := func(a, b want) int {
		if a.action != b.action {
			return compare(a.action, b.action)
		}
		return compare(a.target, b.target)
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(wantChanges, cmp)
	assert.Equal(t, wantChanges, got, "one management event per state-changing call")
	require.NotEmpty(t, got)
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestAuditQuery: GET /audit filters, pages (newest first) and refuses bad
// parameters.
func TestAuditQuery(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_q", "GO")
	sk := e.createKeys(`{"account":"acct_q","mode":"test","kind":"sk"}`).Secret
	mustStatus(t, e.post(e.adminKey, "/keys/"+sk.ID+"/revoke", ""), http.StatusOK)
	// The memory sink answers once events are written.
	require.NoError(t, e.writer.Flush(t.Context()))
	r := e.get(e.readKey, "/audit?action=key.revoked&key_id="+sk.ID)
	mustStatus(t, r, http.StatusOK)
	var l admin.List[audit.Event]
	r.decode(t, &l)
	require.Len(t, l.Data, 1)
	assert.Equal(t, e.adminID, l.Data[0].Actor)

	// Pages, newest first, each event once.
	seen := map[uint64]bool{}
	var last uint64
	cursor := ""
	for range 100 {
		path := "/audit?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.get(e.readKey, path)
		mustStatus(t, r, http.StatusOK)
		var l admin.List[audit.Event]
		r.decode(t, &l)
		for _, ev := range l.Data {
			assert.False(t, seen[ev.Seq])
			if last != 0 {
				assert.Less(t, ev.Seq, last, "newest first")
			}
			seen[ev.Seq], last = true, ev.Seq
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	assert.Empty(t, cursor)
	assert.NotEmpty(t, seen)
	e.checkDocumented(t)
}
