package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client's X-Keygate_Subject (an underscore for a dash) must not reach
// the upstream through a front proxy either: CGI, PHP and WSGI upstreams
// read it as X-Keygate-Subject, which keygate leaves out for an API key.
func TestGatewayUnderscoreIdentityThroughFrontProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, port int, keygate, upstream string) string
	}{
		{"nginx", startNginx},
		{"caddy", startCaddy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newEchoUpstream(t)
			port := freeLoopbackPort(t)
			b := startConfigServe(t, gatewayConfig(up.host(), "127.0.0.1:"+strconv.Itoa(port), ""))
			base := tc.start(t, port, b.url, up.host())
			c := gatewayClient{t: t, b: b, client: httpClient(t)}
			r := c.get(base+"/orders/7", b.secret, "X-Keygate_Subject", "forged", "X_Keygate_Scope", "forged")
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			_, h := up.seen()
			for k := range h {
				n := strings.ToUpper(strings.ReplaceAll(k, "_", "-"))
				assert.False(t, strings.HasPrefix(n, "X-KEYGATE-") && strings.Contains(k, "_"), "%s reached the upstream", k)
			}
		})
	}
}
