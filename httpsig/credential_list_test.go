package httpsig_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/httpsig/httpsigtest"
	"github.com/keygate/keygate/internal/listtest"
)

func TestStatusValid(t *testing.T) {
	assert.True(t, httpsig.StatusActive.Valid())
	assert.True(t, httpsig.StatusRevoked.Valid())
	for _, s := range []httpsig.Status{"", "disabled", "pending_review"} {
		assert.False(t, s.Valid(), s)
	}
}

// listBugStore is a MemoryCredentialStore whose List has a bug, to check
// that the suite catches it.
type listBugStore struct {
	*httpsig.MemoryCredentialStore
	list func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error)
}

func (s listBugStore) List(ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
	return s.list(s.MemoryCredentialStore, ctx, f)
}

type listFunc = func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error)

// listBug is a List bug, with the test of the suite that catches it.
type listBug struct {
	list   listFunc
	failed string
}

// listBugs are the List bugs the suite must catch, with a test that
// catches each.
var listBugs = map[string]listBug{
	"requires an account, as before": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		if f.Account == "" {
			return nil, ctx.Err()
		}
		return s.List(ctx, f)
	}, "ListEveryAccount"},
	"ignores the status": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		f.Status = ""
		return s.List(ctx, f)
	}, "ListFilters"},
	"ignores the limit": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		f.Limit = 0
		return s.List(ctx, f)
	}, "ListPagination"},
	"ignores the position": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		f.AfterCreated, f.AfterID = time.Time{}, ""
		return s.List(ctx, f)
	}, "ListPagination"},
	"compares only times to the position": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		if !f.AfterCreated.IsZero() {
			f.AfterID = "\xff"
		}
		return s.List(ctx, f)
	}, "ListPagination"},
	"includes the position": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		if f.AfterID != "" {
			f.AfterID = f.AfterID[:len(f.AfterID)-1]
		}
		return s.List(ctx, f)
	}, "ListPagination"},
	"looks the position up by key ID": {func(s *httpsig.MemoryCredentialStore, ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
		after := f.AfterID
		f.AfterCreated, f.AfterID, f.Limit = time.Time{}, "", 0
		cs, err := s.List(ctx, f)
		if i := slices.IndexFunc(cs, func(c httpsig.Credential) bool { return c.KeyID == after }); i >= 0 {
			cs = cs[i+1:]
		}
		return cs, err
	}, "ListAfterPosition"},
}

// TestSuiteCatchesBrokenLists runs the suite, in a child process, against
// stores with one List bug each, and checks that the right test fails.
func TestSuiteCatchesBrokenLists(t *testing.T) {
	listtest.CatchesBugs(t, "HMACTEST_BROKEN", listBugs, func(b listBug) string { return b.failed }, func(b listBug) {
		httpsigtest.TestCredentialStore(t, func(*testing.T) httpsig.CredentialStore {
			return listBugStore{MemoryCredentialStore: httpsig.NewMemoryCredentialStore(), list: b.list}
		})
	})
}
