package main

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Through the real nginx (the documented auth_request configuration),
// /public/%2e%2e/analytics is checked by keygate as /public/{rest...}
// (X-Original-URI is $request_uri, undecoded) while nginx, and an
// upstream that decodes, take it for /analytics: a key below the PRIME
// tier must not reach it so, nor through keygate's own reverse proxy.
func TestGatewayEncodedDotSegments(t *testing.T) {
	up := newEchoUpstream(t)
	port := freeLoopbackPort(t)
	extra := `  - {match: "GET /public/{rest...}", permission: "stores:read", tier: DISCOVER, upstream: "http://` + up.host() + `"}
`
	b := startConfigServe(t, gatewayConfig(up.host(), "127.0.0.1:"+strconv.Itoa(port), extra))
	c := gatewayClient{t: t, b: b, client: httpClient(t)}
	for name, base := range map[string]string{"nginx": startNginx(t, port, b.url, up.host()), "reverse proxy": b.url} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, http.StatusOK, c.get(base+"/public/x", b.secret).status, "the public route")
			assert.Equal(t, http.StatusForbidden, c.get(base+"/analytics", b.secret).status, "below the tier")
			before, _ := up.seen()
			r := c.get(base+"/public/%2e%2e/analytics", b.secret)
			assert.NotEqual(t, http.StatusOK, r.status, "%s", r.body)
			after, _ := up.seen()
			assert.Equal(t, before, after, "the request reached the upstream")
		})
	}
}
