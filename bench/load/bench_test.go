package main

import (
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

// BenchmarkServer is the load server's handler in process, on SQLite with
// audit off: the bare route and the protected one with each bearer
// credential, the same request otherwise. The difference between a
// protected run and bare is what keygate adds to a request before the
// network and net/http's own work, the share scripts/load.sh measures end
// to end.
func BenchmarkServer(b *testing.B) {
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
			{"apikey", "/protected", s.creds.APIKey},
			{"token", "/protected", s.creds.Token},
		} {
			if audit != "off" && tc.name == "bare" {
				continue
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
					s.handler.ServeHTTP(w, r)
				}
				if w.code != http.StatusOK && w.code != 0 {
					b.Fatalf("status %d", w.code)
				}
			})
		}
	}
}
