package jwttest_test

import (
	"testing"

	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/jwt/jwttest"
)

// The refresh and one-time suites run against their memory stores in
// package jwt's tests; the denylist's runs here.
func TestMemoryDenylist(t *testing.T) {
	jwttest.TestDenylist(t, func(*testing.T) jwt.Denylist { return jwt.NewMemoryDenylist() })
}

// A CachedDenylist in front of a MemoryDenylist is a Denylist too: what
// it is told, it answers at once.
func TestCachedDenylist(t *testing.T) {
	jwttest.TestDenylist(t, func(*testing.T) jwt.Denylist {
		return jwt.NewCachedDenylist(jwt.NewMemoryDenylist(), jwt.DenylistCacheConfig{})
	})
}
