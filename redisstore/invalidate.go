package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keygate/keygate"
)

// Invalidations broadcasts, over Redis pub/sub, the IDs of the credentials
// and accounts that change on one instance of a service, so that every
// instance drops its cached copy (apikey.CachedStore,
// httpsig.CachedCredentialStore, account.CachedStore) at once rather than when
// its cache entry expires:
//
//	inv, _ := redisstore.NewInvalidations(cfg)
//	keys := apikey.NewCachedStore(sqlKeys, apikey.CacheConfig{})
//	manager, _ := apikey.NewManager(apikey.Config{Store: keys,
//		OnChange: keygate.MultiChangeFunc(auditWriter.RecordChange, inv.Publish)})
//	go inv.Run(ctx, func(id string) {
//		if id == "" {
//			keys.InvalidateAll()
//		} else {
//			keys.Invalidate(id)
//		}
//	})
//
// Pub/sub delivers at most once: a message published while an instance is
// disconnected is lost. Run therefore reports "" (drop everything) each
// time it (re)subscribes, and the cache TTL stays the bound when Redis is
// unreachable. The channel is Config.Prefix + "invalidate" (on Redis
// Cluster, pub/sub messages reach every node).
type Invalidations struct {
	client  redis.UniversalClient
	channel string
}

// NewInvalidations returns the broadcast for cfg (its Client and Prefix).
func NewInvalidations(cfg Config) (*Invalidations, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	return &Invalidations{client: s.client, channel: s.key("invalidate", "")}, nil
}

// publishTimeout bounds one Publish, which must not hold up the
// management call that reported the change.
const publishTimeout = time.Second

// IPRulesChanged is the ID Publish sends for a change of the IP rules
// (keygate.ActionIPRuleCreated and ActionIPRuleDeleted): receivers reload
// their rules (iprule.Checker.Invalidate) when Run reports it, or "".
const IPRulesChanged = "ip-rules"

// TokensRevoked is the ID Publish sends for a revocation of access tokens
// (keygate.ActionTokenRevoked, ActionSubjectRevoked, ActionRefreshRevoked
// and ActionRefreshReuse, whose family takes its access tokens with it):
// receivers forget their cached denylist answers
// (jwt.CachedDenylist.Invalidate) when Run reports it, or "".
const TokensRevoked = "tokens-revoked"

// Publish tells every instance that the credential c.KeyID changed, or,
// for an account's change (its package, disabled or enabled), the account
// c.Account, or, for a change of the IP rules, [IPRulesChanged], or, for
// a revocation of access tokens, [TokensRevoked]. Its signature is
// keygate.ChangeFunc's, for the managers' OnChange. Any other change without a key ID is not published. Receivers
// get one ID without its kind: they drop it from every cache (credential
// and account IDs that collided would only cost a read). If Redis cannot
// be reached, the other instances see the change when their cache entries
// expire (their TTL is then the bound); Publish does not fail the
// management call.
func (i *Invalidations) Publish(ctx context.Context, c keygate.Change) {
	id := c.KeyID
	switch c.Action {
	case keygate.ActionAccountUpdated, keygate.ActionAccountDisabled, keygate.ActionAccountEnabled:
		id = c.Account
	case keygate.ActionIPRuleCreated, keygate.ActionIPRuleDeleted:
		id = IPRulesChanged
	case keygate.ActionTokenRevoked, keygate.ActionSubjectRevoked, keygate.ActionRefreshRevoked, keygate.ActionRefreshReuse:
		// The credential that obtained the tokens did not change.
		id = TokensRevoked
	}
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	_ = i.client.Publish(ctx, i.channel, id).Err()
}

// Run subscribes and calls drop with each published ID (a credential's or
// an account's), and with "" (drop
// every cached entry) whenever the subscription is made or made again
// after a lost connection, since what was published meanwhile is lost. It
// returns nil when ctx ends; drop is never called after that.
func (i *Invalidations) Run(ctx context.Context, drop func(id string)) error {
	ps := i.client.Subscribe(ctx, i.channel)
	defer ps.Close()
	// Receive does not return when ctx ends while it waits for a message:
	// closing the subscription makes it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// go-redis reconnects and subscribes again on the next
			// Receive; wait a little so that a Redis that is down is
			// not hammered.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				drop("")
			}
		case *redis.Message:
			if m.Payload != "" {
				drop(m.Payload)
			}
		}
	}
}
