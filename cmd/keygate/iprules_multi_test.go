package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeTwoInstancesIPRules runs two instances of keygate serve on one
// PostgreSQL database and one Redis, with a cache TTL of a minute: an IP
// rule added through A's admin API refuses the next request from its
// address on A, and on B as soon as the broadcast reaches it (far within
// the TTL); requests from other addresses pass; deleting the rule through
// A lets the address in again on both.
func TestServeTwoInstancesIPRules(t *testing.T) {
	verifyNoLeaks(t)
	dsn := postgresDatabase(t)
	redisURL, prefix := redisPrefix(t)
	args := []string{
		"--db", dsn, "--redis", redisURL, "--redis-prefix", prefix,
		"--master-key-file", filepath.Join(t.TempDir(), "keygate.key"),
		"--cache-ttl", "1m",
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
	// minute unless told otherwise.
	for _, in := range []*instance{a, b} {
		require.Equal(t, http.StatusOK, whoami(in, from))
	}

	// eventually waits until B answers want from 127.0.0.9: the broadcast
	// is asynchronous, and its bound is well under a second.
	eventually := func(want int) {
		t.Helper()
		start := time.Now()
		for whoami(b, from) != want {
			require.Less(t, time.Since(start), 5*time.Second, "B does not apply the change made on A (cache TTL 1m)")
		}
	}

	r := call(t, c, http.MethodPost, a.url+"/admin/v1/ip-rules", map[string]any{"action": "deny", "cidr": "127.0.0.9"}, bearer(keys.admin)...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	id := jsonBody(t, r)["id"].(string)
	require.Equal(t, http.StatusForbidden, whoami(a, from), "A applies the rule on the next request")
	eventually(http.StatusForbidden)
	require.Equal(t, http.StatusOK, whoami(b, c), "another address passes")

	r = call(t, c, http.MethodDelete, a.url+"/admin/v1/ip-rules/"+id, nil, bearer(keys.admin)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, http.StatusOK, whoami(a, from))
	eventually(http.StatusOK)
}
