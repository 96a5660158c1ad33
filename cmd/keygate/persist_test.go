package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeRestartSQLite starts serve on a new SQLite file, uses the keys
// it prints, stops it and starts it again on the same file: the second
// start prints no secret, and the keys, the HMAC credential, the user, a
// token issued before the restart, refresh tokens, the audit history and
// the console's users and sessions all outlive the restart. In between, starts with the wrong master key
// fail and change nothing.
func TestServeRestartSQLite(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "keygate.db")
	c := httpClient(t)
	// The issuer is the listening address by default, which changes with
	// the port: tokens outlive a restart under a fixed one.
	const issuer = "http://keygate.test"

	first := startInstance(t, "--db", db, "--issuer", issuer)
	require.True(t, first.created, "the first start on an empty database prints the keys")
	b := first.keys
	require.Contains(t, first.stderr.String(), "created the master key file "+filepath.Join(dir, "keygate.key"))

	// Use every kind of credential once.
	r := call(t, c, http.MethodGet, first.url+"/v1/whoami", nil, bearer(b.secret)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = send(t, c, signedRequest(t, b, http.MethodGet, first.url+"/v1/whoami", ""))
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, "hmac", jsonBody(t, r)["method"])
	r = passwordGrant(t, c, first.url, b)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	tokens := jsonBody(t, r)
	access, refresh := tokens["access_token"].(string), tokens["refresh_token"].(string)
	r = call(t, c, http.MethodGet, first.url+"/v1/whoami", nil, bearer(access)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	jwks := call(t, c, http.MethodGet, first.url+"/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, jwks.status)

	// A management action, and a key that is revoked before the restart.
	revokedID, revoked := createKey(t, c, first.url, b.admin)
	require.Equal(t, http.StatusOK, call(t, c, http.MethodGet, first.url+"/v1/whoami", nil, bearer(revoked)...).status)
	revokeKey(t, c, first.url, b.admin, revokedID)
	eventually(t, 20*time.Millisecond, "the revocation reaches the audit history", func() bool {
		return len(auditEvents(t, c, first.url, b.admin, url.Values{"action": {"key.revoked"}, "key_id": {revokedID}})) == 1
	})
	requestsBefore := auditEvents(t, c, first.url, b.admin, url.Values{"key_id": {keyID(b.secret)}})
	require.NotEmpty(t, requestsBefore)
	// A console session, held in the database.
	status, _, session := consoleSignIn(t, first.url, b.operator, b.operatorPassword)
	require.Equal(t, http.StatusSeeOther, status)
	first.stop(t)
	first.requireNoSecrets(t, b.secrets()...)

	key := filepath.Join(dir, "keygate.key")
	fi, err := os.Stat(key)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the master key file is private")
	}

	t.Run("a master key file that does not exist is not a new master key", func(t *testing.T) {
		other := filepath.Join(dir, "other.key")
		in, err := tryStart(t, "--db", db, "--master-key-file", other)
		require.Nil(t, in)
		require.ErrorContains(t, err, "there was no master key file "+other)
		require.NoFileExists(t, other, "the key file made for the failed start is removed")
	})
	t.Run("a wrong master key stops the start", func(t *testing.T) {
		wrong := make([]byte, 32)
		rand.Read(wrong)
		t.Setenv(envMasterKey, hex.EncodeToString(wrong))
		// The key file next to the database is the default only without
		// $KEYGATE_MASTER_KEY: the variable wins, and does not open.
		in, err := tryStart(t, "--db", db)
		require.Nil(t, in)
		require.ErrorContains(t, err, "the master key from $"+envMasterKey+" does not open the keys in "+db)
		require.NotContains(t, err.Error(), hex.EncodeToString(wrong))
	})
	t.Run("a master key that is not 64 hex characters", func(t *testing.T) {
		t.Setenv(envMasterKey, "not-a-key")
		in, err := tryStart(t, "--db", db)
		require.Nil(t, in)
		require.ErrorContains(t, err, "64 hex characters")
		require.NotContains(t, err.Error(), "not-a-key")
	})

	second := startInstance(t, "--db", db, "--issuer", issuer)
	require.False(t, second.created, "a later start prints no key")
	require.Equal(t, db, second.using)
	require.NotContains(t, second.stderr.String(), "created the master key file")

	r = call(t, c, http.MethodGet, second.url+"/v1/whoami", nil, bearer(b.secret)...)
	require.Equal(t, http.StatusOK, r.status, "the secret key outlives the restart: %s", r.body)
	require.Equal(t, keyID(b.secret), jsonBody(t, r)["key_id"])
	r = call(t, c, http.MethodGet, second.url+"/v1/whoami", nil, bearer(b.prime)...)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = call(t, c, http.MethodGet, second.url+"/v1/whoami", nil, bearer(revoked)...)
	require.Equal(t, http.StatusUnauthorized, r.status, "a revoked key stays revoked")
	r = send(t, c, signedRequest(t, b, http.MethodGet, second.url+"/v1/whoami", ""))
	require.Equal(t, http.StatusOK, r.status, "the HMAC credential outlives the restart: %s", r.body)
	r = call(t, c, http.MethodGet, second.url+"/v1/whoami", nil, bearer(access)...)
	require.Equal(t, http.StatusOK, r.status, "a token issued before the restart verifies after it: %s", r.body)
	require.Equal(t, string(jwks.body), string(call(t, c, http.MethodGet, second.url+"/.well-known/jwks.json", nil).body),
		"the same signing keys")
	r = refreshGrant(t, c, second.url, b, refresh)
	require.Equal(t, http.StatusOK, r.status, "a refresh token outlives the restart: %s", r.body)
	r = passwordGrant(t, c, second.url, b)
	require.Equal(t, http.StatusOK, r.status, "the demo user outlives the restart: %s", r.body)
	r = call(t, c, http.MethodGet, second.url+"/admin/v1/accounts/"+demoAccount, nil, bearer(b.admin)...)
	require.Equal(t, http.StatusOK, r.status, "the admin key outlives the restart: %s", r.body)
	// The console's users outlive the restart, and so does a session.
	status, _ = consoleGet(t, second.url, consolePrefix+"/", session)
	require.Equal(t, http.StatusOK, status, "a console session outlives the restart")
	requireConsoleUser(t, second.url, b.operator, b.operatorPassword, "operator", "")
	requireConsoleUser(t, second.url, b.user, b.password, "owner", demoAccount)

	// The audit history of the first run is still there, and goes on.
	events := auditEvents(t, c, second.url, b.admin, url.Values{"action": {"key.revoked"}, "key_id": {revokedID}})
	require.Len(t, events, 1, "the revocation audited before the restart")
	after := auditEvents(t, c, second.url, b.admin, url.Values{"key_id": {keyID(b.secret)}, "limit": {"100"}})
	seqs := map[any]bool{}
	for _, e := range after {
		seqs[e["seq"]] = true
	}
	for _, e := range requestsBefore {
		require.True(t, seqs[e["seq"]], "request event %v from before the restart is kept", e["seq"])
	}

	second.stop(t)
	second.requireNoSecrets(t, b.secrets()...)
	require.NotContains(t, second.stdout.String(), "test secret key")
}
