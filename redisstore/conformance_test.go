package redisstore

import (
	"testing"

	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/httpsig/httpsigtest"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/jwt/jwttest"
	"github.com/keygate/keygate/ratelimit"
	"github.com/keygate/keygate/ratelimit/ratelimittest"
)

// The conformance suites of the interfaces the stores implement, against
// the test Redis. Each store the suites ask for has a prefix of its own.

func TestNonceStoreConformance(t *testing.T) {
	c := newClient(t)
	httpsigtest.TestNonceStore(t, func(t *testing.T) httpsig.NonceStore {
		return must[*NonceStore](t)(NewNonceStore(Config{Client: c, Prefix: prefix(t, c)}))
	})
}

func TestNonceStoreShareConformance(t *testing.T) {
	c := newClient(t)
	httpsigtest.TestNonceStoreShare(t, func(t *testing.T, perKey int) httpsig.NonceStore {
		return must[*NonceStore](t)(NewNonceStore(Config{Client: c, Prefix: prefix(t, c), MaxNoncesPerKey: perKey}))
	})
}

func TestOneTimeStoreConformance(t *testing.T) {
	c := newClient(t)
	jwttest.TestOneTimeStore(t, func(t *testing.T) jwt.OneTimeStore {
		return must[*OneTimeStore](t)(NewOneTimeStore(Config{Client: c, Prefix: prefix(t, c)}))
	})
}

func TestDenylistConformance(t *testing.T) {
	c := newClient(t)
	jwttest.TestDenylist(t, func(t *testing.T) jwt.Denylist {
		return must[*Denylist](t)(NewDenylist(Config{Client: c, Prefix: prefix(t, c)}))
	})
}

func TestLimiterConformance(t *testing.T) {
	c := newClient(t)
	ratelimittest.TestLimiter(t, func(t *testing.T) ratelimit.Limiter {
		return must[*Limiter](t)(NewLimiter(Config{Client: c, Prefix: prefix(t, c)}))
	})
}
