package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// normalizedIdentity reports the headers of h that CGI, PHP, WSGI (and
// every framework that maps header names to HTTP_* variables) read as an
// identity header: "-" and "_" are the same there, so X-Keygate_Subject
// is HTTP_X_KEYGATE_SUBJECT.
func normalizedIdentity(h http.Header) []string {
	var out []string
	for k := range h {
		n := strings.ToUpper(strings.ReplaceAll(k, "_", "-"))
		if strings.HasPrefix(n, "X-KEYGATE-") && !strings.HasPrefix(k, "X-Keygate-") {
			out = append(out, k)
		}
	}
	return out
}

// A client's X-Keygate_* header (an underscore for a dash) reaches the
// upstream beside, or instead of, keygate's own: CGI-style upstreams
// read both as the same variable. An API key has no subject or scope, so
// a forged X-Keygate_Subject would be the only one.
func TestProxyStripsUnderscoreIdentityHeaders(t *testing.T) {
	var trailer http.Header
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		trailer = r.Trailer.Clone()
		echo(w, r)
	}), nil)
	h := bearer(f.sk)
	h["X-Keygate_Subject"] = []string{"root"}
	h["X_Keygate_Scope"] = []string{"admin:*"}
	h["X-KEYGATE_ACCOUNT"] = []string{"acct_forged"}
	resp := f.send(t, "GET", "/orders/42", "", h)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	e := upstreamSaw(t, resp)
	assert.Empty(t, normalizedIdentity(e.Header), "forged identity headers reached the upstream")

	// Nor as request trailers.
	r, err := http.NewRequest("POST", f.proxy.URL+"/events", io.NopCloser(strings.NewReader("x")))
	require.NoError(t, err)
	r.Header.Set("Authorization", "Bearer "+f.sk)
	r.ContentLength = -1
	r.Trailer = http.Header{"X-Keygate-Account": {"acct_forged"}}
	resp2, err := f.proxy.Client().Do(r)
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusOK, resp2.StatusCode)
	for k := range trailer {
		assert.False(t, strings.HasPrefix(strings.ToUpper(strings.ReplaceAll(k, "_", "-")), "X-KEYGATE-"), "trailer %s reached the upstream", k)
	}
}
