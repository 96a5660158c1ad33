package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/auditprom"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/idempotency"
	"github.com/keygate/keygate/internal/seal"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/ratelimit"
	"github.com/keygate/keygate/redisstore"
	"github.com/keygate/keygate/sqlstore"
)

// serveConfig is everything serve runs with, from its flags (parseServe)
// or its configuration file: a plain value, validated, that building the
// server turns into running pieces.
type serveConfig struct {
	addr           string
	accessTokenTTL time.Duration
	issuer         string // empty: http://<listening address>
	audience       string
	// authorities are the host[:port] forms clients sign: set from the
	// listening address (serveConfig.withAddress), plus extraAuthorities
	// (--authority).
	authorities      []string
	extraAuthorities []string
	demoRateLimit    ratelimit.Policy
	auditFile        string // empty: audit events in the database (in memory with --db memory) only
	noAudit          bool   // no audit events at all (for load comparisons)
	// tlsTerminated tells the console that a proxy in front terminates
	// HTTPS (console.Config.TLSTerminated).
	tlsTerminated bool
	store         storeOptions
	// noDemo leaves out the demo data (made on a new database) and the
	// demo's routes: with a configuration file that does not say
	// demo: true.
	noDemo bool
	// tls, when set, makes serve answer TLS with these files.
	tls *serveTLS
	// httpsOnly refuses credentials over plain HTTP
	// (middleware.Config.HTTPSOnly): the API routes, the gateway's and
	// the OAuth endpoints.
	httpsOnly bool
	// routes are the gateway's (see gatewayRoutes): answered at
	// /auth/verify, and proxied when they have an upstream.
	routes []serveRoute
	// trustedProxies are the proxies whose forwarding headers give the
	// client's address and scheme (ipbind.Config.TrustedProxies), and
	// whose forward-auth questions the gateway answers. Empty means none,
	// or the loopback addresses when there are routes (see
	// clientIPResolver).
	trustedProxies []string
	// packages are the service's packages; nil means the retail demo's
	// (demoPackages). rateLimits are the live-mode rate limits per package.
	packages   *access.Packages
	rateLimits map[string]ratelimit.Policy
	// limiterNow is the clock of the in-memory limiter (without Redis);
	// nil means time.Now. Tests freeze it.
	limiterNow func() time.Time
	// passwordParams are the Argon2id costs of new password hashes; zero
	// means password.DefaultParams. Tests make them cheap.
	passwordParams password.Params
}

// servicePackages returns the packages the server applies: the
// configuration file's, or the retail demo's.
func (c *serveConfig) servicePackages() *access.Packages {
	if c.packages != nil {
		return c.packages
	}
	return demoPackages
}

// app is the reference server's components, on the stores of a storage.
type app struct {
	audit    *audit.Writer
	fileSink *audit.FileSink // --audit-file, closed after the writer
	oneTime  *jwt.OneTimeTokens
	keys     *apikey.Manager
	accounts *account.Manager
	hmacs    *httpsig.Manager
	users    *oauth.PasswordUsers
	admin    *admin.Handler
	// console is the admin console at consolePrefix, and consoleUsers
	// the people who may sign in to it.
	console      *console.Handler
	consoleUsers *console.Users
	jwks         *jwt.KeySet
	auth         *middleware.Authenticator
	oauth        *oauth.Server
	handler      http.Handler
	store        *storage
	stderr       io.Writer // operational messages, never a secret
	// metrics and its registry serve GET /metrics; nil with --no-audit.
	metrics         *auditprom.Metrics
	metricsRegistry *prometheus.Registry
	// auditErrors rate-limits the messages about a failing audit sink.
	auditErrors rateLimitedLog

	// gateway answers forward-auth questions and proxies the routes of
	// the configuration file; nil without routes. proxying: some route
	// has an upstream.
	gateway  *gateway.Gateway
	proxying bool
}

// demo is what serve prints on its first start: the demo account's keys
// and user, and the console's first operator.
type demo struct {
	secret, publishable apikey.Key
	primeSecret         apikey.Key
	admin               apikey.Key // every admin permission, for /admin/v1 and the CLI
	user, password      string
	hmacSecret          httpsig.Secret
	// operatorPassword is the password of the console's first operator,
	// consoleOperator.
	operatorPassword string
}

// demoPackages are the retail demo's packages, DISCOVER < ASSIST < GO < GROW < PRIME.
var demoPackages = retailPackages()

// demoPermissions are the demo keys' permissions (and the scope tokens a
// client may ask for): every permission of the retail packages, so that the
// account's package decides which routes a key reaches.
var demoPermissions = demoPackages.Permissions(packagePrime)

// demoAccount is the demo retailer's account; creating it is the lock
// that elects the one instance that creates the demo data.
const demoAccount = "acct_demo"

// primeAccount is the demo account with the PRIME package and the demo
// rate limit.
const primeAccount = "acct_prime"

// adminAccount owns the admin key the server prints at start.
const adminAccount = "acct_admin"

// adminPermissions are the admin key's: everything. The admin API lets a
// caller give only the permissions it holds, so the key that creates the
// service's keys holds them all: on its account's package (adminPackage,
// the top one) every permission of the packages, and admin:* (read, write
// and review), which no package includes.
var adminPermissions = []string{"*:*"}

// adminPackage is the package of the admin account: the top one, so that
// the admin key may give every permission of every package.
const adminPackage = packagePrime

// dbAuditQueue bounds the audit events waiting in memory for the
// database (while it is down, say): beyond it, request events are dropped,
// counted, and recorded as a gap marker; management events wait.
const dbAuditQueue = 32768

// newApp builds the server for cfg on the stores of st. stderr receives
// operational messages, never a secret. The demo data is made or found by
// bootstrap, which must be called next. On error, what was built is
// closed again.
func newApp(ctx context.Context, cfg serveConfig, st *storage, stderr io.Writer) (_ *app, err error) {
	a := &app{store: st, stderr: stderr}
	defer func() {
		if err != nil {
			a.close(context.WithoutCancel(ctx))
		}
	}()
	aud, err := a.buildAudit(cfg)
	if err != nil {
		return nil, err
	}
	onChange := a.changeFunc()
	ss, err := a.buildStateStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tk, err := a.buildCredentials(cfg, ss, onChange)
	if err != nil {
		return nil, err
	}
	limiter := sharedLimiter(ss.limiter, cfg.limiterNow)
	trusted, err := clientIPResolver(cfg)
	if err != nil {
		return nil, err
	}
	if err := a.buildAuth(cfg, tk, aud, limiter, trusted); err != nil {
		return nil, err
	}
	if err := a.buildGateway(cfg, trusted); err != nil {
		return nil, err
	}
	if err := a.buildOAuth(tk, onChange, limiter); err != nil {
		return nil, err
	}
	if err := a.buildAdmin(cfg, tk, aud, ss.idempotency, onChange); err != nil {
		return nil, err
	}
	if err := a.newConsole(cfg, aud.history, aud.requestPolicy, limiter); err != nil {
		return nil, err
	}
	a.handler = a.routes(!cfg.noDemo)
	return a, nil
}

// auditSetup is where the app's audit events go: history answers the
// admin API's and the console's queries (nil without auditing), and
// requestPolicy says what happens to request events when the queue is
// full.
type auditSetup struct {
	history       audit.History
	requestPolicy audit.Policy
}

// buildAudit makes the audit writer (a.audit, nil with --no-audit) on its
// sinks, and the metrics served at GET /metrics.
func (a *app) buildAudit(cfg serveConfig) (auditSetup, error) {
	aud := auditSetup{requestPolicy: audit.Block}
	if cfg.noAudit {
		return aud, nil
	}
	st := a.store
	var sinks []audit.Sink
	queue := 0
	if st.db != nil {
		// The database keeps the history. While it is down, events wait
		// in a bounded queue; request events beyond it are dropped (and
		// counted) rather than holding requests.
		sinks = append(sinks, st.db.Audit())
		aud.history = st.db.Audit()
		aud.requestPolicy, queue = audit.Drop, dbAuditQueue
	}
	switch {
	case cfg.auditFile != "":
		var err error
		if a.fileSink, err = audit.OpenFile(audit.FileConfig{Path: cfg.auditFile}); err != nil {
			return aud, err
		}
		sinks = append(sinks, a.fileSink)
		if aud.history == nil {
			aud.history = a.fileSink
		}
	case st.db == nil:
		mem := audit.NewMemorySink(10000)
		sinks = append(sinks, mem)
		aud.history = mem
	}
	a.audit = audit.NewWriter(audit.WriterConfig{Sinks: sinks, QueueSize: queue, OnError: a.auditError})
	// Request decisions and latency, and the audit writer's counters, for
	// GET /metrics. --no-audit turns them off too, so that it measures
	// the request path with no bookkeeping at all.
	a.metricsRegistry = prometheus.NewRegistry()
	var err error
	if a.metrics, err = auditprom.New(auditprom.Config{Registerer: a.metricsRegistry}); err != nil {
		return aud, err
	}
	return aud, a.metrics.WatchWriter(a.audit)
}

// changeFunc returns what management actions are reported to: the audit
// log and, with Redis, the other instances, which drop their cached
// copies.
func (a *app) changeFunc() keygate.ChangeFunc {
	if a.store.inv != nil {
		return keygate.MultiChangeFunc(a.recordChange, a.store.inv.Publish)
	}
	return a.recordChange
}

// stateStores are the stores of the app's state besides the credentials:
// the database's (or memory's), with what instances must agree on at once
// in Redis when there is one.
type stateStores struct {
	accounts    account.Store // nil: in memory
	refresh     jwt.RefreshStore
	denylist    jwt.Denylist
	oneTime     jwt.OneTimeStore
	idempotency idempotency.Store
	nonces      httpsig.NonceStore
	limiter     ratelimit.Limiter // nil: in memory
}

// buildStateStores returns the state stores on a.store, and loads (or
// makes) the signing keys into a.jwks.
func (a *app) buildStateStores(ctx context.Context, cfg serveConfig) (stateStores, error) {
	st := a.store
	ss := stateStores{refresh: jwt.NewMemoryRefreshStore(), oneTime: jwt.NewMemoryOneTimeStore()}
	var err error
	if st.db != nil {
		ss.accounts = st.accounts
		ss.refresh = st.db.RefreshTokens()
		ss.denylist = st.db.Denylist()
		ss.oneTime = st.db.OneTimeTokens()
		ss.idempotency = st.db.Idempotency(sqlstore.IdempotencyConfig{})
		if a.jwks, err = jwt.LoadSharedKeys(ctx, jwt.SharedKeysConfig{Store: st.db.SigningKeys(), MasterKey: st.masterKey}); err != nil {
			return ss, st.masterKeyError(err)
		}
	} else if a.jwks, err = memoryKeySet(); err != nil {
		return ss, err
	}
	if st.redis != nil {
		if err := ss.useRedis(st.redisCfg, cfg.accessTokenTTL); err != nil {
			return ss, err
		}
	}
	if st.db != nil {
		// A token seen again is not a round trip to the denylist on
		// every request: its answer is kept for the cache TTL, and
		// forgotten at once on a revocation here or, through the
		// broadcast, on another instance (drop).
		st.denylist = jwt.NewCachedDenylist(ss.denylist, jwt.DenylistCacheConfig{TTL: st.cacheTTL})
		ss.denylist = st.denylist
	}
	return ss, nil
}

// useRedis moves to Redis what every instance must agree on at once.
func (ss *stateStores) useRedis(redisCfg redisstore.Config, accessTokenTTL time.Duration) (err error) {
	// Redis holds what every instance must agree on at once: nonces
	// (replays), one-time tokens, revoked access tokens and rate limits.
	if ss.nonces, err = redisstore.NewNonceStore(redisCfg); err != nil {
		return err
	}
	if ss.oneTime, err = redisstore.NewOneTimeStore(redisCfg); err != nil {
		return err
	}
	denyCfg := redisCfg
	denyCfg.SubjectTTL = max(redisstore.DefaultSubjectTTL, accessTokenTTL+jwt.RevocationMargin)
	if ss.denylist, err = redisstore.NewDenylist(denyCfg); err != nil {
		return err
	}
	ss.limiter, err = redisstore.NewLimiter(redisCfg)
	return err
}

// memoryKeySet returns a key set with a fresh signing key, for --db
// memory.
func memoryKeySet() (*jwt.KeySet, error) {
	signing, err := jwt.GenerateKey("kg-"+rand.Text()[:8], jwt.RS256)
	if err != nil {
		return nil, err
	}
	return jwt.NewKeySet(signing)
}

// tokenPieces are what issues and verifies access tokens, refresh tokens
// and signatures.
type tokenPieces struct {
	issuer     *jwt.Issuer
	verifier   *jwt.Verifier
	refresh    *jwt.RefreshTokens
	signatures *httpsig.Verifier
}

// buildCredentials makes the credential managers (a.keys, a.accounts,
// a.hmacs, a.users, a.oneTime) on ss and st, and the token pieces.
func (a *app) buildCredentials(cfg serveConfig, ss stateStores, onChange keygate.ChangeFunc) (tk tokenPieces, err error) {
	st := a.store
	keyConfig := apikey.Config{OnChange: onChange}
	hmacConfig := httpsig.Config{MasterKey: st.masterKey, OnChange: onChange}
	if st.db != nil {
		keyConfig.Store = st.keys
		hmacConfig.Store = st.creds
	}
	if a.keys, err = apikey.NewManager(keyConfig); err != nil {
		return tk, err
	}
	if tk.issuer, err = jwt.NewIssuer(jwt.IssuerConfig{Keys: a.jwks, Issuer: cfg.issuer, Audience: cfg.audience, AccessTTL: cfg.accessTokenTTL}); err != nil {
		return tk, err
	}
	if tk.verifier, err = jwt.NewVerifier(jwt.VerifierConfig{Keys: a.jwks, Issuer: cfg.issuer, Audience: cfg.audience, Denylist: ss.denylist}); err != nil {
		return tk, err
	}
	// A revoked or reused family takes its access tokens with it.
	if tk.refresh, err = jwt.NewRefreshTokens(jwt.RefreshConfig{Store: ss.refresh, OnChange: onChange, Denylist: tk.verifier.Denylist(), AccessTokenTTL: cfg.accessTokenTTL}); err != nil {
		return tk, err
	}
	if a.users, err = oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Store: st.users(), Params: cfg.passwordParams}); err != nil {
		return tk, err
	}
	// Every request and every OAuth client looks up its account (through
	// the cache, with a database): a disabled account's credentials are
	// refused, and the account's package is the one that applies.
	if a.accounts, err = account.NewManager(account.Config{Store: ss.accounts, OnChange: onChange, Packages: cfg.servicePackages().Names()}); err != nil {
		return tk, err
	}
	// HMAC secrets are sealed under the master key: the key file's (or
	// $KEYGATE_MASTER_KEY's) with a database, a fresh one in memory.
	if a.hmacs, err = httpsig.NewManager(hmacConfig); err != nil {
		return tk, err
	}
	if tk.signatures, err = httpsig.NewVerifier(httpsig.VerifierConfig{Credentials: a.hmacs, Authorities: cfg.authorities, Nonces: ss.nonces}); err != nil {
		return tk, err
	}
	a.oneTime, err = jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: ss.oneTime})
	return tk, err
}

// sharedLimiter returns the one limiter for the rate limits, the failed
// authentications per address (the protected routes' and the OAuth
// endpoints') and the failed passwords per user name: Redis's when
// instances share it, else one in memory on the clock now (nil:
// time.Now).
func sharedLimiter(redis ratelimit.Limiter, now func() time.Time) ratelimit.Peeker {
	if l, ok := redis.(ratelimit.Peeker); ok {
		return l
	}
	return ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: now})
}

// buildAuth makes the Authenticator (a.auth) that guards every API route,
// reading client addresses with clientIP.
func (a *app) buildAuth(cfg serveConfig, tk tokenPieces, aud auditSetup, limiter ratelimit.Peeker, clientIP *ipbind.Resolver) (err error) {
	a.auth, err = middleware.New(middleware.Config{
		APIKeys: a.keys, Tokens: tk.verifier, Signatures: tk.signatures, OneTime: a.oneTime, Accounts: a.accounts,
		// A token is only as good as the key (or HMAC credential) that
		// obtained it: read through the same cache as the keys.
		ClientKeys: a.keys, ClientCredentials: a.hmacs,
		Audit: middleware.AuditConfig{Writer: a.audit, Metrics: a.metricsOrNil(), Policy: aud.requestPolicy},
		Access: middleware.AccessConfig{
			IPRules:   a.store.ipCheck, // the service-wide and account IP rules (/admin/v1/ip-rules)
			Packages:  cfg.servicePackages(),
			Limiter:   limiter,
			RateLimit: rateLimits(cfg.demoRateLimit, cfg.rateLimits),
			ClientIP:  clientIP,
		},
		HTTPSOnly: cfg.httpsOnly,
	})
	return err
}

// rateLimits returns the rate limit of a principal. Test mode is
// unlimited, except for the PRIME demo account, which has a live-like
// limit (demo) to show 429s: one budget for the whole account (its keys,
// HMAC credentials and tokens; the middleware counts per account). Live
// mode has its package's limit from perPackage, if any.
func rateLimits(demo ratelimit.Policy, perPackage map[string]ratelimit.Policy) func(keygate.Principal) ratelimit.Policy {
	return func(p keygate.Principal) ratelimit.Policy {
		if p.Account == primeAccount {
			return demo
		}
		if p.Mode == keygate.ModeLive {
			return perPackage[p.Package]
		}
		return ratelimit.Policy{}
	}
}

// buildOAuth makes the OAuth endpoints (a.oauth). They are guarded by the
// same Authenticator: one failure budget per address, the client's rate
// limit, one origin check.
func (a *app) buildOAuth(tk tokenPieces, onChange keygate.ChangeFunc, limiter ratelimit.Peeker) (err error) {
	a.oauth, err = oauth.NewServer(oauth.Config{Clients: a.keys, Issuer: tk.issuer, Verifier: tk.verifier, Refresh: tk.refresh, Users: a.users,
		Accounts: a.accounts, OnChange: onChange, Guard: a.auth, Limiter: limiter})
	return err
}

// buildAdmin makes the admin API (a.admin).
func (a *app) buildAdmin(cfg serveConfig, tk tokenPieces, aud auditSetup, idem idempotency.Store, onChange keygate.ChangeFunc) (err error) {
	a.admin, err = admin.New(admin.Config{
		Prefix: adminPrefix, Auth: a.auth, Accounts: a.accounts, Keys: a.keys, HMAC: a.hmacs,
		Denylist: tk.verifier.Denylist(), Refresh: tk.refresh, AccessTokenTTL: cfg.accessTokenTTL,
		Audit: aud.history, Idempotency: idem,
		// IP rules: this instance reloads them at once, the others when
		// the broadcast (onChange) reaches them.
		IPRules: a.store.ipRules, OnChange: keygate.MultiChangeFunc(onChange, a.store.ipCheck.OnChange),
		SeparateReview: true,
	})
	return err
}

// masterKeyError explains a failure to load the shared signing keys: when
// they do not open, the master key is not the one the database was
// created with, which start must refuse rather than make new keys. A key
// file this start created for a database that already had keys is
// removed again, so that the next start does not take it for the real
// one.
func (s *storage) masterKeyError(err error) error {
	if !errors.Is(err, seal.ErrOpen) {
		return fmt.Errorf("signing keys: %w", err)
	}
	src := s.masterKeySource
	if s.masterKeyCreated {
		os.Remove(src.path)
		return fmt.Errorf("%s holds keys sealed under a master key, but there was no master key file %s: "+
			"give the one it was created with (--master-key-file or $%s)", s.name, src.path, envMasterKey)
	}
	return fmt.Errorf("the master key from %s does not open the keys in %s: it is not the master key the database was created with "+
		"(give that one with --master-key-file or $%s; nothing was changed)", src, s.name, envMasterKey)
}

// startupNotes tells stderr where the keys live and what a restart
// keeps, never a secret.
func (a *app) startupNotes(created bool, stderr io.Writer) {
	st := a.store
	if st.db == nil {
		return
	}
	if st.masterKeyCreated {
		fmt.Fprintf(stderr, "keygate: created the master key file %s: keep it with the database, whose HMAC secrets and signing keys do not open without it\n", st.masterKeySource)
	}
	if created {
		fmt.Fprintf(stderr, "keygate: created the demo keys in %s; they are shown only this once\n", st.name)
	}
	switch {
	case st.inv != nil:
		fmt.Fprintf(stderr, "keygate: keys, credentials, accounts and token revocations cached for %v; revocations reach other instances through Redis pub/sub\n", st.cacheTTL)
	default:
		fmt.Fprintf(stderr, "keygate: keys, credentials, accounts and token revocations cached for %v: a revocation on another instance takes effect here within that time (--redis broadcasts it at once)\n", st.cacheTTL)
	}
}

// rateLimitedLog writes a message at most once per interval.
type rateLimitedLog struct {
	mu   sync.Mutex
	last time.Time
}

// auditLogInterval is how often a failing audit sink is reported.
const auditLogInterval = 10 * time.Second

// allow reports whether a message may be written now.
func (l *rateLimitedLog) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < auditLogInterval {
		return false
	}
	l.last = now
	return true
}

// auditError reports a failing audit sink on stderr, at most every ten
// seconds: the writer keeps the events and retries.
func (a *app) auditError(sink int, err error) {
	if a.auditErrors.allow(time.Now()) {
		fmt.Fprintf(a.stderr, "keygate: audit: writing events failed (kept in memory and retried): %v\n", err)
	}
}

// metricsOrNil returns a.metrics as an audit.Metrics: nil when there are
// none (a nil *auditprom.Metrics in the interface would not be nil).
func (a *app) metricsOrNil() audit.Metrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

// recordChange writes management actions to the audit log, from the
// start: the demo data's accounts, keys and credential are created by the
// actor "system" (systemActor), so that every key's history starts with
// its creation. A reused refresh token is also reported on stderr.
func (a *app) recordChange(ctx context.Context, c keygate.Change) {
	if c.Action == keygate.ActionRefreshReuse {
		fmt.Fprintf(a.stderr, "keygate: refresh token reuse detected: client %s, subject %s; the session is revoked\n", c.KeyID, c.Subject)
	}
	if a.audit != nil {
		a.audit.RecordChange(ctx, c)
	}
}

// routes returns the reference server's routes; with demo, the retail
// demo's too.
func (a *app) routes(demo bool) http.Handler {
	// Every request but the health check is audited.
	outer := http.NewServeMux()
	outer.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if a.metricsRegistry != nil {
		// Outside Audit: scrapes are neither audited nor counted.
		outer.Handle("GET /metrics", promhttp.HandlerFor(a.metricsRegistry, promhttp.HandlerOpts{}))
	}
	// The console: outside Audit, since its page views are no API
	// traffic (they would count in its own charts). It audits its
	// sign-ins, sign-outs and failed sign-ins itself, and each of its
	// actions, made through the admin API's Do, is a management event
	// like one made over /admin/v1.
	outer.Handle(consolePrefix+"/", a.console)
	mux := http.NewServeMux()
	api := a.auth.Audit(mux)
	if a.gateway != nil {
		// The gateway's handlers audit each decision themselves: they
		// stay outside api's Audit.
		outer.Handle(envoyPrefix, a.gateway.ForwardAuth())
		outer.Handle(envoyPrefix+"/", a.gateway.ForwardAuth())
	}
	if a.proxying {
		outer.Handle("/", serverOrProxy(mux, api, a.gateway.Proxy()))
	} else {
		outer.Handle("/", api)
	}
	// The admin API: its own routes, each behind an admin permission.
	mux.Handle(adminPrefix+"/", a.admin)
	// The retail demo: every route with the package and permission its
	// package table implies, in one place.
	demoRoutes := []middleware.Route{
		{Pattern: "GET /v1/stores", Rule: middleware.Rule{Permission: "stores:read", Package: packageDiscover}, Handler: demoRoute("stores")},
		{Pattern: "GET /v1/products", Rule: middleware.Rule{Permission: "products:read", Package: packageDiscover, Publishable: true}, Handler: demoRoute("products")},
		{Pattern: "POST /v1/products", Rule: middleware.Rule{Permission: "products:write", Package: packageDiscover}, Handler: demoRoute("product created")},
		{Pattern: "POST /v1/chat/messages", Rule: middleware.Rule{Permission: "chat:write", Package: packageAssist}, Handler: demoRoute("message sent")},
		{Pattern: "POST /v1/offers", Rule: middleware.Rule{Permission: "offers:write", Package: packageGo}, Handler: demoRoute("offer created")},
		{Pattern: "POST /v1/checkout/start", Rule: middleware.Rule{Permission: "checkout:start", Package: packageGrow}, Handler: http.HandlerFunc(a.checkoutStart)},
		{Pattern: "POST /v1/checkout/confirm", Rule: middleware.Rule{OneTime: "checkout:confirm"}, Handler: demoRoute("checkout confirmed")},
		{Pattern: "GET /v1/analytics/export", Rule: middleware.Rule{Permission: "analytics:export", Package: packagePrime}, Handler: demoRoute("analytics export")},
	}
	if demo {
		a.auth.Mount(mux, demoRoutes)
	}
	mux.Handle("GET /v1/whoami", a.auth.Require(middleware.Rule{Publishable: true})(http.HandlerFunc(whoami)))
	mux.Handle("POST /v1/echo", a.auth.Require(middleware.Rule{Publishable: true})(http.HandlerFunc(echo)))
	mux.Handle("POST /oauth/token", a.oauth.TokenHandler())
	mux.Handle("POST /oauth/revoke", a.oauth.RevocationHandler())
	mux.Handle("POST /oauth/introspect", a.oauth.IntrospectionHandler())
	mux.Handle("GET /.well-known/jwks.json", a.jwks)
	return outer
}

// echo answers with the caller and the SHA-256 of the body the handler
// received, so that a test can see what reached the handler.
func echo(w http.ResponseWriter, r *http.Request) {
	p, _ := keygate.FromContext(r.Context())
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpsig.DefaultMaxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body_too_large", "error_description": "the body is over 1 MiB"})
		return
	}
	sum := sha256.Sum256(body)
	writeJSON(w, http.StatusOK, map[string]any{"principal": p, "body_sha256": hex.EncodeToString(sum[:])})
}

// demoRoute answers a demo route with what it did and for whom.
func demoRoute(what string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"ok": what, "account": p.Account, "package": p.Package})
	})
}

// checkoutStart issues the one-time token that POST /v1/checkout/confirm
// takes, bound to the caller's account and to that route.
func (a *app) checkoutStart(w http.ResponseWriter, r *http.Request) {
	p, _ := keygate.FromContext(r.Context())
	token, rec, err := a.oneTime.Issue(r.Context(), jwt.OneTimeParams{
		Purpose: "checkout:confirm", Account: p.Account, KeyID: p.KeyID, Subject: p.Subject, Mode: p.Mode,
		Method: http.MethodPost, Path: "/v1/checkout/confirm",
	})
	if errors.Is(err, jwt.ErrOneTimeQuota) {
		// This credential holds too many unredeemed tokens: it alone is
		// refused, until some are redeemed or expire.
		middleware.RefuseRequest(r.Context(), "too_many_requests")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too_many_requests", "error_description": "this credential holds too many unredeemed one-time tokens; redeem them or wait for them to expire"})
		return
	}
	if err != nil {
		middleware.RefuseRequest(r.Context(), middleware.CodeTemporarilyUnavailable)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": middleware.CodeTemporarilyUnavailable, "error_description": "the one-time token could not be issued"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"one_time_token": token, "expires_in": int(rec.ExpiresAt.Sub(rec.IssuedAt) / time.Second)})
}

// close tears the app down in order: the audit events are flushed and
// the audit file closed, then the API keys' last-used times are flushed
// (apikey.Manager.Close).
func (a *app) close(ctx context.Context) error {
	var errs []error
	if a.audit != nil {
		err := a.audit.Close(ctx)
		if a.fileSink != nil {
			err = errors.Join(err, a.fileSink.Close())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("audit: %w", err))
		}
	}
	if a.keys != nil {
		errs = append(errs, a.keys.Close(ctx))
	}
	return errors.Join(errs...)
}
