package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/redisstore"
)

// TestServeTwoInstancesIPRules runs two instances of keygate serve on one
// PostgreSQL database and one Redis, with a cache TTL of a day: an IP
// rule added through A's admin API refuses the next request from its
// address on A, and on B once A's broadcast of the change reaches it (the
// test waits for the message, not for a time);
// requests from other addresses pass; deleting the rule through A lets
// the address in again on both.
func TestServeTwoInstancesIPRules(t *testing.T) {
	verifyNoLeaks(t)
	dsn := postgresDatabase(t)
	redisURL, prefix := redisPrefix(t)
	args := []string{
		"--db", dsn, "--redis", redisURL, "--redis-prefix", prefix,
		"--master-key-file", filepath.Join(t.TempDir(), "keygate.key"),
		// Beyond any test run's -timeout: only the broadcast can make B
		// see a change, however long the test waits for it.
		"--cache-ttl", "24h",
	}
	a, err := launch(args...).wait(t)
	require.NoError(t, err)
	b, err := launch(args...).wait(t)
	require.NoError(t, err)
	require.True(t, a.created)
	keys := a.keys
	c := httpClient(t)
	from := clientFrom(t, "127.0.0.9")
	whoami := func(in *instance, c *http.Client) int {
		t.Helper()
		r := call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(keys.secret)...)
		return r.status
	}
	// Both instances have read the rules (none): B keeps its copy for a
	// day unless told otherwise.
	for _, in := range []*instance{a, b} {
		require.Equal(t, http.StatusOK, whoami(in, from))
	}

	bc := watchBroadcasts(t, redisURL, prefix)
	// onB waits for A's broadcast of the change, then for B to answer
	// want from 127.0.0.9: B applies the change when its subscription
	// delivers the message, which may be a moment after the test sees it.
	onB := func(want int) {
		t.Helper()
		bc.wait(t, redisstore.IPRulesChanged)
		until(t, "B does not apply the change made on A (cache TTL 24h)", func() bool { return whoami(b, from) == want })
	}

	bc.skipPast(t)
	r := call(t, c, http.MethodPost, a.url+"/admin/v1/ip-rules", map[string]any{"action": "deny", "cidr": "127.0.0.9"}, bearer(keys.admin)...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	id := jsonBody(t, r)["id"].(string)
	require.Equal(t, http.StatusForbidden, whoami(a, from), "A applies the rule on the next request")
	onB(http.StatusForbidden)
	require.Equal(t, http.StatusOK, whoami(b, c), "another address passes")

	bc.skipPast(t)
	r = call(t, c, http.MethodDelete, a.url+"/admin/v1/ip-rules/"+id, nil, bearer(keys.admin)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, http.StatusOK, whoami(a, from))
	onB(http.StatusOK)
}
