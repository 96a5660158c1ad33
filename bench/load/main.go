// Command load is the server and the signing load generator of
// scripts/load.sh: one process serving the same trivial handler bare
// (GET /bare) and behind keygate (GET /protected: an API key, a cached
// HS256 access token or an HMAC-signed request), with its state in SQLite
// or PostgreSQL (+ Redis), and request auditing off, in memory or to a
// file.
//
//	load serve -db FILE|postgres://... [-redis URL] -audit off|memory|FILE -creds FILE
//	load sign -url URL -creds FILE -n MAX -d DURATION -c CONNECTIONS [-bare]
//
// serve writes the credentials to -creds (mode 0600), prints
// "listening on http://ADDR" and, after SIGTERM or SIGINT has stopped it
// and flushed the audit writer, "protected requests: N": the requests
// that reached the middleware, each of which has exactly one audit event.
//
// sign pre-signs at most -n requests (unique nonces) to GET /protected
// (or to GET /bare with -bare: signed the same way when -creds is given,
// so that the unprotected route gets requests of the same size and
// fields, plain otherwise), then sends them from -c
// connections for at most -d and prints one RESULT line: requests,
// duration, p50 and p99 latencies and errors. It exists because wrk
// cannot sign requests. The verifier refuses a nonce it has seen for
// the key ID and a created time more than 300 s from its clock, and bounds
// the nonces one key ID may hold (1<<14 by default, memory and Redis):
// serve raises that bound to maxNonces, so that a bounded run of unique
// nonces is never refused, and -n bounds a run's requests (all signed
// before the first is sent, so within the 300 s for any sensible -n).
//
// This module is a tool of the repository, never released, and it is not
// part of the library's dependency graph.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load serve|sign [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveMain(os.Args[2:])
	case "sign":
		err = signMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want serve or sign", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}
