package httpsig_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

func TestOnChange(t *testing.T) {
	var (
		mu      sync.Mutex
		changes []keygate.Change
	)
	take := func() []keygate.Change {
		mu.Lock()
		defer mu.Unlock()
		out := changes
		changes = nil
		return out
	}
	clock := newCredClock()
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: credMasterKey(7), Now: clock.Now,
		OnChange: func(_ context.Context, c keygate.Change) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, c)
		}})
	require.NoError(t, err)
	admin := keygate.WithActor(context.Background(), "bk_admin")
	want := func(action keygate.Action, c httpsig.Credential) []keygate.Change {
		return []keygate.Change{{Action: action, Time: clock.Now(), Actor: "bk_admin", KeyID: c.KeyID, Account: c.Account, Mode: c.Mode}}
	}

	s1, cred, err := m.Create(admin, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}})
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionHMACCreated, cred), take())

	clock.Set(time.Minute)
	s2, _, err := m.Rotate(admin, cred.KeyID, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionHMACRotated, cred), take())

	_, err = m.Disable(admin, cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionHMACDisabled, cred), take())
	_, err = m.Disable(admin, cred.KeyID)
	require.NoError(t, err)
	assert.Empty(t, take(), "disabling a disabled credential changes nothing")
	_, err = m.Enable(admin, cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionHMACEnabled, cred), take())

	_, err = m.Revoke(admin, cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionHMACRevoked, cred), take())
	_, err = m.Revoke(admin, cred.KeyID)
	require.NoError(t, err)
	_, _, err = m.Rotate(admin, cred.KeyID, 0)
	require.ErrorIs(t, err, httpsig.ErrRevoked)
	assert.Empty(t, take(), "repeated and failed actions report nothing")

	// Reports never hold a secret.
	_, _, err = m.Create(admin, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	dump := fmt.Sprintf("%+v %#v", take(), cred)
	for _, s := range []httpsig.Secret{s1, s2} {
		raw := s.Reveal()
		for _, form := range []string{string(raw), hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw)} {
			assert.NotContains(t, dump, form)
		}
	}
}
