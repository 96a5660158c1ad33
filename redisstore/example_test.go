package redisstore_test

import (
	"log"

	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/ratelimit"
	"github.com/keygate/keygate/redisstore"
	"github.com/redis/go-redis/v9"
)

// Every instance of a service builds its stores on the same Redis and
// prefix; they then agree on nonces, one-time tokens, revocations and
// rate limits.
func Example() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{"127.0.0.1:6379"}, // several addresses: a Cluster
		// Let a context deadline bound every call, also to a Redis
		// that accepts connections but does not answer.
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	cfg := redisstore.Config{Client: client, Prefix: "shop:keygate:"}

	nonces, err := redisstore.NewNonceStore(cfg)
	if err != nil {
		log.Fatal(err)
	}
	onetime, err := redisstore.NewOneTimeStore(cfg)
	if err != nil {
		log.Fatal(err)
	}
	denylist, err := redisstore.NewDenylist(cfg)
	if err != nil {
		log.Fatal(err)
	}
	limiter, err := redisstore.NewLimiter(cfg)
	if err != nil {
		log.Fatal(err)
	}

	var hmacCfg httpsig.VerifierConfig // with its Authorities and Credentials
	hmacCfg.Nonces = nonces
	var jwtCfg jwt.VerifierConfig // with its Keys, Issuer and Audience
	jwtCfg.Denylist = denylist
	oneTimeCfg := jwt.OneTimeConfig{Store: onetime}
	failures := ratelimit.NewFailureLimiter(limiter, ratelimit.DefaultFailurePolicy)
	_, _, _, _ = hmacCfg, jwtCfg, oneTimeCfg, failures
}
