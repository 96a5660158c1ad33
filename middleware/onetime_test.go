package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

func newOneTimeFixture(t *testing.T) (*tokenFixture, *jwt.OneTimeTokens, *middleware.Authenticator, http.Handler) {
	t.Helper()
	f := newTokenFixture(t, jwt.HS256, 0)
	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: jwt.NewMemoryOneTimeStore()})
	require.NoError(t, err)
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Tokens: f.verifier, OneTime: ot})
	require.NoError(t, err)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := keygate.FromContext(r.Context())
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(p.Method)+" "+p.Account+" "+string(body))
	})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/checkout/{order}/confirm", auth.Require(middleware.Rule{OneTime: "checkout:confirm", EntityPathValue: "order"})(echo))
	mux.Handle("POST /v1/refunds", auth.Require(middleware.Rule{OneTime: "refund:create"})(echo))
	mux.Handle("POST /v1/orders", auth.Handler(echo))
	return f, ot, auth, mux
}

func issueOneTime(t *testing.T, ot *jwt.OneTimeTokens, p jwt.OneTimeParams) string {
	t.Helper()
	p.Account, p.Mode, p.KeyID = "acct_1", keygate.ModeTest, "0jPS8MolTrPGFJph"
	tok, _, err := ot.Issue(context.Background(), p)
	require.NoError(t, err)
	return tok
}

func post(h http.Handler, path, credential, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+credential)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestOneTimeTokens(t *testing.T) {
	f, ot, _, h := newOneTimeFixture(t)

	tok := issueOneTime(t, ot, jwt.OneTimeParams{Purpose: "checkout:confirm", EntityID: "order_7", Body: []byte(`{"total":42}`)})
	rec := post(h, "/v1/checkout/order_7/confirm", tok, `{"total":42}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, `one_time acct_1 {"total":42}`, rec.Body.String(), "the handler reads the body again")
	rec = post(h, "/v1/checkout/order_7/confirm", tok, `{"total":42}`)
	assert.Equal(t, 401, rec.Code, "used once")
	assert.Contains(t, rec.Body.String(), "one-time token is invalid")

	for name, tc := range map[string]struct{ path, body string }{
		"another entity": {"/v1/checkout/order_8/confirm", `{"total":42}`},
		"another body":   {"/v1/checkout/order_7/confirm", `{"total":1}`},
		"another route":  {"/v1/refunds", `{"total":42}`},
		"a normal route": {"/v1/orders", `{"total":42}`},
	} {
		tok := issueOneTime(t, ot, jwt.OneTimeParams{Purpose: "checkout:confirm", EntityID: "order_7", Body: []byte(`{"total":42}`)})
		rec := post(h, tc.path, tok, tc.body)
		assert.Equal(t, 401, rec.Code, name)
		assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`, name)
		assert.NotContains(t, rec.Body.String(), tok, name)
	}

	// Other credentials never open a one-time route.
	for name, cred := range map[string]string{"secret key": f.testSK, "access token": f.token(t, keygate.ModeTest)} {
		rec := post(h, "/v1/refunds", cred, "")
		assert.Equal(t, 401, rec.Code, name)
		assert.Contains(t, rec.Body.String(), "accepts only a one-time token", name)
	}

	// A body over the limit is refused before the token is spent.
	tok = issueOneTime(t, ot, jwt.OneTimeParams{Purpose: "refund:create"})
	rec = post(h, "/v1/refunds", tok, strings.Repeat("x", middleware.MaxOneTimeBody+1))
	assert.Equal(t, 400, rec.Code)
	rec = post(h, "/v1/refunds", tok, "")
	assert.Equal(t, 200, rec.Code, "the token survived the refused request")
}

func TestOneTimeTokenConcurrentUse(t *testing.T) {
	_, ot, _, h := newOneTimeFixture(t)
	tok := issueOneTime(t, ot, jwt.OneTimeParams{Purpose: "refund:create"})
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch post(h, "/v1/refunds", tok, "").Code {
			case 200:
				ok.Add(1)
			case 401, 429:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Equal(t, int64(199), refused.Load(), "every other use refused (401, or 429 once the address has failed 100 times)")
}
