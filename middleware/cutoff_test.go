package middleware_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// TestOneTimeTokenOfARotatedHMACCredential: a one-time token obtained by
// an HMAC credential goes with the secret when the credential is rotated
// without grace (or disabled, even if enabled again), as an API key's
// tokens do; a rotation with grace keeps it, and a token issued after the
// cut-off's second works. Before the HMAC cut-off, the token of a
// credential rotated without grace was accepted until it expired.
func TestOneTimeTokenOfARotatedHMACCredential(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(m *httpsig.Manager, id string) error
		want   int
	}{
		{"untouched", func(*httpsig.Manager, string) error { return nil }, 200},
		{"rotated with grace", func(m *httpsig.Manager, id string) error { _, _, err := m.Rotate(ctx, id, time.Hour); return err }, 200},
		{"rotated without grace", func(m *httpsig.Manager, id string) error { _, _, err := m.Rotate(ctx, id, 0); return err }, 401},
		{"disabled then enabled", func(m *httpsig.Manager, id string) error {
			if _, err := m.Disable(ctx, id); err != nil {
				return err
			}
			_, err := m.Enable(ctx, id)
			return err
		}, 401},
		{"revoked", func(m *httpsig.Manager, id string) error { _, err := m.Revoke(ctx, id); return err }, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newAccessClock()
			creds, err := httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{7}, httpsig.MasterKeyLen), Now: clock.Now})
			require.NoError(t, err)
			_, cred, err := creds.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
			require.NoError(t, err)
			ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: jwt.NewMemoryOneTimeStore(), Now: clock.Now})
			require.NoError(t, err)
			auth, err := middleware.New(middleware.Config{APIKeys: newKeyManager(t), OneTime: ot, ClientCredentials: creds})
			require.NoError(t, err)
			h := auth.Require(middleware.Rule{OneTime: "refund:create"})(principalJSON)
			issue := func() string {
				tok, _, err := ot.Issue(ctx, jwt.OneTimeParams{Purpose: "refund:create", Account: "acct_1", Mode: keygate.ModeTest, KeyID: cred.KeyID})
				require.NoError(t, err)
				return tok
			}
			before, sameSecond := issue(), ""
			clock.advance(10 * time.Second)
			require.NoError(t, tc.change(creds, cred.KeyID))
			clock.advance(500 * time.Millisecond)
			sameSecond = issue()

			rec := post(h, "/", before, "")
			assert.Equal(t, tc.want, rec.Code, "a token issued before the change: %s", rec.Body)
			rec = post(h, "/", sameSecond, "")
			assert.Equal(t, tc.want, rec.Code, "a token issued in the change's second: %s", rec.Body)
			if tc.want == 401 {
				assert.Contains(t, rec.Body.String(), "no longer valid")
			}
			clock.advance(time.Second)
			want := 200
			if tc.name == "revoked" {
				want = 401 // a revoked credential obtains nothing that works
			}
			rec = post(h, "/", issue(), "")
			assert.Equal(t, want, rec.Code, "a token issued after the change's second: %s", rec.Body)
		})
	}
}
