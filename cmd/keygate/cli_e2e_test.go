package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServe runs keygate serve in-process on a free port until the test
// ends, and returns its banner.
func startServe(t *testing.T) banner {
	t.Helper()
	return readBanner(t, runInProcess(t, "serve", "--db", "memory", "--addr", "127.0.0.1:0"))
}

// adminCLI runs admin commands against a server with its admin key.
type adminCLI struct {
	t       *testing.T
	b       banner
	secrets []string // every plaintext seen: output must repeat none of them
}

// run runs the command line with --server and --admin-key appended, and
// checks that neither the admin key nor any earlier plaintext appears in
// the output.
func (c *adminCLI) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, append(args, "--server", c.b.url, "--admin-key", c.b.admin), &out, &errOut)
	for _, s := range []string{out.String(), errOut.String(), errString(err)} {
		require.NotContains(c.t, s, c.b.admin, "the admin key was printed")
		for _, secret := range c.secrets {
			require.NotContains(c.t, s, secret, "a plaintext was printed a second time")
		}
	}
	return out.String(), errOut.String(), err
}

// ok runs the command line, requires success and returns stdout.
func (c *adminCLI) ok(args ...string) string {
	c.t.Helper()
	stdout, stderr, err := c.run(args...)
	require.NoError(c.t, err, "%q: stderr: %s", args, stderr)
	return stdout
}

// createdKey is one key of a keys create or rotate --json response.
type createdKey struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Key    string `json:"key"`
}

// whoamiStatus sends GET /v1/whoami with the key and returns the status.
func whoamiStatus(t *testing.T, b banner, key string) int {
	t.Helper()
	return get(t, b.url+"/v1/whoami", b, "Authorization", "Bearer "+key).status
}

// TestCLIEndToEnd drives the reference server's admin API through the
// command line, with the admin key the server prints: the checks of
// issue 7, and the other commands once each.
func TestCLIEndToEnd(t *testing.T) {
	testCLIEndToEnd(t, startServe(t))
}

// testCLIEndToEnd runs TestCLIEndToEnd's checks against the server of b.
func testCLIEndToEnd(t *testing.T, b banner) {
	cli := &adminCLI{t: t, b: b}

	// An account for the keys.
	var acct map[string]any
	require.NoError(t, json.Unmarshal([]byte(cli.ok("accounts", "create", "--name", "CLI shop", "--package", "GO", "--id", "acct_cli", "--json")), &acct))
	require.Equal(t, "acct_cli", acct["id"])
	require.Equal(t, "GO", acct["package"])
	assert.Contains(t, cli.ok("accounts", "show", "acct_cli"), "CLI shop")
	assert.Contains(t, cli.ok("accounts", "list", "--all"), "acct_cli")
	assert.Regexp(t, `(?m)^package: +GROW$`, cli.ok("accounts", "update", "acct_cli", "--package", "GROW"))
	cli.ok("accounts", "update", "acct_cli", "--package", "GO")

	// A test pair, created and used.
	stdout := cli.ok("keys", "create", "--json", "--account", "acct_cli", "--mode", "test", "--name", "e2e",
		"--permissions", "products:read", "--stores", "store_1")
	var pair struct{ Publishable, Secret createdKey }
	require.NoError(t, json.Unmarshal([]byte(stdout), &pair))
	require.Regexp(t, `^bk_test_sk_`, pair.Secret.Key)
	require.Regexp(t, `^bk_test_pk_`, pair.Publishable.Key)
	require.Equal(t, "active", pair.Secret.Status)
	cli.secrets = append(cli.secrets, pair.Secret.Key, pair.Publishable.Key)
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, pair.Secret.Key))
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, pair.Publishable.Key))

	// Rotate with no grace: the old secret is refused at once.
	var rotated createdKey
	require.NoError(t, json.Unmarshal([]byte(cli.ok("keys", "rotate", pair.Secret.ID, "--grace", "0s", "--json")), &rotated))
	require.Equal(t, pair.Secret.ID, rotated.ID)
	require.Regexp(t, `^bk_test_sk_`, rotated.Key)
	require.NotEqual(t, pair.Secret.Key, rotated.Key)
	cli.secrets = append(cli.secrets, rotated.Key)
	require.Equal(t, http.StatusUnauthorized, whoamiStatus(t, b, pair.Secret.Key))
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, rotated.Key))

	// Revoke: the very next request is refused.
	stdout = cli.ok("keys", "revoke", pair.Secret.ID)
	assert.Contains(t, stdout, "Key "+pair.Secret.ID+" revoked.")
	assert.Regexp(t, `(?m)^status: +revoked$`, stdout)
	require.Equal(t, http.StatusUnauthorized, whoamiStatus(t, b, rotated.Key))

	// A live key: refused until approved.
	var live struct{ Secret createdKey }
	require.NoError(t, json.Unmarshal([]byte(cli.ok("keys", "create", "--account", "acct_cli", "--mode", "live", "--kind", "sk", "--json")), &live))
	require.Equal(t, "pending_review", live.Secret.Status)
	require.Regexp(t, `^bk_live_sk_`, live.Secret.Key)
	cli.secrets = append(cli.secrets, live.Secret.Key)
	require.Equal(t, http.StatusUnauthorized, whoamiStatus(t, b, live.Secret.Key))
	assert.Contains(t, cli.ok("keys", "show", live.Secret.ID), "pending_review")
	// The server separates review: the admin key that created the key may
	// not approve it; a second key, a reviewer's, may.
	_, stderr, err := cli.run("keys", "approve", live.Secret.ID)
	require.Error(t, err)
	assert.Contains(t, stderr+errString(err), "separation_of_duties")
	var reviewer struct{ Secret createdKey }
	require.NoError(t, json.Unmarshal([]byte(cli.ok("keys", "create", "--account", "acct_admin", "--mode", "test", "--kind", "sk",
		"--name", "reviewer", "--permissions", "admin:review", "--json")), &reviewer))
	cli.secrets = append(cli.secrets, reviewer.Secret.Key)
	rb := cli.b
	rb.admin = reviewer.Secret.Key
	stdout = (&adminCLI{t: t, b: rb, secrets: cli.secrets}).ok("keys", "approve", live.Secret.ID)
	assert.Regexp(t, `(?m)^status: +active$`, stdout)
	assert.Regexp(t, `(?m)^approved by: +`+reviewer.Secret.ID+`$`, stdout)
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, live.Secret.Key))

	// Rotate with a grace period: both secrets work.
	var graced createdKey
	require.NoError(t, json.Unmarshal([]byte(cli.ok("keys", "rotate", live.Secret.ID, "--grace", "1h", "--json")), &graced))
	cli.secrets = append(cli.secrets, graced.Key)
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, live.Secret.Key))
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, graced.Key))
	assert.Regexp(t, `(?m)^rotated at: +20`, cli.ok("keys", "show", live.Secret.ID))

	// Disable and enable.
	assert.Contains(t, cli.ok("keys", "disable", live.Secret.ID), "active (disabled)")
	require.Equal(t, http.StatusUnauthorized, whoamiStatus(t, b, live.Secret.Key))
	cli.ok("keys", "enable", live.Secret.ID)
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, live.Secret.Key))

	// The list shows every key, without any secret (cli.run checks the
	// plaintexts; no item has a "key" member).
	stdout = cli.ok("keys", "list", "--account", "acct_cli", "--all", "--json")
	var items []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &items))
	ids := map[string]string{}
	for _, it := range items {
		ids[it["id"].(string)] = it["status"].(string)
		assert.NotContains(t, it, "key")
		assert.Equal(t, "acct_cli", it["account"])
	}
	assert.Equal(t, map[string]string{pair.Publishable.ID: "active", pair.Secret.ID: "revoked", live.Secret.ID: "active"}, ids)
	stdout = cli.ok("keys", "list", "--account", "acct_cli", "--limit", "1", "--all")
	for id := range ids {
		assert.Contains(t, stdout, id)
	}
	stdout, stderr, err = cli.run("keys", "list", "--account", "acct_cli", "--limit", "1")
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(stdout, "\n"), "a header and one key")
	assert.Contains(t, stderr, "--cursor ")

	// An unknown key: exit status 1 and the API's error code.
	_, _, err = cli.run("keys", "show", "NoSuchKeyId00000")
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, err.Error(), "keys show: not_found")
	_, _, err = cli.run("keys", "rotate", pair.Secret.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "conflict", "a revoked key cannot be rotated")
	_, _, err = cli.run("keys", "create", "--account", "acct_nobody", "--mode", "test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "keys create: validation_failed")
	assert.Contains(t, err.Error(), "account: ")

	// The same Idempotency-Key twice: one key, the plaintext shown once.
	stdout, stderr, err = cli.run("keys", "create", "--account", "acct_cli", "--mode", "test", "--kind", "pk", "--idempotency-key", "e2e-once")
	require.NoError(t, err)
	first := regexp.MustCompile(`(?m)^publishable key \(shown once\): +(bk_test_pk_\S+)$`).FindStringSubmatch(stdout)
	require.NotNil(t, first, "stdout: %s", stdout)
	assert.Contains(t, stderr, "shown only this once")
	cli.secrets = append(cli.secrets, first[1])
	again, stderr, err := cli.run("keys", "create", "--account", "acct_cli", "--mode", "test", "--kind", "pk", "--idempotency-key", "e2e-once")
	require.NoError(t, err)
	assert.Contains(t, stderr, "replayed")
	assert.NotContains(t, again, "shown once")
	firstID := keyID(first[1])
	assert.Contains(t, again, firstID)
	require.NoError(t, json.Unmarshal([]byte(cli.ok("keys", "list", "--account", "acct_cli", "--all", "--json")), &items))
	n := 0
	for _, it := range items {
		if it["id"] == firstID {
			n++
		}
	}
	assert.Equal(t, 1, n, "one key created")
	assert.Len(t, items, 4)

	// HMAC credentials: create, sign a request with keygate sign, rotate,
	// revoke.
	var cred struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(cli.ok("hmac-keys", "create", "--account", "acct_cli", "--mode", "test", "--permissions", "products:read", "--json")), &cred))
	require.NotEmpty(t, cred.Secret)
	cli.secrets = append(cli.secrets, cred.Secret)
	signed := func(secret string) error {
		var out bytes.Buffer
		return run(context.Background(), []string{"sign", "--key-id", cred.ID, "--secret", secret, b.url + "/v1/whoami"}, &out, io.Discard)
	}
	require.NoError(t, signed(cred.Secret))
	assert.Contains(t, cli.ok("hmac-keys", "list", "--account", "acct_cli"), cred.ID)
	assert.NotContains(t, cli.ok("hmac-keys", "show", cred.ID, "--json"), `"secret"`)
	var rotatedCred struct{ Secret string }
	require.NoError(t, json.Unmarshal([]byte(cli.ok("hmac-keys", "rotate", cred.ID, "--json")), &rotatedCred))
	cli.secrets = append(cli.secrets, rotatedCred.Secret)
	require.Error(t, signed(cred.Secret))
	require.NoError(t, signed(rotatedCred.Secret))
	cli.ok("hmac-keys", "revoke", cred.ID)
	require.Error(t, signed(rotatedCred.Secret))

	// Tokens.
	assert.Contains(t, cli.ok("tokens", "revoke", "--subject", "user_demo"), "Revoked: subject user_demo")

	// The audit history names the admin key as the actor (once the
	// asynchronous audit writer has written the event).
	var events []map[string]any
	eventually(t, 20*time.Millisecond, "no key.revoked event", func() bool {
		stdout := cli.ok("audit", "query", "--action", "key.revoked", "--json")
		require.NoError(t, json.Unmarshal([]byte(stdout), &events))
		return len(events) > 0
	})
	assert.Equal(t, keyID(b.admin), events[0]["actor"])
	assert.Equal(t, pair.Secret.ID, events[0]["key_id"])
	assert.Contains(t, cli.ok("audit", "query", "--key-id", pair.Secret.ID), "key.revoked by "+keyID(b.admin))
}

// TestCLIBinary runs the built command against the built server, with the
// server and admin key from the environment.
func TestCLIBinary(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve", "--db", "memory", "--addr", "127.0.0.1:0")
	stdoutR, stdoutW := io.Pipe()
	srv.Stdout = stdoutW
	srv.Stderr = io.Discard
	require.NoError(t, srv.Start())
	exited := make(chan struct{})
	go func() {
		srv.Wait()
		stdoutW.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		stdoutR.Close()
		<-exited
	})
	b := readBanner(t, stdoutR)

	cli := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), envURL+"="+b.url, envAdminKey+"="+b.admin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code = 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			require.True(t, ok, "%v", err)
			code = ee.ExitCode()
		}
		require.NotContains(t, out.String()+errOut.String(), b.admin, "the admin key was printed")
		return out.String(), errOut.String(), code
	}

	_, stderr, code := cli("accounts", "create", "--name", "binary", "--id", "acct_bin")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	stdout, stderr, code := cli("keys", "create", "--account", "acct_bin", "--mode", "test", "--json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var pair struct{ Publishable, Secret createdKey }
	require.NoError(t, json.Unmarshal([]byte(stdout), &pair))
	require.Equal(t, http.StatusOK, whoamiStatus(t, b, pair.Secret.Key))

	stdout, stderr, code = cli("keys", "list", "--json", "--account", "acct_bin")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var items []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &items), "stdout: %s", stdout)
	require.Len(t, items, 2)
	for _, secret := range []string{pair.Secret.Key, pair.Publishable.Key} {
		assert.NotContains(t, stdout, secret)
	}

	_, stderr, code = cli("keys", "show", "NoSuchKeyId00000")
	assert.Equal(t, 1, code)
	assert.Regexp(t, `^keygate: keys show: not_found: .* \(HTTP 404\)\n$`, stderr)

	_, stderr, code = cli("keys", "show")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "missing the ID argument")
}
