package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminJSON sends method path with a JSON body and the admin key, and
// returns the status and the decoded body.
func adminJSON(t *testing.T, b banner, method, path, body string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.url+"/admin/v1"+path, bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.admin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "body: %s", raw)
	return resp.StatusCode, m
}

// packageKey creates a test secret key for the account through the admin
// API, with the permissions (none: a standard key), and returns it.
func packageKey(t *testing.T, b banner, acct string, perms ...string) string {
	t.Helper()
	req := map[string]any{"account": acct, "mode": "test", "kind": "sk"}
	if perms != nil {
		req["permissions"] = perms
	}
	body, err := json.Marshal(req)
	require.NoError(t, err)
	status, m := adminJSON(t, b, "POST", "/keys", string(body))
	require.Equal(t, http.StatusCreated, status, "%v", m)
	secret, _ := m["secret"].(map[string]any)
	key, _ := secret["key"].(string)
	require.NotEmpty(t, key, "%v", m)
	return key
}

// statusOf sends GET path with the key and returns the status.
func statusOf(t *testing.T, b banner, key, path string) int {
	t.Helper()
	return get(t, b.url+path, b, "Authorization", "Bearer "+key).status
}

// TestPackagesDecideWhatAKeyMayCall: the black-box checks of issue 12
// section 7 against keygate serve, each a subtest of its own.
func TestPackagesDecideWhatAKeyMayCall(t *testing.T) {
	b := startServe(t)
	const export = "/v1/analytics/export"
	cli := &adminCLI{t: t, b: b}
	account := func(t *testing.T, id, pkg string) {
		t.Helper()
		body, err := json.Marshal(map[string]string{"id": id, "name": "Shop " + id, "package": pkg})
		require.NoError(t, err)
		code, m := adminJSON(t, b, "POST", "/accounts", string(body))
		require.Equal(t, http.StatusCreated, code, "%v", m)
	}

	t.Run("unknown package refused by the admin API", func(t *testing.T) {
		code, m := adminJSON(t, b, "POST", "/accounts", `{"name":"Shop","package":"PLATINUM"}`)
		require.Equal(t, http.StatusBadRequest, code, "%v", m)
		assert.Equal(t, "validation_failed", m["error"])
		assert.Contains(t, m["fields"], "package")
		account(t, "acct_platinum", "GO")
		code, m = adminJSON(t, b, "PATCH", "/accounts/acct_platinum", `{"package":"PLATINUM"}`)
		require.Equal(t, http.StatusBadRequest, code, "%v", m)
		assert.Contains(t, m["fields"], "package")
	})

	t.Run("unknown package refused by the CLI", func(t *testing.T) {
		_, stderr, err := cli.run("accounts", "create", "--name", "Shop", "--package", "PLATINUM")
		require.Error(t, err)
		assert.Contains(t, errString(err)+stderr, "package")
		cli.ok("accounts", "create", "--name", "Go shop", "--package", "GO", "--id", "acct_cli_go")
		_, stderr, err = cli.run("accounts", "update", "acct_cli_go", "--package", "PLATINUM")
		require.Error(t, err)
		assert.Contains(t, errString(err)+stderr, "package")
	})

	t.Run("standard key of a PRIME account", func(t *testing.T) {
		account(t, "acct_prime_shop", "PRIME")
		key := packageKey(t, b, "acct_prime_shop")
		assert.Equal(t, http.StatusOK, statusOf(t, b, key, export))
		who := decode(t, get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+key))
		assert.Equal(t, toAny(demoPackages.Permissions("PRIME")), who["permissions"])
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, key, "/admin/v1/keys"), "never an admin route")
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, key, "/admin/v1/accounts"), "never an admin route")
	})

	t.Run("standard key of a GO account moved to PRIME", func(t *testing.T) {
		account(t, "acct_go", "GO")
		key := packageKey(t, b, "acct_go")
		assert.Equal(t, http.StatusOK, statusOf(t, b, key, "/v1/stores"))
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, key, export))
		code, m := adminJSON(t, b, "PATCH", "/accounts/acct_go", `{"package":"PRIME"}`)
		require.Equal(t, http.StatusOK, code, "%v", m)
		assert.Equal(t, http.StatusOK, statusOf(t, b, key, export))
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, key, "/admin/v1/keys"), "never an admin route")
	})

	t.Run("restricted key bounded by its package", func(t *testing.T) {
		account(t, "acct_go2", "GO")
		key := packageKey(t, b, "acct_go2", "analytics:export", "stores:read")
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, key, export))
		assert.Equal(t, http.StatusOK, statusOf(t, b, key, "/v1/stores"))
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, key, "/v1/products"), "only what it names")
		who := decode(t, get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+key))
		assert.Equal(t, []any{"stores:read"}, who["permissions"])
		// The admin API shows the effective permissions.
		code, m := adminJSON(t, b, "GET", "/keys?account=acct_go2", "")
		require.Equal(t, http.StatusOK, code, "%v", m)
		data, _ := m["data"].([]any)
		require.Len(t, data, 1)
		assert.Equal(t, []any{"stores:read"}, data[0].(map[string]any)["effective_permissions"])
	})

	t.Run("demo keys as the README says", func(t *testing.T) {
		assert.Equal(t, http.StatusForbidden, statusOf(t, b, b.secret, export))
		assert.Equal(t, http.StatusOK, statusOf(t, b, b.secret, "/v1/stores"))
		assert.Equal(t, http.StatusOK, statusOf(t, b, b.prime, export))
		assert.Equal(t, http.StatusOK, statusOf(t, b, b.admin, "/admin/v1/keys"), "the admin key still administers")
	})
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
