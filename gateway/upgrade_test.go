package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An Upgrade other than WebSocket, h2c above all, must not reach the
// upstream: an upstream that accepts "Upgrade: h2c" turns the connection
// into an HTTP/2 one on which the client sends any request, to any path,
// unchecked (h2c smuggling). The check covered GET /ws only.
func TestProxyRefusesH2CUpgrade(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := r.Header.Get("Upgrade")
		if up == "" {
			w.WriteHeader(http.StatusOK)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + up + "\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("tunnel " + line)
		brw.Flush()
	}), nil)
	for _, up := range []string{"h2c", "H2C", "tls/1.2"} {
		t.Run(up, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer "+f.sk+
				"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: "+up+"\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "GET"})
			require.NoError(t, err)
			resp.Body.Close()
			assert.NotEqual(t, http.StatusSwitchingProtocols, resp.StatusCode, "a %s upgrade was tunnelled", up)
		})
	}
}
