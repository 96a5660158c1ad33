package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkServer is the load server's handler in process, on SQLite,
// with audit off, to memory and to a file: the bare route, the floor and
// the protected one with each bearer credential, the same request
// otherwise. The difference between a protected run and bare is what
// keygate adds to a request before the network and net/http's own work,
// the share scripts/load.sh measures end to end.
func BenchmarkServer(b *testing.B) { benchmarkServer(b, nil) }

// benchmarkServer runs the routes of BenchmarkServer, calling between (if
// not nil) before each request.
func benchmarkServer(b *testing.B, between func()) {
	for _, audit := range []string{"off", "memory", "file"} {
		cfg := serverConfig{DB: filepath.Join(b.TempDir(), "keygate.db"), Audit: audit}
		if audit == "file" {
			cfg.Audit = filepath.Join(b.TempDir(), "audit.jsonl")
		}
		s, err := newServer(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.close(b.Context()) })
		for _, tc := range []struct{ name, path, credential string }{
			{"bare", "/bare", s.creds.APIKey},
			{"floor", "/floor", s.creds.APIKey},
			{"apikey", "/protected", s.creds.APIKey},
			{"baretoken", "/bare", s.creds.Token},
			{"token", "/protected", s.creds.Token},
		} {
			if audit != "off" && (tc.name == "floor" || tc.name == "baretoken") {
				continue // the audit does not see them: the bare route is each server's baseline
			}
			b.Run("audit="+audit+"/"+tc.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, tc.path, nil)
				r.Header.Set("Authorization", "Bearer "+tc.credential)
				w := &discard{h: http.Header{}}
				// ok writes its body without WriteHeader: 0 is 200.
				s.handler.ServeHTTP(w, r)
				if w.code != http.StatusOK && w.code != 0 {
					b.Fatalf("status %d", w.code)
				}
				b.ReportAllocs()
				for b.Loop() {
					if between != nil {
						between()
					}
					s.handler.ServeHTTP(w, r)
				}
				if w.code != http.StatusOK && w.code != 0 {
					b.Fatalf("status %d", w.code)
				}
			})
		}
	}
}

// netHTTPGarbage keeps BenchmarkServerCold's stand-in for net/http's
// allocations on the heap.
var netHTTPGarbage []byte

// BenchmarkServerCold is BenchmarkServer with each request after a round
// trip of a request's and a response's bytes over a loopback TCP
// connection and as much garbage as net/http makes for a request: the
// kernel's work that separates two requests in a server, which leaves the
// caches and predictors cold for the next, and a garbage collection as
// often. It is
// a proxy for scripts/load.sh that runs in one process: what a route
// costs over bare here is close to what it costs the server under wrk
// (where the pinned server spends most of each request in the kernel),
// several times what it costs in BenchmarkServer, and it is much less
// noisy than a load run. Compare routes with the same credential header:
// apikey and floor with bare, token with baretoken, each with the bare
// route of the same server (audit off, to memory, to a file). Pin the
// process to one CPU (taskset -c 1), as load.sh pins the server, so that
// the audit writer's goroutine shares the request's CPU there too.
func BenchmarkServerCold(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	server, accept := <-accepted
	if !accept {
		b.Fatal("accept failed")
	}
	defer server.Close()
	request, response, buf := make([]byte, 300), make([]byte, 120), make([]byte, 512)
	roundTrip := func() {
		// What net/http allocates for a request (its Request, header map,
		// response and buffers: about 2.5 KB here, from the load server's
		// GC trace), so that the garbage collector runs as often per
		// request as in the server.
		netHTTPGarbage = make([]byte, 2560)
		if _, err := client.Write(request); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(server, buf[:len(request)]); err != nil {
			b.Fatal(err)
		}
		if _, err := server.Write(response); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf[:len(response)]); err != nil {
			b.Fatal(err)
		}
	}
	benchmarkServer(b, roundTrip)
}
