// Command keygate runs keygate's reference server, signs requests and
// manages keys through the admin API.
//
// Usage:
//
//	keygate serve [--db keygate.db | --db postgres://... | --db memory] [--master-key-file FILE] [--redis redis://...] [--addr 127.0.0.1:8080] [flags]
//	keygate serve --config keygate.yaml [flags]
//	keygate config check keygate.yaml
//	keygate sign [-X METHOD] [-H 'Name: value']... [-d BODY | -d @FILE | -d @-] [--key-id ID] [--secret SECRET] [--print] URL
//	keygate init [--db memory | --db FILE | --db postgres://...] [--json]
//	keygate accounts create|list|show|update ...
//	keygate keys create|list|show|rotate|revoke|approve|disable|enable ...
//	keygate hmac-keys create|list|show|rotate|revoke ...
//	keygate tokens revoke (--jti J | --subject S | --family F)
//	keygate audit query [filters]
//	keygate ip-rules list|add|delete ...
//
// The admin commands talk to the admin API (--server or KEYGATE_URL,
// --admin-key or KEYGATE_ADMIN_KEY; --json for scripts); "keygate keys -h"
// and the like list their flags.
//
// sign signs a request with an HMAC credential (profile v3; the key ID and
// base64 secret fall back to KEYGATE_HMAC_KEY_ID and KEYGATE_HMAC_SECRET)
// and sends it, printing the response body, or with --print only prints
// the signature headers to add.
//
// serve takes its settings from its flags, or from a YAML file with
// --config (every flag has a key, its name in snake_case; listen for
// --addr; flags given as well override the file), which also declares the
// service's packages, rate limits per package, trusted proxies and TLS; a
// key the file does not know, or a bad value, stops the start with the
// file, line and key. "keygate config check FILE" checks a file without
// starting. With tls, serve answers HTTPS only (TLS 1.2 or newer, HTTP/2),
// reloads the certificate on SIGHUP and when its files change, and sends
// HSTS. The file's routes put keygate in front of other services (package
// gateway): /auth/verify answers forward-auth questions (nginx
// auth_request, Traefik, Caddy, and Envoy's ext_authz under
// /auth/verify/), and the routes with an upstream are proxied to it; the
// server's own routes stay more specific. https_only refuses a credential
// over plain HTTP (400; with tls, plain HTTP is answered on the TLS port
// too), unless a trusted proxy says https. Without --config, and with a file that says demo: true, it makes
// the demo data below; otherwise neither the demo data nor its routes.
//
// serve keeps its keys in a database: by default the SQLite file
// keygate.db in the working directory (--db PATH), or PostgreSQL (--db
// postgres://...), or nothing outlives the process (--db memory). On the
// first start on an empty database it creates the test-mode account
// "acct_demo" (package GO, stores store_1 and store_2, permissions
// products:read, products:write and stores:read) with a secret and a
// publishable key, and a user "demo" with a random password for the
// password grant, and an HMAC credential (test hmac key id / test hmac
// secret, base64) for signed requests, and an admin key ("*:*" on the
// account acct_admin, package PRIME: every permission, admin:* included,
// since a caller of the admin API gives only what it holds), and the
// console's first operator "admin" (every permission) with a random
// password, and prints them; the user "demo" signs in to the console too,
// with the same password, as the owner of acct_demo. Later starts reuse
// them and print no secret, only "using the keys in keygate.db (shown
// when it was created)". Several instances starting at once on one empty PostgreSQL
// database create the data once.
//
// HMAC secrets and JWT signing keys are sealed under a master key: 32
// random bytes in hex in the file --master-key-file (by default keygate.key
// next to the SQLite file, or in the working directory for PostgreSQL),
// created with mode 0600 on first use, or $KEYGATE_MASTER_KEY. Instances
// sharing a database need the same master key; a master key that does not
// open the database's keys stops the start, and nothing is changed.
//
// With a database, API keys, HMAC credentials and accounts are cached in
// memory for --cache-ttl (2 s): without Redis, a revocation made through
// another instance takes effect here within that time. --redis redis://... puts
// HMAC nonces, one-time tokens, revoked access tokens and rate limits in
// Redis, so that instances agree on replays, on one-time tokens, on
// revocations and on limits, and broadcasts every key change to the other
// instances' caches over pub/sub (well under a second). A store that cannot
// be reached makes the requests that need it fail with 503 and a JSON
// error; they succeed again once it is back, without a restart.
//
// Then it serves:
//
//	GET  /healthz                public: {"status":"ok"}
//	GET  /v1/whoami              an API key (secret or publishable), an access token or an HMAC signature: the caller's keygate.Principal
//	POST /v1/echo                any of those: {"principal": ..., "body_sha256": hex SHA-256 of the body the handler got}
//	POST /oauth/token            RFC 6749: client_credentials, password, refresh_token
//	POST /oauth/revoke           RFC 7009
//	POST /oauth/introspect       RFC 7662
//	GET  /.well-known/jwks.json  the public keys that verify access tokens (RS256; made on the first start, kept in the database)
//	     /admin/v1/...           the admin API (package admin), with the admin key
//	GET  /metrics                Prometheus metrics (not audited)
//	     /console/               the admin console (package console), for console users: operators and account owners
//
// Every request but /healthz, /metrics and the console's pages is audited
// (the console records its sign-ins, sign-outs and failed sign-ins, and
// its actions are the admin API's management events): to the database,
// whose history the admin API queries (in memory with --db memory), and
// with --audit-file also as JSON Lines. While the database is down, events
// wait in a bounded queue (32768); request events beyond it are dropped,
// counted and recorded as a gap, management events wait.
//
// It stops gracefully on SIGINT or SIGTERM: it stops accepting connections,
// in-flight requests (including ones whose headers are still arriving) get up
// to ten seconds to finish, then the last-used times are flushed and it exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/middleware"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// once the server is asked to stop.
const shutdownTimeout = 10 * time.Second

const usage = `usage: keygate <command> [flags]

commands:
  serve      run the reference server (keys in keygate.db; test keys are printed on the first start)
  config     check a configuration file of serve: config check FILE
  sign       sign a request with an HMAC credential and send it, or print its signature headers
  init       create the first admin key in an empty store
  accounts   manage accounts through the admin API: create, list, show, update
  keys       manage API keys through the admin API: create, list, show, rotate, revoke, approve, disable, enable
  hmac-keys  manage HMAC credentials through the admin API: create, list, show, rotate, revoke
  tokens     revoke access and refresh tokens through the admin API
  audit      query the audit history through the admin API
  ip-rules   manage the service-wide and account IP allow and deny lists through the admin API: list, add, delete

The admin API commands take --server URL (default $KEYGATE_URL, else http://127.0.0.1:8080),
--admin-key KEY (default $KEYGATE_ADMIN_KEY) and --json, before or after their arguments.

Run "keygate <command> -h" for the flags of a command.
`

// errUsage reports a command line that could not be understood; the usage
// has already been printed.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "keygate:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps run's result to the process exit status: 0 on success, 2
// for a usage error, 1 otherwise.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}

// run executes the command line args (without the program name) until it
// is done or ctx is cancelled.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "config":
		return configCommand(args[1:], stdout, stderr)
	case "sign":
		return sign(ctx, args[1:], stdin, stdout, stderr)
	case "init":
		return cliInit(ctx, args[1:], stdout, stderr)
	case "accounts":
		return accountsGroup.run(ctx, args[1:], stdout, stderr)
	case "keys":
		return keysGroup.run(ctx, args[1:], stdout, stderr)
	case "hmac-keys":
		return hmacGroup.run(ctx, args[1:], stdout, stderr)
	case "tokens":
		return tokensGroup.run(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditGroup.run(ctx, args[1:], stdout, stderr)
	case "ip-rules":
		return ipRulesGroup.run(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "keygate: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

// authorityList is the repeatable --authority flag: host[:port] forms,
// kept in lower case as the HMAC verifier compares them.
type authorityList []string

// String implements flag.Value.
func (l *authorityList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *authorityList) Set(s string) error {
	if s == "" || strings.ContainsAny(s, "/ @?#") {
		return errors.New("want host or host:port, without a scheme or a path")
	}
	*l = append(*l, strings.ToLower(s))
	return nil
}

// connTracker keeps the server's connections that may be in the middle of a
// request: new ones (a request may be arriving) and active ones.
type connTracker struct {
	mu   sync.Mutex
	busy map[net.Conn]struct{}
}

// track is an http.Server ConnState hook.
func (t *connTracker) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case http.StateNew, http.StateActive:
		if t.busy == nil {
			t.busy = make(map[net.Conn]struct{})
		}
		t.busy[c] = struct{}{}
	default:
		delete(t.busy, c)
	}
}

// wait returns once no connection is in the middle of a request, or ctx is
// done.
func (t *connTracker) wait(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		n := len(t.busy)
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newServer returns the HTTP server for h, with timeouts that keep slow or
// idle clients from holding connections open, closing the connection after
// each chunked request (closeAfterChunked).
func newServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           closeAfterChunked(h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
}

// closeAfterChunked answers each request with a chunked body with
// Connection: close, so that the connection closes after the response.
//
// A request with both Content-Length and Transfer-Encoding: chunked may be
// a request-smuggling attempt; RFC 9112 §6.1 asks a server that processes
// it to close the connection afterwards. net/http reads such a body as
// chunked and deletes the Content-Length header (transfer.go, fixLength),
// leaving no trace of it in the *http.Request: a handler cannot tell it
// from a plain chunked request without parsing the request bytes itself.
// So every chunked request closes its connection; that costs a new
// connection only to clients that stream request bodies, and a proxy in
// front may refuse such requests outright (see the README's deployment
// notes).
func closeAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(r.TransferEncoding, "chunked") {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// whoami answers with the authenticated caller.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, ok := keygate.FromContext(r.Context())
	if !ok {
		// Unreachable behind the middleware; fail closed all the same.
		middleware.Classify(middleware.ErrNoCredentials).Write(w, "keygate")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// writeJSON sends v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
