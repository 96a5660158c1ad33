package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/redisstore"
	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/sqlstore"
)

// creds are the credentials serve writes for the load generators.
type creds struct {
	APIKey     string `json:"api_key"`
	Token      string `json:"token"`
	HMACKeyID  string `json:"hmac_key_id"`
	HMACSecret []byte `json:"hmac_secret"`
}

// serverConfig configures a load server.
type serverConfig struct {
	DB    string // a SQLite file, or a postgres:// URL
	Redis string // a redis:// URL for the nonces and the denylist; empty: nonces in memory, the denylist in DB
	Audit string // "off", "memory" or the audit file's path
}

// server is a load server's handler and what it must close.
type server struct {
	handler http.Handler
	creds   creds
	// Requests that reached each route. Every route counts, so that the
	// routes compared differ only by their check: the bare and floor
	// routes' counts are not printed.
	bareServed, floorServed, protected atomic.Int64
	closers                            []func(context.Context) error
}

// ok is the trivial handler served bare and protected.
func ok(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// maxNonces bounds the nonces one credential may hold: room for every
// signed request of a bounded load run.
const maxNonces = 1 << 21

// newServer opens the storage, creates an account with an API key, an
// HMAC credential and an access token, and builds the handler.
func newServer(ctx context.Context, cfg serverConfig) (_ *server, err error) {
	s := &server{}
	defer func() {
		if err != nil {
			s.close(context.WithoutCancel(ctx))
		}
	}()
	var db *sqlstore.DB
	if strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://") {
		db, err = postgres.Open(ctx, cfg.DB)
	} else {
		db, err = sqlite.Open(ctx, cfg.DB)
	}
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func(context.Context) error { return db.Close() })

	masterKey := make([]byte, httpsig.MasterKeyLen)
	rand.Read(masterKey)
	nonces := httpsig.NonceStore(httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: maxNonces, MaxPerKey: maxNonces}))
	// As in keygate serve: revocations in the database, or in Redis
	// when there is one.
	denylist := db.Denylist()
	if cfg.Redis != "" {
		opts, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			return nil, errors.New("-redis: not a valid redis:// URL")
		}
		client := redis.NewClient(opts)
		s.closers = append(s.closers, func(context.Context) error { return client.Close() })
		if err := client.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("redis does not answer: %w", err)
		}
		rcfg := redisstore.Config{Client: client, Prefix: "keygate-load:" + rand.Text()[:8] + ":", MaxNoncesPerKey: maxNonces}
		if nonces, err = redisstore.NewNonceStore(rcfg); err != nil {
			return nil, err
		}
		if denylist, err = redisstore.NewDenylist(rcfg); err != nil {
			return nil, err
		}
	}

	// As in keygate serve, the verifier reads the denylist through a
	// cache, which a revocation made here forgets at once.
	cachedDenylist := jwt.NewCachedDenylist(denylist, jwt.DenylistCacheConfig{})

	// The stores read through the caches keygate serve puts in front of
	// its database.
	keyStore := apikey.NewCachedStore(db.APIKeys(), apikey.CacheConfig{})
	credStore := httpsig.NewCachedCredentialStore(db.HMACCredentials(), httpsig.CacheConfig{})
	accounts, err := account.NewManager(account.Config{Store: account.NewCachedStore(db.Accounts(), account.CacheConfig{})})
	if err != nil {
		return nil, err
	}
	keys, err := apikey.NewManager(apikey.Config{Store: keyStore})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, keys.Close)
	hmacs, err := httpsig.NewManager(httpsig.Config{Store: credStore, MasterKey: masterKey})
	if err != nil {
		return nil, err
	}
	jwtKey, err := jwt.NewHMACKey("load", []byte(rand.Text()+rand.Text()))
	if err != nil {
		return nil, err
	}
	keySet, err := jwt.NewKeySet(jwtKey)
	if err != nil {
		return nil, err
	}
	const issuer, audience = "https://keygate-load.invalid", "keygate-load"
	issue, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: keySet, Issuer: issuer, Audience: audience, AccessTTL: time.Hour})
	if err != nil {
		return nil, err
	}
	tokens, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: keySet, Issuer: issuer, Audience: audience, Denylist: cachedDenylist})
	if err != nil {
		return nil, err
	}
	signatures, err := httpsig.NewVerifier(httpsig.VerifierConfig{Credentials: hmacs, Authorities: httpsig.AnyAuthority, Nonces: nonces})
	if err != nil {
		return nil, err
	}

	acct, err := accounts.Create(ctx, account.CreateParams{Name: "load"})
	if err != nil {
		return nil, err
	}
	grant := keygate.Grant{Account: acct.ID, Mode: keygate.ModeTest, Permissions: []string{"load:read"}}
	key, rec, err := keys.Create(ctx, apikey.CreateParams{Grant: grant, Kind: keygate.KindSecret, Name: "load"})
	if err != nil {
		return nil, err
	}
	secret, _, err := hmacs.Create(ctx, httpsig.CreateParams{Grant: grant, Name: "load"})
	if err != nil {
		return nil, err
	}
	token, _, err := issue.Issue(ctx, jwt.Claims{Subject: acct.ID, ClientID: rec.ID, Scope: "load:read", Grant: grant, ClientKind: keygate.KindSecret})
	if err != nil {
		return nil, err
	}
	s.creds = creds{APIKey: key.Reveal(), Token: token, HMACKeyID: secret.KeyID(), HMACSecret: secret.Reveal()}

	var writer *audit.Writer
	switch cfg.Audit {
	case "off":
	case "memory":
		writer = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{audit.NewMemorySink(10000)}})
	default:
		file, err := audit.OpenFile(audit.FileConfig{Path: cfg.Audit})
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func(context.Context) error { return file.Close() })
		writer = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{file}})
	}
	if writer != nil {
		// Closed before the file: it flushes the queued events.
		s.closers = append(s.closers, writer.Close)
	}
	auth, err := middleware.New(middleware.Config{
		APIKeys: keys, Tokens: tokens, Signatures: signatures, Accounts: accounts,
		ClientKeys: keys, ClientCredentials: hmacs,
		Audit: middleware.AuditConfig{Writer: writer, Policy: audit.Block},
	})
	if err != nil {
		return nil, err
	}
	protected := auth.Require(middleware.Rule{Permission: "load:read"})(http.HandlerFunc(ok))
	mux := http.NewServeMux()
	mux.Handle("GET /bare", counted(&s.bareServed, http.HandlerFunc(ok)))
	mux.Handle("GET /floor", counted(&s.floorServed, floor(s.creds.APIKey, acct.ID, http.HandlerFunc(ok))))
	mux.Handle("GET /protected", counted(&s.protected, protected))
	s.handler = mux
	return s, nil
}

// counted is h counting its requests in n.
func counted(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// floor is the API key's floor of the bench module, in the server: the
// least a standard-library check of key does (the key ID and secret at the
// end of the Bearer token, SHA-256 of the secret, a map lookup, a
// constant-time comparison, the caller's account in the context) before
// next, so that scripts/load.sh shows what such a check keeps of the bare
// route's rate beside what keygate keeps. Like any middleware (keygate's
// too), it hands its request to next through the http.Handler interface:
// the request's copy with the new context is then on the heap, as it
// would not be if the floor called ok directly.
func floor(key, account string, next http.Handler) http.Handler {
	const idLen, secretLen, checksumLen = 16, 43, 6
	type record struct {
		hash    [sha256.Size]byte
		account string
	}
	type accountKey struct{}
	body := key[len(key)-idLen-secretLen-checksumLen:]
	records := map[string]record{body[:idLen]: {hash: sha256.Sum256([]byte(body[idLen : idLen+secretLen])), account: account}}
	var mu sync.RWMutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found || len(raw) < idLen+secretLen+checksumLen {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body := raw[len(raw)-idLen-secretLen-checksumLen:]
		sum := sha256.Sum256([]byte(body[idLen : idLen+secretLen]))
		mu.RLock()
		rec, known := records[body[:idLen]]
		mu.RUnlock()
		if !known || subtle.ConstantTimeCompare(rec.hash[:], sum[:]) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, rec.account)))
	})
}

// close closes what newServer opened, the last opened first.
func (s *server) close(ctx context.Context) error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i](ctx))
	}
	s.closers = nil
	return errors.Join(errs...)
}

func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serverConfig
	listen := fs.String("listen", "127.0.0.1:0", "the address to listen on")
	credsPath := fs.String("creds", "", "the file to write the credentials to (required)")
	fs.StringVar(&cfg.DB, "db", "", "a SQLite file or a postgres:// URL (required)")
	fs.StringVar(&cfg.Redis, "redis", "", "a redis:// URL for nonces and the denylist")
	fs.StringVar(&cfg.Audit, "audit", "off", "off, memory or the audit file's path")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *credsPath == "" || cfg.DB == "" {
		return errors.New("serve: -creds and -db are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := newServer(ctx, cfg)
	if err != nil {
		return err
	}
	data, err := json.Marshal(s.creds)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*credsPath, data, 0o600); err != nil {
		s.close(ctx)
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		s.close(ctx)
		return err
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	if cerr := s.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
		err = cerr
	}
	fmt.Printf("protected requests: %d\n", s.protected.Load())
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
