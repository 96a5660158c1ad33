package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/sqlite"
)

// TestInitThenServe prepares a database with "keygate init --db" and
// serves it: serve creates no demo data, prints no key, and the admin key
// init printed manages it.
func TestInitThenServe(t *testing.T) {
	verifyNoLeaks(t)
	db := filepath.Join(t.TempDir(), "keygate.db")
	stdout, stderr, err := runCLI(t, "init", "--db", db)
	require.NoError(t, err, "stderr: %s", stderr)
	m := regexp.MustCompile(`(?m)^admin key \(shown once\): (bk_test_sk_[0-9A-Za-z]{65})$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "stdout: %s", stdout)
	adminKey := m[1]
	op := regexp.MustCompile(`(?m)^console user \(shown once\): (admin) / ([A-Z2-7]{26})$`).FindStringSubmatch(stdout)
	require.NotNil(t, op, "stdout: %s", stdout)
	assert.Contains(t, stderr, "the admin key is stored in "+db)
	assert.NotContains(t, stderr, adminKey)

	_, _, err = runCLI(t, "init", "--db", db)
	require.ErrorIs(t, err, errNotEmpty, "a second init on the same database is refused")

	in := startInstance(t, "--db", db)
	require.False(t, in.created, "serve makes no demo data in a database that init prepared")
	require.Equal(t, db, in.using)
	c := httpClient(t)
	r := call(t, c, http.MethodGet, in.url+"/admin/v1/accounts", nil, bearer(adminKey)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	accounts := jsonBody(t, r)["data"].([]any)
	require.Len(t, accounts, 1)
	require.Equal(t, adminAccount, accounts[0].(map[string]any)["id"])
	// What init created starts the audit history, by the actor "system".
	created := map[string]map[string]any{}
	for _, action := range []string{"account.created", "key.created"} {
		for _, e := range auditEvents(t, c, in.url, adminKey, url.Values{"action": {action}}) {
			created[action] = e
		}
	}
	require.Len(t, created, 2, "init's account and key are audited: %v", created)
	assert.Equal(t, systemActor, created["account.created"]["actor"])
	assert.Equal(t, adminAccount, created["account.created"]["account"])
	assert.Equal(t, systemActor, created["key.created"]["actor"])
	assert.Equal(t, keyID(adminKey), created["key.created"]["key_id"])
	history := auditEvents(t, c, in.url, adminKey, url.Values{"key_id": {keyID(adminKey)}})
	require.NotEmpty(t, history)
	assert.Equal(t, "key.created", history[len(history)-1]["action"], "the key's history starts with its creation")

	_, key := createKeyIn(t, c, in.url, adminKey, adminAccount)
	require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, in.url+"/v1/whoami", nil, bearer(key)...).status)
	// The console's first operator, which init printed, signs in.
	requireConsoleUser(t, in.url, op[1], op[2], "operator", "")
	in.stop(t)
	in.requireNoSecrets(t, adminKey, key, op[2])
}

// TestInitUnreachableDatabase checks that a database that cannot be
// reached fails init without echoing the password of its URL.
func TestInitUnreachableDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"init", "--db", "postgres://u:hunter2@127.0.0.1:1/keygate?connect_timeout=5"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.NotContains(t, err.Error()+stdout.String()+stderr.String(), "hunter2")
	assert.NotContains(t, stdout.String(), "admin key")
}

// TestInitOperatorOnDatabaseBeforeConsole checks a database of serve's
// from before the console (its console has no user): serve says how to
// get one, "keygate init" creates only the first operator and prints it
// once, a second init is refused, and the operator signs in.
func TestInitOperatorOnDatabaseBeforeConsole(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keygate.db")
	first := startInstance(t, "--db", db)
	require.True(t, first.created)
	first.stop(t)
	// Before the console, there were no console users.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := sqlite.Open(ctx, db)
	require.NoError(t, err)
	_, err = d.SQL().ExecContext(ctx, "DELETE FROM console_users")
	require.NoError(t, err)
	require.NoError(t, d.Close())

	second := startInstance(t, "--db", db)
	require.False(t, second.created)
	assert.Contains(t, second.stderr.String(), `the console at /console/ has no user yet: "keygate init" with this --db creates its first operator`)
	second.stop(t)

	stdout, stderr, err := runCLI(t, "init", "--db", db)
	require.NoError(t, err, "stderr: %s", stderr)
	m := regexp.MustCompile(`^console user \(shown once\): (admin) / ([A-Z2-7]{26})\n$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "init prints the operator, and nothing else: %q", stdout)
	assert.Contains(t, stderr, "no admin key was made")
	assert.NotContains(t, stderr, m[2])
	_, _, err = runCLI(t, "init", "--db", db)
	require.ErrorIs(t, err, errNotEmpty, "a second init is refused")
	require.ErrorIs(t, err, errHasOperators)

	third := startInstance(t, "--db", db)
	assert.NotContains(t, third.stderr.String(), "has no user yet")
	requireConsoleUser(t, third.url, m[1], m[2], "operator", "")
	third.stop(t)
	third.requireNoSecrets(t, m[2])
}
