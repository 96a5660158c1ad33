package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/ratelimit"
	"github.com/keygate/keygate/redisstore"
)

// serve runs the reference server until ctx is cancelled, then shuts it
// down gracefully: parse (parseServe) → build (buildServer) → run
// (server.run).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, os.Getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return runServe(ctx, cfg, stdout, stderr)
}

// parseServe turns serve's command line into a validated serveConfig,
// with no side effect but messages on stderr: a usage error is explained
// there and returned as errUsage; -h returns flag.ErrHelp. With --config,
// the file's settings come first and the flags given as well override
// them. getenv reads the environment ($KEYGATE_MASTER_KEY, and the
// file's ${NAME} references).
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	cfg := defaultServeConfig()
	configFile, err := parseServeFlags(args, &cfg, stderr)
	if err != nil {
		return serveConfig{}, err
	}
	if configFile != "" {
		if cfg, err = loadConfigFile(configFile, defaultServeConfig(), getenv); err != nil {
			return serveConfig{}, err
		}
		// The same arguments parsed once already: this cannot fail.
		if _, err := parseServeFlags(args, &cfg, stderr); err != nil {
			return serveConfig{}, err
		}
	}
	cfg.store.masterKeyEnv = getenv(envMasterKey)
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "keygate serve: %v\n", err)
		return serveConfig{}, errUsage
	}
	return cfg, nil
}

// parseServeFlags parses serve's flags in args into cfg and returns the
// value of --config.
func parseServeFlags(args []string, cfg *serveConfig, stderr io.Writer) (configFile string, err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: keygate serve [--config FILE] [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	bindServeFlags(fs, cfg)
	fs.StringVar(&configFile, "config", "", "read the settings from this YAML `file` (see the README); the flags given as well override it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "keygate serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return "", errUsage
	}
	return configFile, nil
}

// defaultServeConfig returns serve's settings when no flag is given.
func defaultServeConfig() serveConfig {
	return serveConfig{
		addr:           "127.0.0.1:8080",
		accessTokenTTL: jwt.DefaultAccessTTL,
		audience:       "keygate",
		demoRateLimit:  ratelimit.Policy{Name: "demo", Limit: 20, Window: 10 * time.Second},
		store: storeOptions{
			db:          defaultDB,
			redisPrefix: redisstore.DefaultPrefix,
			cacheTTL:    apikey.DefaultCacheTTL,
		},
	}
}

// bindServeFlags declares serve's flags on fs, storing into cfg.
func bindServeFlags(fs *flag.FlagSet, cfg *serveConfig) {
	fs.StringVar(&cfg.addr, "addr", cfg.addr, "`address` to listen on (host:port; port 0 picks a free one)")
	fs.DurationVar(&cfg.accessTokenTTL, "access-token-ttl", cfg.accessTokenTTL, "lifetime of access tokens")
	fs.StringVar(&cfg.issuer, "issuer", cfg.issuer, "the `iss` of access tokens (default http://<listening address>)")
	fs.StringVar(&cfg.audience, "audience", cfg.audience, "the `aud` of access tokens")
	fs.Var(&cfg.demoRateLimit, "demo-rate-limit", "rate `limit` of the PRIME demo account, as requests/window")
	fs.StringVar(&cfg.auditFile, "audit-file", cfg.auditFile, "append audit events as JSON Lines to this `file` too (default: the database only; in memory with --db memory)")
	fs.BoolVar(&cfg.noAudit, "no-audit", cfg.noAudit, "record no audit events at all (to measure what auditing costs)")
	fs.Var((*authorityList)(&cfg.extraAuthorities), "authority", "another `host[:port]` that signed requests may name, such as the name of a load balancer in front of several instances (repeatable)")
	fs.BoolVar(&cfg.tlsTerminated, "tls-terminated", cfg.tlsTerminated, "a proxy in front terminates HTTPS: the console at /console/ takes sign-ins that reach it over plain HTTP\n(without it, only on loopback: localhost, 127.0.0.1, ::1)")
	fs.StringVar(&cfg.store.db, "db", cfg.store.db, "where keys are kept (`store`): memory, a SQLite file, or a postgres:// URL")
	fs.StringVar(&cfg.store.masterKeyFile, "master-key-file", cfg.store.masterKeyFile, "`file` of the master key that seals HMAC secrets and signing keys, created on first use\n(default $"+envMasterKey+" if set, else "+masterKeyFileName+" next to the SQLite file, or in the working directory for PostgreSQL)")
	fs.StringVar(&cfg.store.redisURL, "redis", cfg.store.redisURL, "redis:// `URL`: nonces, one-time tokens, revoked tokens and rate limits in Redis, shared by instances, and revocations broadcast to their caches")
	fs.StringVar(&cfg.store.redisPrefix, "redis-prefix", cfg.store.redisPrefix, "`prefix` of every Redis key and of the invalidation channel")
	fs.DurationVar(&cfg.store.cacheTTL, "cache-ttl", cfg.store.cacheTTL, "how long a verified API key or HMAC credential, an account, and whether an access token is revoked, is served from memory with a database:\nwithout --redis, the bound on how long a revocation (or a disabled account) on another instance goes unseen")
}

// validate checks the settings that the flags' own parsers cannot: the
// message names the flag.
func (c *serveConfig) validate() error {
	switch {
	case c.noAudit && c.auditFile != "":
		return errors.New("--no-audit and --audit-file exclude each other")
	case c.accessTokenTTL <= 0:
		return errors.New("--access-token-ttl must be positive")
	case c.store.cacheTTL <= 0:
		return errors.New("--cache-ttl must be positive")
	case c.store.db == "":
		return errors.New("--db must not be empty")
	}
	return nil
}

// withAddress returns cfg completed for the address the server listens
// on: the default issuer, and the authorities signed requests may name
// (that address, localhost on the same port, the host asked for on that
// port, and --authority's).
func (c serveConfig) withAddress(addr net.Addr) serveConfig {
	if c.issuer == "" {
		c.issuer = c.scheme() + "://" + addr.String()
	}
	_, port, _ := net.SplitHostPort(addr.String())
	c.authorities = []string{addr.String(), "localhost:" + port}
	if host, _, err := net.SplitHostPort(c.addr); err == nil && host != "" {
		c.authorities = append(c.authorities, net.JoinHostPort(host, port))
	}
	c.authorities = append(c.authorities, c.extraAuthorities...)
	return c
}

// scheme returns the scheme the server answers: https with tls, else
// http.
func (c *serveConfig) scheme() string {
	if c.tls != nil {
		return "https"
	}
	return "http"
}

// runServe listens, builds the server for cfg and serves until ctx is
// cancelled.
func runServe(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) error {
	var certs *certReloader
	if cfg.tls != nil {
		var err error
		if certs, err = newCertReloader(cfg.tls.certFile, cfg.tls.keyFile); err != nil {
			return err
		}
	}
	// Listen before printing anything, so that a busy port fails before
	// keys are shown and ":0" reports the port actually chosen.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close() // after a successful Serve this is a harmless no-op
	cfg = cfg.withAddress(ln.Addr())

	s, err := buildServer(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if err := s.start(ctx, stdout, stderr); err != nil {
		s.close(context.WithoutCancel(ctx))
		return err
	}
	return s.run(ctx, ln, certs, stdout, stderr)
}

// server is the reference server built from a serveConfig: its storage
// and the app on it.
type server struct {
	cfg serveConfig
	st  *storage
	app *app
}

// buildServer opens the storage cfg names and builds the app on it. On
// error, what was opened is closed again.
func buildServer(ctx context.Context, cfg serveConfig, stderr io.Writer) (*server, error) {
	st, err := openStorage(ctx, cfg.store, stderr)
	if err != nil {
		return nil, err
	}
	a, err := newApp(ctx, cfg, st, stderr)
	if err != nil {
		st.close()
		return nil, err
	}
	return &server{cfg: cfg, st: st, app: a}, nil
}

// start makes or finds the demo data and reports on stdout and stderr
// what this start did; the demo's secrets are printed only when they
// were created, on the first start on a store.
func (s *server) start(ctx context.Context, stdout, stderr io.Writer) error {
	if s.cfg.noDemo {
		fmt.Fprintln(stderr, "keygate: no demo data (the configuration does not say demo: true)")
		s.app.startupNotes(false, stderr)
		s.app.consoleNote(ctx, stderr)
		return nil
	}
	d, created, err := s.app.bootstrap(ctx)
	if err != nil {
		return err
	}
	if created {
		printDemo(stdout, d)
	} else {
		fmt.Fprintf(stdout, "using the keys in %s (shown when it was created)\n", s.st.name)
	}
	s.app.startupNotes(created, stderr)
	if !created {
		s.app.consoleNote(ctx, stderr)
	}
	return nil
}

// printDemo prints the demo data's secrets: the only place secrets are
// ever printed.
func printDemo(stdout io.Writer, d demo) {
	fmt.Fprintf(stdout, "test secret key: %s\n", d.secret.Reveal())
	fmt.Fprintf(stdout, "test publishable key: %s\n", d.publishable.Reveal())
	fmt.Fprintf(stdout, "test user: %s / %s\n", d.user, d.password)
	fmt.Fprintf(stdout, "test hmac key id: %s\n", d.hmacSecret.KeyID())
	fmt.Fprintf(stdout, "test hmac secret: %s\n", d.hmacSecret.Base64())
	fmt.Fprintf(stdout, "test prime secret key: %s\n", d.primeSecret.Reveal())
	fmt.Fprintf(stdout, "admin key: %s\n", d.admin.Reveal())
	fmt.Fprintf(stdout, "console user: %s / %s\n", consoleOperator, d.operatorPassword)
}

// run serves on ln until ctx is cancelled or serving fails, then shuts
// down in order (drain, close). With certs, it answers TLS (HTTP/2 and
// HTTP/1.1) with their certificate, reloaded on SIGHUP and when the files
// change, and adds HSTS; with https_only too, it answers plain HTTP on
// the same listener as well, where credentials are refused.
func (s *server) run(ctx context.Context, ln net.Listener, certs *certReloader, stdout, stderr io.Writer) error {
	s.st.startInvalidations(ctx)
	srv := newServer(s.app.handler, log.New(stderr, "keygate: http: ", log.LstdFlags))
	var conns connTracker
	srv.ConnState = conns.track
	serve := srv.Serve
	if certs != nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		serve = useTLS(watchCtx, srv, certs, s.cfg.httpsOnly, stderr)
	}
	// Connections wait in the listener's backlog until Serve.
	fmt.Fprintf(stdout, "listening on %s://%s\n", s.cfg.scheme(), ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- serve(ln) }()

	select {
	case err := <-serveErr:
		s.close(context.WithoutCancel(ctx))
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "keygate: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := drain(shutdownCtx, srv, ln, serveErr, &conns)
	return errors.Join(err, s.close(shutdownCtx))
}

// drain stops srv without dropping a request. Shutdown alone would drop a
// request whose headers are still arriving when it starts: net/http
// closes such a connection without answering. So it first stops
// accepting, answers every connection that may be in the middle of a
// request and closes it after its response, and only then shuts down what
// is left. serveErr receives srv.Serve's result.
func drain(ctx context.Context, srv *http.Server, ln net.Listener, serveErr <-chan error, conns *connTracker) error {
	var errs []error
	srv.SetKeepAlivesEnabled(false) // also closes the idle connections
	ln.Close()
	if err := <-serveErr; !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("serve: %w", err))
	}
	conns.wait(ctx) // bounded by ReadHeaderTimeout for silent new connections
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	return errors.Join(errs...)
}

// close tears the server down in order: the audit events are flushed,
// then the API keys' last-used times (apikey.Manager.Close), then the
// stores are closed.
func (s *server) close(ctx context.Context) error {
	return errors.Join(s.app.close(ctx), s.st.close())
}
