package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/yaronf/httpsign"
)

// TestServeAcceptsAnIndependentSigner signs requests with an independent
// RFC 9421 implementation (github.com/yaronf/httpsign) and the credential
// that keygate serve printed: /v1/echo answers 200 with the hash of the
// body sent, and the same request again is refused as a replay.
func TestServeAcceptsAnIndependentSigner(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	defer stdoutR.Close()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--db", "memory", "--addr", "127.0.0.1:0"}, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	b := readBanner(t, stdoutR)
	secret, err := base64.StdEncoding.DecodeString(b.hmacSecret)
	require.NoError(t, err)

	body := []byte(`{"order":"o_9","total":1250}`)
	req, err := http.NewRequest(http.MethodPost, b.url+"/v1/echo", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	digest, err := httpsign.GenerateContentDigestHeader(&req.Body, []string{httpsign.DigestSha256})
	require.NoError(t, err)
	req.Header.Set("Content-Digest", digest)
	signer, err := httpsign.NewHMACSHA256Signer(secret, httpsign.NewSignConfig().SetKeyID(b.hmacID).SetNonce(rand.Text()),
		httpsign.Headers("@method", "@authority", "@path", "@query", "content-digest", "content-type"))
	require.NoError(t, err)
	in, sig, err := httpsign.SignRequest("sig1", *signer, req)
	require.NoError(t, err)
	req.Header.Set("Signature-Input", in)
	req.Header.Set("Signature", sig)

	send := func() (int, map[string]any) {
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(r)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, "application/json", res.Header.Get("Content-Type"))
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
		return res.StatusCode, out
	}
	status, out := send()
	require.Equal(t, http.StatusOK, status, "%v", out)
	sum := sha256.Sum256(body)
	require.Equal(t, hex.EncodeToString(sum[:]), out["body_sha256"])
	require.Equal(t, "hmac", out["principal"].(map[string]any)["method"])
	status, out = send()
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "replayed", out["error"])

	cancel()
	require.NoError(t, <-done)
	require.NotContains(t, stderr.String(), b.hmacSecret)
}
