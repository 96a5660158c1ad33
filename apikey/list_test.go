package apikey_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/apikey/apikeytest"
	"github.com/keygate/keygate/internal/listtest"
)

func TestCreatedByAndHint(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	admin := keygate.WithActor(context.Background(), "admin@example.com")
	key, rec, err := m.Create(admin, params)
	require.NoError(t, err)
	assert.Equal(t, "admin@example.com", rec.CreatedBy)
	assert.Len(t, rec.Hint, apikey.HintLen)
	checksum := key.Reveal()[len(key.Reveal())-apikey.ChecksumLen:]
	assert.True(t, strings.HasSuffix(checksum, rec.Hint), "the hint is the tail of the checksum")

	// Get, List and Verify return both.
	got, err := m.Get(context.Background(), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, rec.CreatedBy, got.CreatedBy)
	assert.Equal(t, rec.Hint, got.Hint)
	verified, err := m.Verify(context.Background(), key.Reveal())
	require.NoError(t, err)
	assert.Equal(t, rec.Hint, verified.Hint)

	// The authenticated caller, when no actor is set; nobody otherwise.
	caller := keygate.NewContext(context.Background(), keygate.Principal{KeyID: "bk_caller"})
	_, rec, err = m.Create(caller, params)
	require.NoError(t, err)
	assert.Equal(t, "bk_caller", rec.CreatedBy)
	_, rec, err = m.Create(context.Background(), params)
	require.NoError(t, err)
	assert.Empty(t, rec.CreatedBy)

	// Metadata updates keep both.
	name := "renamed"
	updated, err := m.Update(admin, got.ID, apikey.Changes{Name: &name})
	require.NoError(t, err)
	assert.Equal(t, got.CreatedBy, updated.CreatedBy)
	assert.Equal(t, got.Hint, updated.Hint)
}

func TestCreatedByIsText(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	for _, tc := range []struct {
		name, actor, want string
	}{
		{"text", "Zoë <zoe@example.com>", "Zoë <zoe@example.com>"},
		{"control characters", "evil\r\nforged: line\x00", "evil\uFFFD\uFFFDforged: line\uFFFD"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"too long", strings.Repeat("a", 250), strings.Repeat("a", 200)},
		{"too long, cut at a character", "a" + strings.Repeat("é", 150), "a" + strings.Repeat("é", 99)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rec, err := m.Create(keygate.WithActor(context.Background(), tc.actor), params)
			require.NoError(t, err)
			assert.Equal(t, tc.want, rec.CreatedBy)
			assert.LessOrEqual(t, len(rec.CreatedBy), 200)
			assert.True(t, utf8.ValidString(rec.CreatedBy))
		})
	}
}

func TestRotateChangesHint(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	ctx := context.Background()
	_, rec, err := m.Create(ctx, params)
	require.NoError(t, err)
	hints := map[string]bool{rec.Hint: true}
	for range 20 {
		key, rotated, err := m.Rotate(ctx, rec.ID, time.Hour)
		require.NoError(t, err)
		assert.Equal(t, key.Reveal()[len(key.Reveal())-apikey.HintLen:], rotated.Hint, "the new key's hint")
		got, err := m.Get(ctx, rec.ID)
		require.NoError(t, err)
		assert.Equal(t, rotated.Hint, got.Hint)
		assert.Equal(t, rec.CreatedBy, got.CreatedBy)
		hints[rotated.Hint] = true
	}
	assert.Greater(t, len(hints), 10, "hints vary from key to key")
}

func TestListFilter(t *testing.T) {
	m, c := newManager(t, apikey.Config{})
	ctx := context.Background()
	var all []apikey.Record
	for i, acct := range []string{"acct_1", "acct_2", "acct_1", "acct_3", "acct_2"} {
		p := params
		p.Account = acct
		if i%2 == 1 {
			p.Mode = keygate.ModeLive // pending review
		}
		_, rec, err := m.Create(ctx, p)
		require.NoError(t, err)
		all = append(all, rec)
		c.Advance(time.Second)
	}
	revoked, err := m.Revoke(ctx, all[2].ID)
	require.NoError(t, err)
	all[2] = revoked

	idsOf := func(recs []apikey.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	pick := func(keep func(apikey.Record) bool) []string {
		return idsOf(slices.DeleteFunc(slices.Clone(all), func(r apikey.Record) bool { return !keep(r) }))
	}
	for name, tc := range map[string]struct {
		f    apikey.ListFilter
		want []string
	}{
		"every account":    {apikey.ListFilter{}, idsOf(all)},
		"one account":      {apikey.ListFilter{Account: "acct_2"}, pick(func(r apikey.Record) bool { return r.Account == "acct_2" })},
		"live":             {apikey.ListFilter{Mode: keygate.ModeLive}, pick(func(r apikey.Record) bool { return r.Mode == keygate.ModeLive })},
		"revoked":          {apikey.ListFilter{Status: apikey.StatusRevoked}, []string{all[2].ID}},
		"pending":          {apikey.ListFilter{Status: apikey.StatusPendingReview}, []string{all[1].ID, all[3].ID}},
		"active of acct_1": {apikey.ListFilter{Account: "acct_1", Status: apikey.StatusActive}, []string{all[0].ID}},
		"after the second": {apikey.ListFilter{AfterCreated: all[1].Created, AfterID: all[1].ID}, idsOf(all[2:])},
		"limit":            {apikey.ListFilter{Limit: 2}, idsOf(all[:2])},
	} {
		t.Run(name, func(t *testing.T) {
			recs, err := m.List(ctx, tc.f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, idsOf(recs))
		})
	}

	for _, f := range []apikey.ListFilter{
		{Account: "acct 1"},
		{Account: strings.Repeat("a", 129)},
		{Mode: "prod"},
		{Status: "disabled"},
		{Kind: "rk"},
		{AfterID: "a b"},
		{Limit: -1},
	} {
		_, err := m.List(ctx, f)
		assert.ErrorIs(t, err, apikey.ErrInvalidParams, "%+v", f)
	}
}

func TestStatusValid(t *testing.T) {
	for _, s := range []apikey.Status{apikey.StatusPendingReview, apikey.StatusActive, apikey.StatusRevoked} {
		assert.True(t, s.Valid(), s)
	}
	for _, s := range []apikey.Status{"", "disabled", "Active"} {
		assert.False(t, s.Valid(), s)
	}
}

// listBugStore is a MemoryStore whose List has a bug, to check that the
// suite catches it.
type listBugStore struct {
	*apikey.MemoryStore
	list func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error)
}

func (s listBugStore) List(ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
	return s.list(s.MemoryStore, ctx, f)
}

// listBug is a List bug, with the test of the suite that catches it.
type listBug struct {
	list   func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error)
	failed string
}

// listBugs are the List bugs the suite must catch, with a test that
// catches each.
var listBugs = map[string]listBug{
	"requires an account, as before": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		if f.Account == "" {
			return nil, ctx.Err()
		}
		return s.List(ctx, f)
	}, "ListEveryAccount"},
	"ignores the status": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		f.Status = ""
		return s.List(ctx, f)
	}, "ListFilters"},
	"ignores the kind": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		f.Kind = ""
		return s.List(ctx, f)
	}, "ListFilters"},
	"ignores the expiry": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		f.ExpiresBefore = time.Time{}
		return s.List(ctx, f)
	}, "ListFilters"},
	"counts a key without expiry as expiring": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		if f.ExpiresBefore.IsZero() {
			return s.List(ctx, f)
		}
		before := f.ExpiresBefore
		f.ExpiresBefore = time.Time{}
		recs, err := s.List(ctx, f)
		return slices.DeleteFunc(recs, func(r apikey.Record) bool { return !r.Expires.IsZero() && !r.Expires.Before(before) }), err
	}, "ListFilters"},
	"ignores the limit": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		f.Limit = 0
		return s.List(ctx, f)
	}, "ListPagination"},
	"ignores the position": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		f.AfterCreated, f.AfterID = time.Time{}, ""
		return s.List(ctx, f)
	}, "ListPagination"},
	"compares only times to the position": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		if !f.AfterCreated.IsZero() {
			f.AfterID = "\xff"
		}
		return s.List(ctx, f)
	}, "ListPagination"},
	"limits before filtering": {func(s *apikey.MemoryStore, ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
		recs, err := s.List(ctx, apikey.ListFilter{AfterCreated: f.AfterCreated, AfterID: f.AfterID, Limit: f.Limit})
		return slices.DeleteFunc(recs, func(r apikey.Record) bool {
			return f.Account != "" && r.Account != f.Account || f.Mode != "" && r.Mode != f.Mode || f.Status != "" && r.Status != f.Status
		}), err
	}, "ListPagination"},
}

// TestSuiteCatchesBrokenLists runs the suite, in a child process, against
// stores with one List bug each, and checks that the right test fails.
func TestSuiteCatchesBrokenLists(t *testing.T) {
	listtest.CatchesBugs(t, "APIKEYTEST_BROKEN", listBugs, func(b listBug) string { return b.failed }, func(b listBug) {
		apikeytest.TestStore(t, func(*testing.T) apikey.Store {
			return listBugStore{MemoryStore: apikey.NewMemoryStore(), list: b.list}
		})
	})
}
