// Package servicetest gives tests the addresses of the real servers that
// scripts/services.sh starts (Redis, PostgreSQL), as scripts/test.sh
// exports them:
//
//	KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:16379/0
//	KEYGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:15432/keygate_test?sslmode=disable
//
// A test that needs a server asks for its URL first:
//
//	func TestStore(t *testing.T) {
//		url := servicetest.RedisURL(t)
//		...
//	}
//
// When the variable is unset the test is skipped with a message saying how
// to start the server, so that a plain go test ./... works without one;
// under CI=true it fails instead, so that a missing server is never a
// silent skip.
//
// The package is internal to the repository's import path, so the nested
// backend modules (github.com/keygate/keygate/redisstore, ...) import it
// too; it is no part of the public API.
package servicetest

import (
	"os"
	"testing"
)

// The environment variables that hold the servers' URLs.
const (
	RedisEnv    = "KEYGATE_TEST_REDIS_URL"
	PostgresEnv = "KEYGATE_TEST_POSTGRES_URL"
)

// RedisURL returns the URL of the test Redis server ([RedisEnv]), or, when
// it is unset, skips t (fails it under CI=true).
func RedisURL(t testing.TB) string {
	t.Helper()
	return url(t, RedisEnv, "Redis")
}

// PostgresURL returns the URL of the test PostgreSQL database
// ([PostgresEnv]), or, when it is unset, skips t (fails it under CI=true).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return url(t, PostgresEnv, "PostgreSQL")
}

func url(t testing.TB, env, server string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	msg := env + " unset: run ./scripts/test.sh, which starts " + server +
		" (or ./scripts/services.sh start, then eval \"$(./scripts/services.sh env)\")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
