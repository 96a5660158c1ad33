package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
)

// TestIdempotentRetry: a retry with the same Idempotency-Key creates one
// key pair, answers with the same IDs and status, says it is a replay, and
// shows no plaintext key.
func TestIdempotentRetry(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_i", "GO")
	body := `{"account":"acct_i","mode":"test","name":"till"}`
	send := func(key, idem, path, body string) response {
		return e.send(req{method: "POST", path: path, key: key, body: body, header: map[string]string{"Idempotency-Key": idem}})
	}

	first := send(e.adminKey, "retry-1", "/keys", body)
	mustStatus(t, first, http.StatusCreated)
	assert.Empty(t, first.header.Get("Idempotent-Replayed"))
	var p1 admin.KeyPair
	first.decode(t, &p1)
	require.NotEmpty(t, p1.Secret.Key)

	for range 3 {
		again := send(e.adminKey, "retry-1", "/keys", body)
		mustStatus(t, again, http.StatusCreated)
		assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		var p2 admin.KeyPair
		again.decode(t, &p2)
		assert.Equal(t, p1.Publishable.ID, p2.Publishable.ID)
		assert.Equal(t, p1.Secret.ID, p2.Secret.ID)
		assert.Empty(t, p2.Publishable.Key, "no plaintext in a replay")
		assert.Empty(t, p2.Secret.Key, "no plaintext in a replay")
		assert.NotContains(t, string(again.body), `"key"`)
		assert.NotContains(t, string(again.body), p1.Secret.Key)
	}
	recs, err := e.keys.List(t.Context(), apikey.ListFilter{Account: "acct_i"})
	require.NoError(t, err)
	assert.Len(t, recs, 2, "one pair, whatever the retries")

	// The same key with another body, or another path: 422.
	r := send(e.adminKey, "retry-1", "/keys", `{"account":"acct_i","mode":"live"}`)
	mustStatus(t, r, http.StatusUnprocessableEntity)
	assert.Equal(t, admin.CodeIdempotencyKeyReused, errorCode(t, r))
	r = send(e.adminKey, "retry-1", "/accounts", body)
	mustStatus(t, r, http.StatusUnprocessableEntity)

	// Keys are scoped to the caller: another admin key's retry-1 is its own.
	r = send(e.writeKey, "retry-1", "/keys", body)
	mustStatus(t, r, http.StatusCreated)
	assert.Empty(t, r.header.Get("Idempotent-Replayed"))

	// A failed call is not remembered: the key may be used again.
	r = send(e.adminKey, "retry-2", "/keys", `{"account":"acct_i","mode":"nope"}`)
	mustStatus(t, r, http.StatusBadRequest)
	r = send(e.adminKey, "retry-2", "/keys", `{"account":"acct_i","mode":"nope"}`)
	mustStatus(t, r, http.StatusBadRequest)
	assert.Empty(t, r.header.Get("Idempotent-Replayed"))
	r = send(e.adminKey, "retry-2", "/keys", `{"account":"acct_i","mode":"test","kind":"pk"}`)
	mustStatus(t, r, http.StatusCreated)

	// A rotation replayed rotates once, and shows the key once.
	r = send(e.adminKey, "rot-1", "/keys/"+p1.Secret.ID+"/rotate", `{"grace_seconds":0}`)
	mustStatus(t, r, http.StatusOK)
	var rot admin.Key
	r.decode(t, &rot)
	require.NotEmpty(t, rot.Key)
	r = send(e.adminKey, "rot-1", "/keys/"+p1.Secret.ID+"/rotate", `{"grace_seconds":0}`)
	mustStatus(t, r, http.StatusOK)
	assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	assert.NotContains(t, string(r.body), rot.Key)
	assert.Equal(t, http.StatusOK, e.whoami(rot.Key), "the replay did not rotate again")

	// The same for an HMAC credential's secret.
	r = send(e.adminKey, "hmac-1", "/hmac-keys", `{"account":"acct_i","mode":"test"}`)
	mustStatus(t, r, http.StatusCreated)
	var c1, c2 admin.HMACKey
	r.decode(t, &c1)
	r = send(e.adminKey, "hmac-1", "/hmac-keys", `{"account":"acct_i","mode":"test"}`)
	mustStatus(t, r, http.StatusCreated)
	r.decode(t, &c2)
	assert.Equal(t, c1.ID, c2.ID)
	assert.Empty(t, c2.Secret)
	assert.NotContains(t, string(r.body), c1.Secret)

	// Bad Idempotency-Key headers.
	for _, k := range []string{strings.Repeat("k", 256), "caf\xc3\xa9"} {
		r := send(e.adminKey, k, "/accounts", `{"name":"x"}`)
		mustStatus(t, r, http.StatusBadRequest)
		assert.Equal(t, admin.CodeInvalidRequest, errorCode(t, r))
	}
	r = send(e.adminKey, strings.Repeat("k", 255), "/accounts", `{"name":"x"}`)
	mustStatus(t, r, http.StatusCreated)

	e.checkDocumented(t)
	e.checkNoSecrets(t)
}

// TestIdempotentConcurrentRetries: retries sent at once run the call once.
func TestIdempotentConcurrentRetries(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createAccount("acct_c", "GO")
	const n = 24
	for round := range 5 {
		idem := fmt.Sprintf("burst-%d", round)
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = e.send(req{method: "POST", path: "/keys", key: e.adminKey,
					body: `{"account":"acct_c","mode":"test","kind":"sk"}`, header: map[string]string{"Idempotency-Key": idem}})
			}()
		}
		close(start)
		wg.Wait()
		ids := map[string]bool{}
		created := 0
		for _, r := range results {
			switch r.status {
			case http.StatusCreated:
				var p admin.KeyPair
				r.decode(t, &p)
				ids[p.Secret.ID] = true
				if r.header.Get("Idempotent-Replayed") == "" {
					created++
				}
			case http.StatusConflict:
				assert.Equal(t, admin.CodeIdempotencyKeyInUse, errorCode(t, r))
			default:
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
		assert.Equal(t, 1, created, "exactly one call ran")
		assert.Len(t, ids, 1, "every success names the same key")
	}
	recs, err := e.keys.List(t.Context(), apikey.ListFilter{Account: "acct_c"})
	require.NoError(t, err)
	assert.Len(t, recs, 5)
	e.checkDocumented(t)
}
