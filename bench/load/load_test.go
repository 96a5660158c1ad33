package main

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// TestServer checks that the load server serves the handler bare and
// protected (API key, access token, signed request), refuses a bad key
// and a replayed signature, and writes exactly one audit line per
// request that reached the middleware.
func TestServer(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.jsonl")
	s, err := newServer(ctx, serverConfig{DB: filepath.Join(dir, "keygate.db"), Audit: auditPath})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.handler)
	defer srv.Close()

	signed := func() http.Header {
		h, err := presign(srv.URL+"/protected", 1, &httpsig.Signer{KeyID: s.creds.HMACKeyID, Secret: s.creds.HMACSecret})
		if err != nil {
			t.Fatal(err)
		}
		return h[0]
	}
	bearer := func(v string) http.Header { return http.Header{"Authorization": {"Bearer " + v}} }
	replayed := signed()
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"bare", "/bare", nil, http.StatusOK},
		{"floor", "/floor", bearer(s.creds.APIKey), http.StatusOK},
		{"floor, bad key", "/floor", bearer(secretChanged(s.creds.APIKey)), http.StatusUnauthorized},
		{"floor, no credential", "/floor", nil, http.StatusUnauthorized},
		{"api key", "/protected", bearer(s.creds.APIKey), http.StatusOK},
		{"access token", "/protected", bearer(s.creds.Token), http.StatusOK},
		{"signed", "/protected", replayed, http.StatusOK},
		{"replayed signature", "/protected", replayed, http.StatusUnauthorized},
		{"no credential", "/protected", nil, http.StatusUnauthorized},
		{"bad key", "/protected", bearer(s.creds.APIKey + "x"), http.StatusUnauthorized},
		{"bad token", "/protected", bearer(s.creds.Token[:len(s.creds.Token)-2]), http.StatusUnauthorized},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.header != nil {
			req.Header = tt.header.Clone()
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	srv.Close()
	if err := s.close(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines++
	}
	if got := s.protected.Load(); got != 7 || int64(lines) != got {
		t.Errorf("%d requests reached the middleware and %d audit lines, want 7 and 7", got, lines)
	}
}

// TestRun checks the load generator against the bare route: every
// request is sent and answered, and the latencies are ordered.
func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	headers, err := presign(srv.URL, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t.Context(), srv.URL, headers, 4, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 50 || res.Errors != 0 || res.P50 > res.P99 {
		t.Errorf("run = %+v, want 50 requests, no error, p50 <= p99", res)
	}
	if _, err := run(context.Background(), srv.URL+"/", nil, 1, time.Minute); err == nil {
		t.Error("a run without requests did not fail")
	}
}

// secretChanged returns key with the last character of its secret (before
// the 6-character checksum) changed.
func secretChanged(key string) string {
	i := len(key) - 7
	c := byte('x')
	if key[i] == c {
		c = 'y'
	}
	return key[:i] + string(c) + key[i+1:]
}
