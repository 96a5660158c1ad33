package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// nginx configured with X-Original-URI alone (no X-Original-Method, as
// many auth_request guides have it) asks with the original method. The
// client's own X-Forwarded-Uri (the same target) and X-Forwarded-Method,
// which nginx passes on, must not replace that method: DELETE checked as
// GET.
func TestForwardAuthClientMethodDoesNotReplaceQuestions(t *testing.T) {
	f := newFixture(t, nil, nil)
	q := httptest.NewRequest("DELETE", "/auth/verify", nil)
	q.RemoteAddr = loopback
	maps(q.Header, bearer(f.sk))
	q.Header.Set("X-Original-Uri", "/orders/42")       // nginx's
	q.Header.Set("X-Forwarded-Uri", "/orders/42")      // the client's
	q.Header.Set("X-Forwarded-Method", http.MethodGet) // the client's
	rec := httptest.NewRecorder()
	f.gw.ForwardAuth().ServeHTTP(rec, q)
	assert.NotEqual(t, http.StatusOK, rec.Code, "DELETE /orders/42 was checked as GET")
}
