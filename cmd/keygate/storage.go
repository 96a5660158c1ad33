package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/passworduser"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/redisstore"
	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/sqlstore"
)

// dbMemory is the --db value that keeps everything in memory.
const dbMemory = "memory"

// defaultDB is --db when it is not given: a SQLite file in the working
// directory.
const defaultDB = "keygate.db"

// openTimeout bounds opening the database and the first contact with
// Redis at start.
const openTimeout = 30 * time.Second

// storeOptions are serve's storage flags.
type storeOptions struct {
	// db is "memory", a SQLite file's path, or a postgres:// URL.
	db string
	// masterKeyFile is the master key's file; empty means
	// $KEYGATE_MASTER_KEY if set (masterKeyEnv), else keygate.key next
	// to the SQLite file or in the working directory.
	masterKeyFile string
	// masterKeyEnv is the value of $KEYGATE_MASTER_KEY.
	masterKeyEnv string
	// redisURL, when set, puts nonces, one-time tokens, the jti denylist
	// and the rate limits in Redis, and broadcasts invalidations.
	redisURL string
	// redisPrefix starts every Redis key and the invalidation channel.
	redisPrefix string
	// cacheTTL is how long a verified API key or HMAC credential, and an
	// account, is served from memory with a SQL database.
	cacheTTL time.Duration
}

// isPostgres reports whether a --db value names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// storage is where serve keeps its state: everything in memory, or a SQL
// database (SQLite or PostgreSQL) with caches in front of the key stores,
// and optionally Redis for the short-lived shared state.
type storage struct {
	// name describes the database for messages (never a password).
	name string
	// db is the SQL database; nil in memory.
	db *sqlstore.DB
	// masterKey seals HMAC secrets and JWT signing keys.
	masterKey []byte
	// masterKeySource is where masterKey came from (nil in memory), and
	// masterKeyCreated whether this start created its file.
	masterKeySource  *masterKeySource
	masterKeyCreated bool

	// keys, creds and accounts are the caches in front of the SQL
	// stores, for cacheTTL; nil in memory.
	cacheTTL time.Duration
	keys     *apikey.CachedStore
	creds    *httpsig.CachedCredentialStore
	accounts *account.CachedStore
	// denylist is the cache in front of the shared denylist of revoked
	// access tokens (the database's, or Redis's), for cacheTTL; nil in
	// memory. buildStateStores makes it.
	denylist *jwt.CachedDenylist

	// redis is the Redis client, nil without --redis; redisCfg configures
	// the stores on it.
	redis    redis.UniversalClient
	redisCfg redisstore.Config
	// inv broadcasts and receives invalidations when there are both
	// caches and Redis.
	inv *redisstore.Invalidations

	// ipRules are the service-wide and account IP rules (the database's,
	// or memory), and ipCheck applies them to every request, reloading
	// them on a change (drop) or after cacheTTL.
	ipRules iprule.Store
	ipCheck *iprule.Checker

	stopInv context.CancelFunc // stops the invalidation receiver
	invDone chan struct{}      // closed when it has stopped
}

// openStorage opens what o describes. stderr receives operational
// messages.
func openStorage(ctx context.Context, o storeOptions, stderr io.Writer) (_ *storage, err error) {
	s := &storage{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	openCtx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()

	var keyDir string
	switch {
	case o.db == dbMemory:
		s.name = dbMemory
		if o.masterKeyFile != "" {
			return nil, fmt.Errorf("--master-key-file: --db memory keeps its master key in memory")
		}
		s.masterKey = make([]byte, httpsig.MasterKeyLen)
		rand.Read(s.masterKey)
	default:
		if s.db, s.name, err = openDB(openCtx, o.db); err != nil {
			return nil, err
		}
		keyDir = "."
		if !isPostgres(o.db) {
			keyDir = filepath.Dir(o.db)
		}
	}

	if s.db != nil {
		src := &masterKeySource{path: o.masterKeyFile}
		if src.path == "" {
			if o.masterKeyEnv != "" {
				src.env = o.masterKeyEnv
			} else {
				src.path = filepath.Join(keyDir, masterKeyFileName)
			}
		}
		s.masterKeySource = src
		if s.masterKey, s.masterKeyCreated, err = src.load(openCtx); err != nil {
			return nil, err
		}
		if src.path != "" {
			if w := masterKeyWarning(src.path); w != "" {
				fmt.Fprintln(stderr, w)
			}
		}
		s.cacheTTL = o.cacheTTL
		s.keys = apikey.NewCachedStore(s.db.APIKeys(), apikey.CacheConfig{TTL: o.cacheTTL})
		s.creds = httpsig.NewCachedCredentialStore(s.db.HMACCredentials(), httpsig.CacheConfig{TTL: o.cacheTTL})
		s.accounts = account.NewCachedStore(s.db.Accounts(), account.CacheConfig{TTL: o.cacheTTL})
	}

	s.ipRules = iprule.Store(iprule.NewMemoryStore())
	if s.db != nil {
		s.ipRules = s.db.IPRules()
	}
	s.ipCheck = iprule.NewChecker(s.ipRules, iprule.CheckerConfig{TTL: o.cacheTTL})

	if o.redisURL != "" {
		if s.redis, err = openRedis(openCtx, o.redisURL); err != nil {
			return nil, err
		}
		s.redisCfg = redisstore.Config{Client: s.redis, Prefix: o.redisPrefix}
		if s.keys != nil {
			if s.inv, err = redisstore.NewInvalidations(s.redisCfg); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// openDB opens the SQL database db names, a postgres:// URL or a SQLite
// file, and returns it with its description for messages (never a
// password).
func openDB(ctx context.Context, db string) (*sqlstore.DB, string, error) {
	if isPostgres(db) {
		name := postgresName(db)
		d, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		return d, name, nil
	}
	d, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, "", err
	}
	return d, db, nil
}

// openRedis connects to the Redis that rawURL names and checks that it
// answers. Its errors never quote the URL, which may hold a password.
func openRedis(ctx context.Context, rawURL string) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errors.New("--redis: not a valid redis:// or rediss:// URL")
	}
	// Fail fast rather than hold requests: a Redis that is down makes
	// the requests that need it answer 503 within about a second (the
	// URL's dial_timeout, read_timeout, max_retries ... still apply).
	opts.ContextTimeoutEnabled = true
	opts.DialerRetries = 2
	if opts.DialTimeout == 0 {
		opts.DialTimeout = time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", opts.Addr, err)
	}
	return c, nil
}

// postgresName describes a PostgreSQL URL for messages: its host and
// database, without user, password or parameters.
func postgresName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "the PostgreSQL database"
	}
	return "the PostgreSQL database " + strings.TrimPrefix(u.Path, "/") + " on " + u.Host
}

// users returns the store of password-grant users: the database's, or
// memory.
func (s *storage) users() passworduser.Store {
	if s.db != nil {
		return s.db.Users()
	}
	return passworduser.NewMemoryStore()
}

// startInvalidations starts receiving the invalidations other instances
// publish, dropping the cached copies they name; without Redis or caches
// it does nothing. Close stops it.
func (s *storage) startInvalidations(ctx context.Context) {
	if s.inv == nil {
		return
	}
	ctx, s.stopInv = context.WithCancel(context.WithoutCancel(ctx))
	s.invDone = make(chan struct{})
	go func() {
		defer close(s.invDone)
		_ = s.inv.Run(ctx, s.drop)
	}()
}

// drop forgets the cached copy of the API key, HMAC credential or account
// id, or every cached copy when id is "", reloads the IP rules for ""
// and redisstore.IPRulesChanged, and forgets the cached denylist answers
// for "" and redisstore.TokensRevoked. The broadcast does not say which
// kind id is, so it drops id from every cache: an account ID that equals
// a key ID would only cost one read.
func (s *storage) drop(id string) {
	if id == "" || id == redisstore.IPRulesChanged {
		s.ipCheck.Invalidate()
	}
	if (id == "" || id == redisstore.TokensRevoked) && s.denylist != nil {
		s.denylist.Invalidate()
	}
	if id == "" {
		s.keys.InvalidateAll()
		s.creds.InvalidateAll()
		s.accounts.InvalidateAll()
		return
	}
	s.keys.Invalidate(id)
	s.creds.Invalidate(id)
	s.accounts.Invalidate(id)
}

// close stops the invalidation receiver and closes Redis and the
// database. It is not safe for concurrent use; a second call does
// nothing.
func (s *storage) close() error {
	if s.stopInv != nil {
		s.stopInv()
		<-s.invDone
		s.stopInv = nil
	}
	var errs []error
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
		s.redis = nil
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	return errors.Join(errs...)
}
