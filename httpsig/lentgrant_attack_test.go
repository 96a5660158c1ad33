package httpsig_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// TestAttackVerifyLentGrantManager checks VerifyLentGrant against Verify
// and VerifyLent on a Manager (FuzzVerify's credentials are a static
// source, which does not take the Manager's lookup that writes the key
// ID and grant in place): the same decision and error for a good
// signature, a wrong secret, an unknown key ID, a disabled, revoked or
// expired credential, a rotated secret in and out of its grace, a replay
// and a tampered body; on success the same key ID and grant, written over
// a grant that held another credential's (no field of it left behind);
// and the grant Verify returns is its own (writing it changes neither the
// Manager's nor a later request's).
func TestAttackVerifyLentGrantManager(t *testing.T) {
	ctx := context.Background()
	e := newCredEnv(t)
	grant := keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive, Package: "GO",
		Permissions: []string{"orders:read"}, Stores: []string{"store_1", "store_2"}}
	good, _ := e.create(t, httpsig.CreateParams{Grant: grant})
	disabled, _ := e.create(t, httpsig.CreateParams{})
	_, err := e.m.Disable(ctx, disabled.KeyID())
	require.NoError(t, err)
	revoked, _ := e.create(t, httpsig.CreateParams{})
	_, err = e.m.Revoke(ctx, revoked.KeyID())
	require.NoError(t, err)
	expiring, _ := e.create(t, httpsig.CreateParams{Expires: credT0.Add(time.Minute)})
	rotated, _ := e.create(t, httpsig.CreateParams{})
	fresh, _, err := e.m.Rotate(ctx, rotated.KeyID(), time.Hour)
	require.NoError(t, err)
	stale, _ := e.create(t, httpsig.CreateParams{})
	_, _, err = e.m.Rotate(ctx, stale.KeyID(), 0)
	require.NoError(t, err)

	verifier := func() *httpsig.Verifier {
		v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: e.m, Now: e.clock.Now})
		require.NoError(t, err)
		return v
	}
	body := []byte(`{"amount":1}`)
	sign := func(keyID string, secret []byte, tamper bool) *http.Request {
		// The Signer draws a fresh nonce.
		r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders", bytes.NewReader(body))
		s := &httpsig.Signer{KeyID: keyID, Secret: secret, Now: e.clock.Now}
		require.NoError(t, s.Sign(r, body))
		if tamper {
			r.Body = io.NopCloser(bytes.NewReader([]byte(`{"amount":9}`)))
		}
		return r
	}
	clone := func(r *http.Request) *http.Request {
		c := r.Clone(ctx)
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		c.Body = io.NopCloser(bytes.NewReader(b))
		return c
	}
	type tc struct {
		name    string
		keyID   string
		secret  []byte
		tamper  bool
		advance time.Duration
		ok      bool
	}
	cases := []tc{
		{"good", good.KeyID(), good.Reveal(), false, 0, true},
		{"wrong secret", good.KeyID(), disabled.Reveal(), false, 0, false},
		{"unknown key ID", "hk_test_nobody", good.Reveal(), false, 0, false},
		{"disabled", disabled.KeyID(), disabled.Reveal(), false, 0, false},
		{"revoked", revoked.KeyID(), revoked.Reveal(), false, 0, false},
		{"rotated, old secret in grace", rotated.KeyID(), rotated.Reveal(), false, 0, true},
		{"rotated, new secret", rotated.KeyID(), fresh.Reveal(), false, 0, true},
		{"rotated, old secret past grace", stale.KeyID(), stale.Reveal(), false, 0, false},
		{"tampered body", good.KeyID(), good.Reveal(), true, 0, false},
		{"expired credential", expiring.KeyID(), expiring.Reveal(), false, 2 * time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.clock.Set(c.advance)
			defer e.clock.Set(0)
			v, lv, gv := verifier(), verifier(), verifier()
			r := sign(c.keyID, c.secret, c.tamper)
			r2, r3 := clone(r), clone(r)
			a, err := v.Verify(r)
			la, lent, lerr := lv.VerifyLent(r2)
			httpsig.ReleaseBody(lent)
			g := keygate.Grant{Account: "acct_other", Mode: keygate.ModeTest, Package: "XX",
				Permissions: []string{"x:y"}, Stores: []string{"s"}, AllowedIPs: []string{"10.0.0.1"}}
			gid, glent, gerr := gv.VerifyLentGrant(r3, &g)
			httpsig.ReleaseBody(glent)
			if (err == nil) != (lerr == nil) || (err == nil) != (gerr == nil) ||
				err != nil && (err.Error() != lerr.Error() || err.Error() != gerr.Error()) {
				t.Fatalf("Verify %v; VerifyLent %v; VerifyLentGrant %v", err, lerr, gerr)
			}
			if (lent == nil) != (glent == nil) {
				t.Fatalf("VerifyLent lent %v, VerifyLentGrant %v", lent != nil, glent != nil)
			}
			if (err == nil) != c.ok {
				t.Fatalf("Verify: %v, want success %v", err, c.ok)
			}
			if err != nil {
				if gid != "" || !reflect.DeepEqual(la, httpsig.Active{}) || !reflect.DeepEqual(a, httpsig.Active{}) {
					t.Fatalf("on %v: key ID %q, VerifyLent %+v, Verify %+v", err, gid, la, a)
				}
				return
			}
			if gid != a.KeyID || gid != la.KeyID || gid != c.keyID {
				t.Fatalf("key IDs: VerifyLentGrant %q, Verify %q, VerifyLent %q, signed %q", gid, a.KeyID, la.KeyID, c.keyID)
			}
			if !reflect.DeepEqual(g, a.Grant) || !reflect.DeepEqual(g, la.Grant) {
				t.Fatalf("grants: VerifyLentGrant %+v, Verify %+v, VerifyLent %+v", g, a.Grant, la.Grant)
			}
			// A replay of each is refused alike.
			_, err = v.Verify(clone(r))
			_, lent, lerr = lv.VerifyLent(clone(r))
			httpsig.ReleaseBody(lent)
			_, glent, gerr = gv.VerifyLentGrant(clone(r), &g)
			httpsig.ReleaseBody(glent)
			for _, err := range []error{err, lerr, gerr} {
				require.ErrorIs(t, err, httpsig.ErrReplayed)
			}
		})
	}

	// Verify's grant is the caller's own: writing it changes nothing the
	// Manager lends to the next request.
	v := verifier()
	a, err := v.Verify(sign(good.KeyID(), good.Reveal(), false))
	require.NoError(t, err)
	a.Grant.Permissions[0], a.Grant.Stores[0] = "admin:*", "store_evil"
	var g keygate.Grant
	_, lent, err := verifier().VerifyLentGrant(sign(good.KeyID(), good.Reveal(), false), &g)
	httpsig.ReleaseBody(lent)
	require.NoError(t, err)
	require.Equal(t, grant.Permissions, g.Permissions)
	require.Equal(t, grant.Stores, g.Stores)
}
