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
	"sync/atomic"
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
	"github.com/keygate/keygate/hmac"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/ratelimit"
)

// options are serve's settings, from its flags.
type options struct {
	addr           string
	accessTokenTTL time.Duration
	issuer         string // empty: http://<listening address>
	audience       string
	authorities    []string // the host[:port] forms clients sign (set from the listening address)
	demoRateLimit  ratelimit.Policy
	auditFile      string // empty: audit events in memory only
	noAudit        bool   // no audit events at all (for load comparisons)
}

// app is the reference server's components, on the in-memory stores.
type app struct {
	audit    *audit.Writer
	sink     audit.Sink // closed after the writer
	oneTime  *jwt.OneTimeTokens
	keys     *apikey.Manager
	accounts *account.Manager
	hmacs    *hmac.Manager
	admin    *admin.Handler
	jwks     *jwt.KeySet
	auth     *middleware.Authenticator
	oauth    *oauth.Server
	handler  http.Handler
	stderr   io.Writer // operational messages, never a secret
	// metrics and its registry serve GET /metrics; nil with --no-audit.
	metrics         *auditprom.Metrics
	metricsRegistry *prometheus.Registry
	serving         atomic.Bool // set when the demo bootstrap is done
}

// demo is what serve prints on start: the demo account's keys and user.
type demo struct {
	secret, publishable apikey.Key
	primeSecret         apikey.Key
	admin               apikey.Key // every admin permission, for /admin/v1 and the CLI
	user, password      string
	hmacSecret          hmac.Secret
}

// demoTiers are the brief's packages, DISCOVER < ASSIST < GO < GROW < PRIME.
var demoTiers = access.RetailTiers()

// demoPermissions are the demo keys' permissions (and the scope tokens a
// client may ask for): every permission of the retail tiers, so that the
// account's package decides which routes a key reaches.
var demoPermissions = demoTiers.Permissions(access.TierPrime)

// primeAccount is the demo account with the PRIME package and the demo
// rate limit.
const primeAccount = "acct_prime"

// adminAccount owns the admin key the server prints at start.
const adminAccount = "acct_admin"

// adminPermissions are the admin key's: read, write and review (approve
// live keys) through the admin API.
var adminPermissions = []string{"admin:read", "admin:write", "admin:review"}

// newApp builds the server for opts and creates the demo account. stderr
// receives operational messages, never a secret.
func newApp(ctx context.Context, opts options, stderr io.Writer) (*app, demo, error) {
	a := &app{}
	var err error
	switch {
	case opts.noAudit:
		// no writer: the middleware skips auditing entirely
	case opts.auditFile != "":
		if a.sink, err = audit.OpenFile(audit.FileConfig{Path: opts.auditFile}); err != nil {
			return nil, demo{}, err
		}
	default:
		a.sink = audit.NewMemorySink(10000)
	}
	if a.sink != nil {
		a.audit = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{a.sink}})
		// Request decisions and latency, and the audit writer's counters,
		// for GET /metrics. --no-audit turns them off too, so that it
		// measures the request path with no bookkeeping at all.
		a.metricsRegistry = prometheus.NewRegistry()
		if a.metrics, err = auditprom.New(auditprom.Config{Registerer: a.metricsRegistry}); err != nil {
			return nil, demo{}, err
		}
		if err := a.metrics.WatchWriter(a.audit); err != nil {
			return nil, demo{}, err
		}
	}
	a.stderr = stderr
	if a.keys, err = apikey.NewManager(apikey.Config{OnChange: a.recordChange}); err != nil {
		return nil, demo{}, err
	}
	signing, err := jwt.GenerateKey("kg-"+rand.Text()[:8], jwt.RS256)
	if err != nil {
		return nil, demo{}, err
	}
	if a.jwks, err = jwt.NewKeySet(signing); err != nil {
		return nil, demo{}, err
	}
	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: a.jwks, Issuer: opts.issuer, Audience: opts.audience, AccessTTL: opts.accessTokenTTL})
	if err != nil {
		return nil, demo{}, err
	}
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: a.jwks, Issuer: opts.issuer, Audience: opts.audience})
	if err != nil {
		return nil, demo{}, err
	}
	refresh, err := jwt.NewRefreshTokens(jwt.RefreshConfig{
		Store:    jwt.NewMemoryRefreshStore(),
		OnChange: a.recordChange,
	})
	if err != nil {
		return nil, demo{}, err
	}
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{})
	if err != nil {
		return nil, demo{}, err
	}
	if a.oauth, err = oauth.NewServer(oauth.Config{Clients: a.keys, Issuer: issuer, Verifier: verifier, Refresh: refresh, Users: users, OnChange: a.recordChange}); err != nil {
		return nil, demo{}, err
	}
	// HMAC secrets are sealed under a master key; in memory, a fresh one.
	masterKey := make([]byte, hmac.MasterKeyLen)
	rand.Read(masterKey)
	if a.hmacs, err = hmac.NewManager(hmac.Config{MasterKey: masterKey, OnChange: a.recordChange}); err != nil {
		return nil, demo{}, err
	}
	signatures, err := hmac.NewVerifier(hmac.VerifierConfig{Credentials: a.hmacs, Authorities: opts.authorities})
	if err != nil {
		return nil, demo{}, err
	}
	if a.oneTime, err = jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: jwt.NewMemoryOneTimeStore()}); err != nil {
		return nil, demo{}, err
	}
	limit := opts.demoRateLimit
	if a.auth, err = middleware.New(middleware.Config{
		APIKeys: a.keys, Tokens: verifier, Signatures: signatures, OneTime: a.oneTime,
		Audit: middleware.AuditConfig{Writer: a.audit, Metrics: a.metricsOrNil()},
		Access: middleware.AccessConfig{
			Tiers: demoTiers,
			// Test mode is unlimited, except for the PRIME demo account,
			// which has a live-like limit to show 429s.
			RateLimit: func(p keygate.Principal) ratelimit.Policy {
				if p.Account == primeAccount {
					return limit
				}
				return ratelimit.Policy{}
			},
		},
	}); err != nil {
		return nil, demo{}, err
	}

	// The demo's accounts, so that the admin API can mint keys for them.
	if a.accounts, err = account.NewManager(account.Config{OnChange: a.recordChange}); err != nil {
		return nil, demo{}, err
	}
	for _, acct := range []account.CreateParams{
		{ID: "acct_demo", Name: "Demo retailer", Package: "GO"},
		{ID: primeAccount, Name: "Demo retailer on PRIME", Package: access.TierPrime},
		{ID: adminAccount, Name: "keygate administrators"},
	} {
		if _, err := a.accounts.Create(ctx, acct); err != nil {
			return nil, demo{}, err
		}
	}
	var history audit.History
	if h, ok := a.sink.(audit.History); ok {
		history = h
	}
	if a.admin, err = admin.New(admin.Config{
		Prefix: adminPrefix, Auth: a.auth, Accounts: a.accounts, Keys: a.keys, HMAC: a.hmacs,
		Denylist: verifier.Denylist(), Refresh: refresh, AccessTokenTTL: opts.accessTokenTTL,
		Audit: history, OnChange: a.recordChange,
	}); err != nil {
		return nil, demo{}, err
	}

	var d demo
	d.publishable, d.secret, err = a.keys.CreatePair(ctx, apikey.CreateParams{
		Account:     "acct_demo",
		Mode:        keygate.ModeTest,
		Name:        "demo",
		Package:     "GO",
		Stores:      []string{"store_1", "store_2"},
		Permissions: demoPermissions,
	})
	if err != nil {
		return nil, demo{}, err
	}
	if d.primeSecret, _, err = a.keys.Create(ctx, apikey.CreateParams{
		Account: primeAccount, Mode: keygate.ModeTest, Kind: keygate.KindSecret, Name: "prime demo", Package: access.TierPrime,
		Stores: []string{"store_1"}, Permissions: demoPermissions,
	}); err != nil {
		return nil, demo{}, err
	}
	if d.hmacSecret, _, err = a.hmacs.Create(ctx, hmac.CreateParams{
		Account: "acct_demo", Mode: keygate.ModeTest, Name: "demo", Package: "GO",
		Stores: []string{"store_1", "store_2"}, Permissions: demoPermissions,
	}); err != nil {
		return nil, demo{}, err
	}
	if d.admin, _, err = a.keys.Create(ctx, apikey.CreateParams{
		Account: adminAccount, Mode: keygate.ModeTest, Kind: keygate.KindSecret, Name: "admin (keygate serve)",
		Permissions: adminPermissions,
	}); err != nil {
		return nil, demo{}, err
	}
	d.user, d.password = "demo", rand.Text()
	if err := users.Add(ctx, d.user, d.password, oauth.User{Subject: "user_demo", Account: "acct_demo"}); err != nil {
		return nil, demo{}, err
	}
	a.handler = a.routes()
	a.serving.Store(true)
	return a, d, nil
}

// metricsOrNil returns a.metrics as an audit.Metrics: nil when there are
// none (a nil *auditprom.Metrics in the interface would not be nil).
func (a *app) metricsOrNil() audit.Metrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

// recordChange writes management actions to the audit log once the server
// is built: the demo keys minted at start are printed, not audited, so
// that the log holds what happened while serving. A reused refresh token
// is also reported on stderr.
func (a *app) recordChange(ctx context.Context, c keygate.Change) {
	if !a.serving.Load() {
		return
	}
	if c.Action == keygate.ActionRefreshReuse {
		fmt.Fprintf(a.stderr, "keygate: refresh token reuse detected: client %s, subject %s; the session is revoked\n", c.KeyID, c.Subject)
	}
	if a.audit != nil {
		a.audit.RecordChange(ctx, c)
	}
}

// routes returns the reference server's routes.
func (a *app) routes() http.Handler {
	// Every request but the health check is audited.
	outer := http.NewServeMux()
	outer.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if a.metricsRegistry != nil {
		// Outside Audit: scrapes are neither audited nor counted.
		outer.Handle("GET /metrics", promhttp.HandlerFor(a.metricsRegistry, promhttp.HandlerOpts{}))
	}
	mux := http.NewServeMux()
	outer.Handle("/", a.auth.Audit(mux))
	// The admin API: its own routes, each behind an admin permission.
	mux.Handle(adminPrefix+"/", a.admin)
	// The retail demo: every route with the package and permission the
	// brief's table implies, in one place.
	a.auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/stores", Rule: middleware.Rule{Permission: "stores:read", Tier: access.TierDiscover}, Handler: demoRoute("stores")},
		{Pattern: "GET /v1/products", Rule: middleware.Rule{Permission: "products:read", Tier: access.TierDiscover, Publishable: true}, Handler: demoRoute("products")},
		{Pattern: "POST /v1/products", Rule: middleware.Rule{Permission: "products:write", Tier: access.TierDiscover}, Handler: demoRoute("product created")},
		{Pattern: "POST /v1/chat/messages", Rule: middleware.Rule{Permission: "chat:write", Tier: access.TierAssist}, Handler: demoRoute("message sent")},
		{Pattern: "POST /v1/offers", Rule: middleware.Rule{Permission: "offers:write", Tier: access.TierGo}, Handler: demoRoute("offer created")},
		{Pattern: "POST /v1/checkout/start", Rule: middleware.Rule{Permission: "checkout:start", Tier: access.TierGrow}, Handler: http.HandlerFunc(a.checkoutStart)},
		{Pattern: "POST /v1/checkout/confirm", Rule: middleware.Rule{OneTime: "checkout:confirm"}, Handler: demoRoute("checkout confirmed")},
		{Pattern: "GET /v1/analytics/export", Rule: middleware.Rule{Permission: "analytics:export", Tier: access.TierPrime}, Handler: demoRoute("analytics export")},
	})
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, hmac.DefaultMaxBody))
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
	token, ttl, err := a.oneTime.Issue(r.Context(), jwt.OneTimeParams{
		Purpose: "checkout:confirm", Account: p.Account, KeyID: p.KeyID, Subject: p.Subject, Mode: p.Mode,
		Method: http.MethodPost, Path: "/v1/checkout/confirm",
	})
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "the one-time token could not be issued"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"one_time_token": token, "expires_in": int(ttl / time.Second)})
}

// close flushes the audit events and closes their sink.
func (a *app) close(ctx context.Context) error {
	if a.audit == nil {
		return nil
	}
	err := a.audit.Close(ctx)
	if c, ok := a.sink.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}
