package middleware_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"github.com/keygate/keygate"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/middleware"
)

// countingKeys counts the keys it is asked to verify.
type countingKeys struct {
	middleware.KeyVerifier
	calls atomic.Int64
}

func (c *countingKeys) Verify(ctx context.Context, key string) (apikey.Record, error) {
	c.calls.Add(1)
	return c.KeyVerifier.Verify(ctx, key)
}

// TestHTTPSOnly checks Config.HTTPSOnly behind Require: a credential over
// plain HTTP, and not from a trusted proxy that says https, is refused
// with 400 invalid_request "HTTPS is required" before it is verified,
// and audited with reason insecure_transport; over TLS, through a
// trusted proxy that says https, without a credential or without
// HTTPSOnly, the request goes on as before.
func TestHTTPSOnly(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{})
	signed := http.Header{"Signature-Input": {`sig=("@method");keyid="hk_1"`}, "Signature": {"sig=:AAAA:"}}
	const proxy, client = "10.0.0.5:4000", "198.51.100.7:5000"
	for _, tc := range []struct {
		name      string
		httpsOnly bool
		remote    string
		tls       bool
		key       string
		header    http.Header
		status    int  // the answer
		refused   bool // refused as insecure transport
	}{
		{name: "key over plain HTTP", httpsOnly: true, remote: client, key: sk, status: 400, refused: true},
		{name: "key over TLS", httpsOnly: true, remote: client, tls: true, key: sk, status: 204},
		{name: "off: key over plain HTTP", remote: client, key: sk, status: 204},
		{name: "Basic credentials over plain HTTP", httpsOnly: true, remote: client, header: http.Header{"Authorization": {"Basic dTpw"}}, status: 400, refused: true},
		{name: "signature over plain HTTP", httpsOnly: true, remote: client, header: signed, status: 400, refused: true},
		{name: "signature-input alone over plain HTTP", httpsOnly: true, remote: client, header: http.Header{"Signature-Input": {"x"}}, status: 400, refused: true},
		{name: "no credential over plain HTTP", httpsOnly: true, remote: client, status: 401},
		{name: "trusted proxy says https", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"X-Forwarded-Proto": {"https"}}, status: 204},
		{name: "trusted proxy says HTTPS in Forwarded", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"Forwarded": {`for=198.51.100.7;proto="HTTPS"`}}, status: 204},
		{name: "trusted proxies all say https", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"X-Forwarded-Proto": {"https, https"}, "Forwarded": {"proto=https, for=10.0.0.9;proto=https"}}, status: 204},
		{name: "trusted proxy says http", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"X-Forwarded-Proto": {"http"}}, status: 400, refused: true},
		{name: "trusted proxy says nothing", httpsOnly: true, remote: proxy, key: sk, status: 400, refused: true},
		{name: "trusted proxies disagree", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"X-Forwarded-Proto": {"https"}, "Forwarded": {"proto=http"}}, status: 400, refused: true},
		{name: "an earlier hop was http", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"X-Forwarded-Proto": {"http,https"}}, status: 400, refused: true},
		{name: "quoted comma does not split", httpsOnly: true, remote: proxy, key: sk, header: http.Header{"Forwarded": {`for="a,proto=https";proto=http`}}, status: 400, refused: true},
		{name: "untrusted peer says https", httpsOnly: true, remote: client, key: sk, header: http.Header{"X-Forwarded-Proto": {"https"}, "Forwarded": {"proto=https"}}, status: 400, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := &countingKeys{KeyVerifier: m}
			resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8"}})
			require.NoError(t, err)
			sink := audit.NewMemorySink(10)
			writer := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
			auth, err := middleware.New(middleware.Config{
				APIKeys: keys, Signatures: stubSignatures{httpsig.Active{KeyID: "hk_1", Grant: keygate.Grant{Account: "acct_1", Mode: "test"}}},
				HTTPSOnly: tc.httpsOnly, Access: middleware.AccessConfig{ClientIP: resolver},
				Audit: middleware.AuditConfig{Writer: writer},
			})
			require.NoError(t, err)

			req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			req.RemoteAddr = tc.remote
			for k, v := range tc.header {
				req.Header[k] = v
			}
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			auth.Handler(bare).ServeHTTP(rec, req)
			require.NoError(t, writer.Close(context.Background()))
			events := sink.Events()
			require.Len(t, events, 1, "one audit event")

			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			_, checkErr := auth.Check(req, middleware.Rule{})
			if !tc.refused {
				assert.NotEqual(t, "insecure_transport", events[0].Reason)
				assert.False(t, errors.Is(checkErr, middleware.ErrInsecureTransport), "Check: %v", checkErr)
				return
			}
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, map[string]string{"error": "invalid_request", "error_description": "HTTPS is required"}, body)
			assert.Zero(t, keys.calls.Load(), "the credential is not looked at")
			assert.Equal(t, "insecure_transport", events[0].Reason)
			assert.Equal(t, audit.Deny, events[0].Decision)
			assert.True(t, errors.Is(checkErr, middleware.ErrInsecureTransport), "Check applies it too: %v", checkErr)
		})
	}
}

// TestCheckTransport checks the guard's CheckTransport, which the OAuth
// endpoints apply whatever the request carries, and the failure it maps
// to.
func TestCheckTransport(t *testing.T) {
	m := newKeyManager(t)
	for _, tc := range []struct {
		name      string
		httpsOnly bool
		trusted   []string
		remote    string
		tls       bool
		proto     string
		wantErr   bool
	}{
		{name: "off", remote: "198.51.100.1:1"},
		{name: "plain HTTP", httpsOnly: true, remote: "198.51.100.1:1", wantErr: true},
		{name: "TLS", httpsOnly: true, remote: "198.51.100.1:1", tls: true},
		{name: "no trusted proxies: the header is ignored", httpsOnly: true, remote: "127.0.0.1:1", proto: "https", wantErr: true},
		{name: "trusted proxy, https", httpsOnly: true, trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1", proto: "https"},
		{name: "trusted proxy, http", httpsOnly: true, trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1", proto: "http", wantErr: true},
		{name: "trusted proxy, empty", httpsOnly: true, trusted: []string{"127.0.0.1"}, remote: "127.0.0.1:1", proto: " ", wantErr: true},
		{name: "unparsable peer", httpsOnly: true, trusted: []string{"127.0.0.1"}, remote: "pipe", proto: "https", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := middleware.Config{APIKeys: m, HTTPSOnly: tc.httpsOnly}
			if tc.trusted != nil {
				r, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: tc.trusted})
				require.NoError(t, err)
				cfg.Access.ClientIP = r
			}
			auth, err := middleware.New(cfg)
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
			req.RemoteAddr = tc.remote
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			err = auth.CheckTransport(req)
			if !tc.wantErr {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, middleware.ErrInsecureTransport)
			assert.ErrorIs(t, err, middleware.ErrInvalidRequest)
			f := middleware.Classify(err)
			assert.Equal(t, middleware.Failure{Status: 400, Code: middleware.CodeInvalidRequest, Description: "HTTPS is required"}, f)
		})
	}
}
