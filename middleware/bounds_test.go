package middleware_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// TestHMACNonceShareRefusesOnlyTheOffender (issue 12 §8): a credential
// that sends signed requests faster than its share of the nonce store
// allows gets 429 too_many_requests, and another credential's signed
// requests still pass. With MaxEntries 4 the default share is one nonce
// per key ID. (Before the share, k1 filled the store and every credential
// got 503.)
func TestHMACNonceShareRefusesOnlyTheOffender(t *testing.T) {
	creds := hmCreds()
	k2 := creds.active["k1"]
	k2.KeyID = "k2"
	creds.active["k2"] = k2
	nonces := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: 4})
	s := newHMServer(t, httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: creds, Nonces: nonces}, middleware.Config{})
	send := func(keyID string) hmResponse {
		w := s.postWire()
		sp := specFor(w)
		sp.setParam("keyid", keyID)
		w.sign(t, sp)
		return s.send(t, w)
	}
	r := send("k1")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for range 5 {
		r := send("k1")
		require.Equal(t, http.StatusTooManyRequests, r.status, "k1 over its share: %s", r.body)
		assert.Equal(t, "too_many_requests", r.reply.Error)
	}
	r = send("k2")
	require.Equal(t, http.StatusOK, r.status, "another credential while k1 is over its share: %s", r.body)
	assert.Equal(t, "k2", r.reply.Principal.KeyID)
}

// TestClassifyQuotas: the per-credential quotas map to 429 with their own
// codes, whatever wraps them.
func TestClassifyQuotas(t *testing.T) {
	f := middleware.Classify(wrapErr(httpsig.ErrNonceQuota))
	assert.Equal(t, middleware.Failure{Status: http.StatusTooManyRequests, Code: "too_many_requests",
		Description: "this credential has too many signed requests within the replay window; retry later"}, f)
	f = middleware.Classify(fmt.Errorf("jwt: store one-time token: %w", jwt.ErrOneTimeQuota))
	assert.Equal(t, http.StatusTooManyRequests, f.Status)
	assert.Equal(t, "too_many_requests", f.Code)
}

func wrapErr(err error) error { return fmt.Errorf("httpsig: nonce store: %w", err) }
