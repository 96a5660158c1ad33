package apikey_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// changeLog collects the changes a manager reports.
type changeLog struct {
	mu      sync.Mutex
	changes []keygate.Change
}

func (l *changeLog) record(_ context.Context, c keygate.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

// take returns the changes reported since the last call.
func (l *changeLog) take() []keygate.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.changes
	l.changes = nil
	return out
}

func TestOnChange(t *testing.T) {
	log := &changeLog{}
	m, c := newManager(t, apikey.Config{OnChange: log.record})
	admin := keygate.WithActor(context.Background(), "bk_admin")
	want := func(action keygate.Action, actor string, rec apikey.Record) []keygate.Change {
		return []keygate.Change{{Action: action, Time: c.Now(), Actor: actor, KeyID: rec.ID, Account: rec.Account, Mode: rec.Mode}}
	}

	live := params
	live.Mode = keygate.ModeLive
	key, rec, err := m.Create(admin, live)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyCreated, "bk_admin", rec), log.take())

	c.Advance(time.Minute)
	rec, err = m.Approve(admin, rec.ID, "reviewer@example.com")
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyApproved, "reviewer@example.com", rec), log.take(), "the approver is the actor")

	name := "till 5"
	_, err = m.Update(admin, rec.ID, apikey.Changes{Name: &name})
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyUpdated, "bk_admin", rec), log.take())

	newKey, _, err := m.Rotate(admin, rec.ID, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyRotated, "bk_admin", rec), log.take())

	_, err = m.Disable(admin, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyDisabled, "bk_admin", rec), log.take())
	_, err = m.Disable(admin, rec.ID)
	require.NoError(t, err)
	assert.Empty(t, log.take(), "disabling a disabled key changes nothing")
	_, err = m.Enable(admin, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyEnabled, "bk_admin", rec), log.take())

	// Without WithActor, the authenticated caller in the context acts.
	caller := keygate.NewContext(context.Background(), keygate.Principal{KeyID: "bk_caller"})
	_, err = m.Revoke(caller, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, want(keygate.ActionKeyRevoked, "bk_caller", rec), log.take())
	_, err = m.Revoke(caller, rec.ID)
	require.NoError(t, err)
	assert.Empty(t, log.take(), "revoking a revoked key changes nothing")

	// Failed actions report nothing.
	_, _, err = m.Rotate(admin, rec.ID, 0)
	require.ErrorIs(t, err, apikey.ErrRevoked)
	_, err = m.Approve(admin, "nosuchkey", "reviewer@example.com")
	require.Error(t, err)
	assert.Empty(t, log.take())

	// A pair is two creations; no report holds a secret.
	pk, sk, err := m.CreatePair(context.Background(), params)
	require.NoError(t, err)
	pair := log.take()
	require.Len(t, pair, 2)
	assert.Equal(t, []string{pk.ID(), sk.ID()}, []string{pair[0].KeyID, pair[1].KeyID})
	assert.Empty(t, pair[0].Actor, "nobody known")
	dump := fmt.Sprintf("%+v %#v", pair, pair)
	for _, k := range []apikey.Key{key, newKey, pk, sk} {
		assert.NotContains(t, dump, k.Reveal())
		assert.NotContains(t, dump, k.Reveal()[len(k.Reveal())-49:], "nor the secret part")
	}
}

// TestRecordsHoldNoPlaintext: nothing a record holds shares memory with the
// plaintext key (a substring would keep the whole key alive in the store).
func TestRecordsHoldNoPlaintext(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	key, rec, err := m.Create(context.Background(), params)
	require.NoError(t, err)
	rotated, rec2, err := m.Rotate(context.Background(), rec.ID, 0)
	require.NoError(t, err)
	for _, tc := range []struct {
		key apikey.Key
		rec apikey.Record
	}{{key, rec}, {rotated, rec2}} {
		plain := tc.key.Reveal()
		start := uintptr(unsafe.Pointer(unsafe.StringData(plain)))
		end := start + uintptr(len(plain))
		for _, s := range []string{tc.rec.ID, tc.rec.Hint, tc.rec.Account, tc.rec.Name} {
			if s == "" {
				continue
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
			assert.False(t, p >= start && p < end, "%q points into the plaintext key", s)
		}
	}
}
