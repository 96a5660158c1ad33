package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/ratelimit"
)

// exampleConfig is the example configuration file (the README's,
// with tier: where the README writes package:, and without tls, which
// needs files).
const exampleConfig = `listen: 127.0.0.1:8443
db: keygate.db                 # or postgres://…, memory
redis: redis://127.0.0.1:6379/0
issuer: https://auth.example.com
audience: api
https_only: true
trusted_proxies: [10.0.0.0/8]
packages:                      # ordered, lowest first; each grants permissions
  - {name: DISCOVER, permissions: ["stores:read", "products:*"]}
  - {name: PRIME, permissions: ["analytics:export"]}
rate_limits: {PRIME: 1000/1m}  # per package, live mode; test mode unlimited
routes:
  - match: "GET /orders/{id}"   # a net/http ServeMux pattern
    permission: orders:read
    tier: DISCOVER
    publishable: false
    upstream: http://127.0.0.1:9000
  - match: "POST /auth-only/"
    permission: "stores:read:{entity}"
`

func noEnv(string) string { return "" }

func TestParseConfigExample(t *testing.T) {
	cfg, err := parseConfig("keygate.yaml", []byte(exampleConfig), defaultServeConfig(), noEnv)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8443", cfg.addr)
	assert.Equal(t, "keygate.db", cfg.store.db)
	assert.Equal(t, "redis://127.0.0.1:6379/0", cfg.store.redisURL)
	assert.Equal(t, "https://auth.example.com", cfg.issuer)
	assert.Equal(t, "api", cfg.audience)
	assert.True(t, cfg.httpsOnly)
	assert.True(t, cfg.noDemo, "with a file, no demo data unless demo: true")
	assert.Equal(t, []string{"10.0.0.0/8"}, cfg.trustedProxies)
	assert.Equal(t, []string{"DISCOVER", "PRIME"}, cfg.servicePackages().Names())
	assert.True(t, cfg.servicePackages().Reaches("PRIME", "DISCOVER"))
	assert.Equal(t, ratelimit.Policy{Name: "PRIME", Limit: 1000, Window: time.Minute}, cfg.rateLimits["PRIME"])
	require.Len(t, cfg.routes, 2)
	r := cfg.routes[0]
	assert.Equal(t, "GET /orders/{id}", r.pattern)
	assert.Equal(t, "orders:read", r.permission)
	assert.Equal(t, "DISCOVER", r.minPackage)
	require.NotNil(t, r.upstream)
	assert.Equal(t, "127.0.0.1:9000", r.upstream.Host)
	assert.Nil(t, cfg.routes[1].upstream, "a route without upstream is forward-auth only")
	// What the file does not set keeps serve's default.
	assert.Equal(t, defaultServeConfig().accessTokenTTL, cfg.accessTokenTTL)
	assert.Equal(t, defaultServeConfig().store.cacheTTL, cfg.store.cacheTTL)
}

func TestParseConfigEveryFlagKey(t *testing.T) {
	const file = `listen: ":0"
db: postgres://keygate:${PGPASS}@db.example/keygate
master_key_file: /etc/keygate/master.key
redis: rediss://cache.example:6380/1
redis_prefix: kg2
cache_ttl: 5s
issuer: http://127.0.0.1:8080
audience: partners
access_token_ttl: 5m
demo_rate_limit: 5/s
audit_file: /var/log/keygate.jsonl
no_audit: false
authorities: [LB.example.com:443]
tls_terminated: true
demo: true
`
	env := func(name string) string {
		if name == "PGPASS" {
			return "s3cret"
		}
		return ""
	}
	cfg, err := parseConfig("k.yaml", []byte(file), defaultServeConfig(), env)
	require.NoError(t, err)
	assert.Equal(t, serveConfig{
		addr: ":0", accessTokenTTL: 5 * time.Minute, issuer: "http://127.0.0.1:8080", audience: "partners",
		extraAuthorities: []string{"lb.example.com:443"},
		demoRateLimit:    ratelimit.Policy{Name: "demo", Limit: 5, Window: time.Second},
		auditFile:        "/var/log/keygate.jsonl", tlsTerminated: true,
		store: storeOptions{
			db: "postgres://keygate:s3cret@db.example/keygate", masterKeyFile: "/etc/keygate/master.key",
			redisURL: "rediss://cache.example:6380/1", redisPrefix: "kg2", cacheTTL: 5 * time.Second,
		},
	}, cfg)
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir, "a")
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o600))

	tests := []struct {
		name, file string
		want       string // the whole first line of the error, or its start
	}{
		{"unknown top key", "listen: :8080\nlisen: :8081\n", "k.yaml:2: lisen: unknown key"},
		{"unknown nested key", "routes:\n  - match: GET /a\n    tir: X\n", "k.yaml:3: routes[0].tir: unknown key"},
		{"unknown tls key", "tls: {cert: a, key: b, ca: c}\n", "k.yaml:1: tls.ca: unknown key"},
		{"wrong type", "audience: api\nhttps_only: maybe\n", "k.yaml:2: https_only: cannot unmarshal"},
		{"list for a string", "db: [a]\n", "k.yaml:1: db: cannot unmarshal"},
		{"syntax", "listen: [1\n", "k.yaml:1: did not find expected"},
		{"listen", "\nlisten: 8080\n", "k.yaml:2: listen: want host:port"},
		{"db empty", "db: ''\n", "k.yaml:1: db: must not be empty"},
		{"db env unset", "db: postgres://u:${NOPE}@h/d\n", "k.yaml:1: db: the environment variable NOPE is not set"},
		{"redis scheme", "redis: http://127.0.0.1:6379\n", "k.yaml:1: redis: want a redis:// or rediss:// URL"},
		{"cache_ttl", "cache_ttl: -1s\n", `k.yaml:1: cache_ttl: "-1s": want a positive duration`},
		{"issuer", "issuer: auth.example.com\n", "k.yaml:1: issuer: want an http:// or https:// URL"},
		{"audience", "audience: ''\n", "k.yaml:1: audience: must not be empty"},
		{"access_token_ttl", "access_token_ttl: soon\n", `k.yaml:1: access_token_ttl: "soon"`},
		{"demo_rate_limit", "demo_rate_limit: fast\n", "k.yaml:1: demo_rate_limit: ratelimit: invalid policy"},
		{"no_audit and audit_file", "audit_file: a.jsonl\nno_audit: true\n", "k.yaml:2: no_audit: no_audit and audit_file exclude each other"},
		{"authority", "authorities: [ok.example, 'https://x']\n", "k.yaml:1: authorities[1]: want host or host:port"},
		{"tls without key", "tls:\n  cert: " + cert + "\n", "k.yaml:2: tls.key: missing"},
		{"tls unreadable", "tls:\n  cert: " + garbage + "\n  key: " + key + "\n", "k.yaml:2: tls.cert: tls: failed to find any PEM data"},
		{"tls missing file", "tls:\n  cert: " + filepath.Join(dir, "none.pem") + "\n  key: " + key + "\n", "k.yaml:2: tls.cert: open "},
		{"trusted proxy host bits", "trusted_proxies:\n  - 10.0.0.0/8\n  - 10.0.0.1/8\n", `k.yaml:3: trusted_proxies[1]: "10.0.0.1/8" is not an address or a CIDR prefix`},
		{"trusted proxy name", "trusted_proxies: [proxy.local]\n", `k.yaml:1: trusted_proxies[0]: "proxy.local"`},
		{"package name", "packages:\n  - name: GO\n  - name: 'no spaces'\n", `k.yaml:3: packages[1].name: "no spaces": want 1 to 64 characters`},
		{"package twice", "packages:\n  - name: GO\n  - name: GO\n", `k.yaml:3: packages[1].name: "GO" is defined twice`},
		{"package permission", "packages:\n  - name: GO\n    permissions:\n      - stores:read\n      - 'Stores:read'\n", `k.yaml:5: packages[0].permissions[1]: access: malformed permission "Stores:read"`},
		{"package admin permission", "packages:\n  - name: GO\n    permissions: ['admin:read']\n", `k.yaml:3: packages[0].permissions[0]: "admin:read": the module "admin" is reserved`},
		{"packages with demo", "demo: true\npackages:\n  - name: GO\n", "k.yaml:3: packages: demo: true needs the retail demo's packages"},
		{"rate limit package", "packages: [{name: GO}]\nrate_limits:\n  PRIME: 10/s\n", `k.yaml:3: rate_limits.PRIME: "PRIME" is not a package (the packages: GO)`},
		{"rate limit syntax", "rate_limits:\n  PRIME: 10 per second\n", `k.yaml:2: rate_limits.PRIME: ratelimit: invalid policy: "10 per second"`},
		{"route without match", "routes:\n  - permission: a:b\n", "k.yaml:2: routes[0].match: missing"},
		{"route pattern", "routes:\n  - match: GET /a\n  - match: 'GET /orders/{id'\n", `k.yaml:3: routes[1].match: parsing "GET /orders/{id": at offset 12: bad wildcard segment`},
		{"route method", "routes:\n  - match: 'G@T /a'\n", `k.yaml:2: routes[0].match: parsing "G@T /a": at offset 0: invalid method "G@T"`},
		{"route conflict", "routes:\n  - match: GET /a/{x}\n  - match: GET /a/{y}\n", `k.yaml:3: routes[1].match: pattern "GET /a/{y}" conflicts with pattern "GET /a/{x}"`},
		{"route permission", "routes:\n  - match: GET /a\n    permission: orders\n", `k.yaml:3: routes[0].permission: access: malformed permission "orders"`},
		{"route wildcard permission", "routes:\n  - match: GET /a\n    permission: 'orders:*'\n", `k.yaml:3: routes[0].permission: access: invalid configuration: required permission "orders:*" has a wildcard`},
		{"route tier", "packages: [{name: DISCOVER}]\nroutes:\n  - match: GET /a\n    tier: PRIME\n", `k.yaml:4: routes[0].tier: "PRIME" is not a package (the packages: DISCOVER)`},
		{"route demo tier", "routes:\n  - match: GET /a\n    tier: GOLD\n", `k.yaml:3: routes[0].tier: "GOLD" is not a package (the packages: DISCOVER, ASSIST, GO, GROW, PRIME)`},
		{"route package", "packages: [{name: DISCOVER}]\nroutes:\n  - match: GET /a\n    package: PRIME\n", `k.yaml:4: routes[0].package: "PRIME" is not a package (the packages: DISCOVER)`},
		{"route package and tier", "routes:\n  - match: GET /a\n    package: GO\n    tier: GO\n", "k.yaml:4: routes[0].tier: package and tier are the same setting: give one"},
		{"route tier and package", "routes:\n  - match: GET /a\n    tier: GO\n    package: PRIME\n", "k.yaml:3: routes[0].tier: package and tier are the same setting: give one"},
		{"route upstream", "routes:\n  - match: GET /a\n    upstream: 127.0.0.1:9000\n", "k.yaml:3: routes[0].upstream: want an http:// or https:// URL"},
		{"route upstream user", "routes:\n  - match: GET /a\n    upstream: http://u:p@h\n", "k.yaml:3: routes[0].upstream: want"},
		{"forward_credentials", "routes:\n  - match: GET /a\n    forward_credentials: true\n", "k.yaml:3: routes[0].forward_credentials: only a route with an upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("k.yaml", []byte(tt.file), defaultServeConfig(), noEnv)
			require.Error(t, err)
			require.ErrorIs(t, err, errConfig)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), "got  %q\nwant %q...", err.Error(), tt.want)
		})
	}
}

// TestParseConfigRoutePackage: a route's minimum package is given by the
// key package or, under the name the file format first had, tier.
func TestParseConfigRoutePackage(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"package", "package: GROW", "GROW"},
		{"tier", "tier: GROW", "GROW"},
		{"neither", "permission: stores:read", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "routes:\n  - match: GET /a\n    " + tt.key + "\n"
			cfg, err := parseConfig("k.yaml", []byte(file), defaultServeConfig(), noEnv)
			require.NoError(t, err)
			require.Len(t, cfg.routes, 1)
			assert.Equal(t, tt.want, cfg.routes[0].minPackage)
			assert.Equal(t, tt.want, gatewayRoutes(cfg.routes)[0].Rule.Package)
		})
	}
}

// TestParseConfigNoSecretInErrors: an error about a value that came from
// the environment names the key, never the secret.
func TestParseConfigNoSecretInErrors(t *testing.T) {
	env := func(string) string { return "hunter2" }
	_, err := parseConfig("k.yaml", []byte("redis: ${PASS}://x\n"), defaultServeConfig(), env)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestParseServeConfigFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keygate.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen: 127.0.0.1:8443\ndb: memory\naudience: api\nauthorities: [a.example]\n"), 0o600))

	cfg, err := parseServe([]string{"--addr", "127.0.0.1:0", "--config", file, "--authority", "b.example"}, noEnv, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:0", cfg.addr, "a flag given overrides the file")
	assert.Equal(t, []string{"a.example", "b.example"}, cfg.extraAuthorities)
	assert.Equal(t, "memory", cfg.store.db)
	assert.Equal(t, "api", cfg.audience)
	assert.True(t, cfg.noDemo)

	cfg, err = parseServe(nil, noEnv, io.Discard)
	require.NoError(t, err)
	assert.False(t, cfg.noDemo, "without --config, the demo data as today")

	require.NoError(t, os.WriteFile(file, []byte("db: memory\ndemo: maybe\n"), 0o600))
	_, err = parseServe([]string{"--config", file}, noEnv, io.Discard)
	require.ErrorIs(t, err, errConfig)
	assert.Contains(t, err.Error(), file+":2: demo: cannot unmarshal")
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "keygate.yaml")
	require.NoError(t, os.WriteFile(good, []byte(exampleConfig), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(exampleConfig, "tier: DISCOVER", "tier: GOLD", 1)), 0o600))

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"config", "check", good}, &stdout, &stderr)
	require.NoError(t, err)
	assert.Equal(t, "ok\n", stdout.String())
	assert.Equal(t, 0, exitCode(err))

	stdout.Reset()
	err = run(context.Background(), []string{"config", "check", bad}, &stdout, &stderr)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Empty(t, stdout.String())
	assert.Equal(t, bad+`:15: routes[0].tier: "GOLD" is not a package (the packages: DISCOVER, PRIME)`, err.Error())

	err = run(context.Background(), []string{"config", "check", filepath.Join(dir, "missing.yaml")}, &stdout, &stderr)
	require.ErrorIs(t, err, errConfig)
	assert.ErrorIs(t, err, os.ErrNotExist)

	err = run(context.Background(), []string{"config", "check"}, &stdout, &stderr)
	assert.True(t, errors.Is(err, errUsage))
	assert.Equal(t, 2, exitCode(err))
}
