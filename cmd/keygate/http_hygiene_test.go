package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeClosesAfterContentLengthAndChunked sends, on one raw TCP
// connection to a real serve, a request carrying both Content-Length and
// Transfer-Encoding: chunked followed at once by a second request, and
// checks that the first is answered with Connection: close and the
// connection then closed, the second never answered (RFC 9112 §6.1). A
// request with Content-Length alone keeps the connection open.
func TestServeClosesAfterContentLengthAndChunked(t *testing.T) {
	in := startInstance(t, "--db", "memory")
	host := strings.TrimPrefix(in.url, "http://")
	auth := "Authorization: Bearer " + in.keys.secret + "\r\n"
	next := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"

	// exchange writes raw on a new connection and reads the responses
	// until the server closes it (or two have come).
	exchange := func(raw string) (responses []*http.Response, closed bool) {
		t.Helper()
		conn, err := net.Dial("tcp", host)
		require.NoError(t, err)
		defer conn.Close()
		// Only a guard against a hang: each outcome below comes without
		// waiting for it (a response, or the server's close).
		require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
		_, err = io.WriteString(conn, raw)
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		for len(responses) < 2 {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				var ne net.Error
				require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server neither answered nor closed")
				return responses, true
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			require.NoError(t, err)
			responses = append(responses, res)
		}
		return responses, false
	}

	// Content-Length and chunked: the chunked body wins (net/http drops
	// the Content-Length), and the connection is closed after the answer.
	both := "POST /v1/echo HTTP/1.1\r\nHost: " + host + "\r\n" + auth +
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	responses, closed := exchange(both + next)
	require.Len(t, responses, 1, "the request after a Content-Length + chunked one is not answered")
	assert.True(t, closed)
	assert.Equal(t, http.StatusOK, responses[0].StatusCode)
	assert.True(t, responses[0].Close, "the answer says Connection: close")

	// Content-Length alone: both answered on the same connection.
	plain := "POST /v1/echo HTTP/1.1\r\nHost: " + host + "\r\n" + auth + "Content-Length: 5\r\n\r\nhello"
	responses, _ = exchange(plain + next)
	require.Len(t, responses, 2, "keep-alive as usual")
	assert.Equal(t, http.StatusOK, responses[0].StatusCode)
	assert.False(t, responses[0].Close)
	assert.Equal(t, http.StatusOK, responses[1].StatusCode)
	in.stop(t)
}
