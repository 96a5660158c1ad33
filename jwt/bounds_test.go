package jwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

// TestOneTimeIssueDefaultBound is the regression test of issue 12 §8 for
// one-time tokens, with the default bound: one credential cannot hold more
// than 1,000 outstanding tokens, while another credential still gets
// them. (Before the bound, Issue stored every token asked for.)
func TestOneTimeIssueDefaultBound(t *testing.T) {
	e := newOneTimeEnv(t)
	ctx := context.Background()
	for i := range 1000 {
		_, _, err := e.ot.Issue(ctx, baseParams)
		require.NoError(t, err, "token %d within the bound", i)
	}
	_, _, err := e.ot.Issue(ctx, baseParams)
	require.ErrorIs(t, err, jwt.ErrOneTimeQuota, "a credential holding 1,000 outstanding one-time tokens got another")
	other := baseParams
	other.KeyID = "key0000000000002"
	_, _, err = e.ot.Issue(ctx, other)
	require.NoError(t, err, "another credential of the account")
}

// TestOneTimeIssueQuota: with MaxPerKey 2, a credential's third
// outstanding token is refused with ErrOneTimeQuota (not
// ErrOneTimeInvalid) while other credentials still get theirs; redeeming
// one, or letting them expire, makes room.
func TestOneTimeIssueQuota(t *testing.T) {
	clock := newClock()
	store := jwt.NewMemoryOneTimeStore()
	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: store, MaxPerKey: 2, Now: clock.Now})
	require.NoError(t, err)
	ctx := context.Background()
	issue := func(p jwt.OneTimeParams) (string, error) {
		tok, _, err := ot.Issue(ctx, p)
		return tok, err
	}
	first, err := issue(baseParams)
	require.NoError(t, err)
	_, err = issue(baseParams)
	require.NoError(t, err)
	_, err = issue(baseParams)
	require.ErrorIs(t, err, jwt.ErrOneTimeQuota)
	assert.NotErrorIs(t, err, jwt.ErrOneTimeInvalid)
	assert.Equal(t, 2, store.Outstanding(baseParams.Account, baseParams.KeyID))

	others := []jwt.OneTimeParams{baseParams, baseParams, baseParams}
	others[0].KeyID = "key0000000000002"
	others[1].Account = "acct_2"
	others[2].KeyID = ""
	for _, p := range others {
		_, err := issue(p)
		require.NoError(t, err, "%s/%s while another credential is at its quota", p.Account, p.KeyID)
	}

	_, err = ot.Redeem(ctx, first, jwt.Use{Purpose: purpose})
	require.NoError(t, err)
	_, err = issue(baseParams)
	require.NoError(t, err, "a token after one was redeemed")
	_, err = issue(baseParams)
	require.ErrorIs(t, err, jwt.ErrOneTimeQuota)

	clock.Advance(jwt.DefaultOneTimeTTL)
	for i := range 2 {
		_, err := issue(baseParams)
		require.NoError(t, err, "token %d once the others expired", i)
	}
	_, err = issue(baseParams)
	require.ErrorIs(t, err, jwt.ErrOneTimeQuota)
}

func TestOneTimeConfigRefusesNegativeQuota(t *testing.T) {
	_, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{MaxPerKey: -1})
	require.ErrorIs(t, err, jwt.ErrInvalidConfig)
}

// TestRefreshFamiliesDefaultBound is the regression test of issue 12 §8
// for refresh tokens, with the default bound: one client and subject
// signing in 101 times hold 100 open families; the first is revoked.
// (Before the bound, every family stayed open.)
func TestRefreshFamiliesDefaultBound(t *testing.T) {
	clock := newClock()
	rt, err := jwt.NewRefreshTokens(jwt.RefreshConfig{Now: clock.Now})
	require.NoError(t, err)
	ctx := context.Background()
	toks := make([]string, 101)
	for i := range toks {
		toks[i], _, err = rt.Issue(ctx, testGrant)
		require.NoError(t, err)
		clock.Advance(time.Second)
	}
	_, _, err = rt.Rotate(ctx, toks[0], clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshRevoked, "the oldest of 101 families of one client and subject is still open")
	for _, tok := range toks[1:] {
		_, _, err := rt.Rotate(ctx, tok, clientA)
		require.NoError(t, err, "one of the 100 newest families")
	}
}

// TestRefreshFamiliesBound: with MaxFamilies 2, a third sign-in of one
// client and subject revokes the oldest family, reported through OnChange;
// other subjects and clients are not touched; families already revoked or
// expired do not count.
func TestRefreshFamiliesBound(t *testing.T) {
	clock := newClock()
	var events []keygate.Change
	rt, err := jwt.NewRefreshTokens(jwt.RefreshConfig{MaxFamilies: 2, IdleTimeout: time.Hour, Now: clock.Now,
		OnChange: func(_ context.Context, ev keygate.Change) { events = append(events, ev) }})
	require.NoError(t, err)
	ctx := context.Background()
	issue := func(g jwt.RefreshGrant) (string, jwt.RefreshRecord) {
		t.Helper()
		tok, rec, err := rt.Issue(ctx, g)
		require.NoError(t, err)
		clock.Advance(time.Second)
		return tok, rec
	}
	status := func(tok string) jwt.RefreshStatus {
		t.Helper()
		rec, err := rt.Lookup(ctx, tok)
		require.NoError(t, err)
		return rec.Status
	}
	otherSubject, otherClient := testGrant, testGrant
	otherSubject.Subject = "user_2"
	otherClient.ClientID = clientB

	t1, r1 := issue(testGrant)
	t2, _ := issue(testGrant)
	o1, _ := issue(otherSubject)
	o2, _ := issue(otherClient)
	require.Empty(t, events, "nothing over the bound yet")
	t3, _ := issue(testGrant)
	assert.Equal(t, jwt.RefreshRevoked, status(t1), "the oldest family")
	for _, tok := range []string{t2, t3, o1, o2} {
		assert.Equal(t, jwt.RefreshActive, status(tok))
	}
	require.Len(t, events, 1)
	ev := events[0]
	assert.Equal(t, keygate.ActionRefreshRevoked, ev.Action)
	assert.Equal(t, r1.Family, ev.TokenID)
	assert.Equal(t, clientA, ev.KeyID)
	assert.Equal(t, clientA, ev.Actor)
	assert.Equal(t, "user_1", ev.Subject)
	assert.Equal(t, testGrant.Account, ev.Account)
	_, _, err = rt.Rotate(ctx, t1, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshRevoked)

	// A family revoked by its client, or idle past its timeout, leaves
	// room: no other is revoked.
	require.NoError(t, rt.Revoke(ctx, t2, clientA))
	events = nil
	t4, _ := issue(testGrant)
	assert.Equal(t, jwt.RefreshActive, status(t3))
	assert.Equal(t, jwt.RefreshActive, status(t4))
	assert.Empty(t, events)
	clock.Advance(time.Hour) // t3 and t4 idle out
	t5, _ := issue(testGrant)
	t6, _ := issue(testGrant)
	assert.Empty(t, events, "expired families do not count")
	// A rotated family is still one family.
	t5b, _, err := rt.Rotate(ctx, t5, clientA)
	require.NoError(t, err)
	clock.Advance(time.Second)
	issue(testGrant)
	require.Len(t, events, 1)
	assert.Equal(t, jwt.RefreshRevoked, status(t5b), "the oldest open family, rotated once")
	assert.Equal(t, jwt.RefreshActive, status(t6))
}

func TestRefreshConfigRefusesNegativeMaxFamilies(t *testing.T) {
	_, err := jwt.NewRefreshTokens(jwt.RefreshConfig{MaxFamilies: -1})
	require.ErrorIs(t, err, jwt.ErrInvalidConfig)
}
