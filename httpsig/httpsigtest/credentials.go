// Package httpsigtest holds the conformance suites for the stores of package
// httpsig: [TestCredentialStore] for [httpsig.CredentialStore] and
// [TestNonceStore] for [httpsig.NonceStore]. Every backend runs the suites of
// the stores it implements:
//
//	func TestCredentialStore(t *testing.T) {
//		httpsigtest.TestCredentialStore(t, func(t *testing.T) httpsig.CredentialStore { return newMyStore(t) })
//	}
package httpsigtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/listtest"
)

// TestCredentialStore runs the conformance suite for [httpsig.CredentialStore]
// against stores made by newStore, which must return an empty store for
// each call. Times are whole microseconds in UTC, so that backends storing
// microsecond timestamps compare equal; the sealed secrets are opaque
// bytes to a store, and the suite uses arbitrary ones.
func TestCredentialStore(t *testing.T, newStore func(t *testing.T) httpsig.CredentialStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, httpsig.CredentialStore)
	}{
		{"CreateGetRoundTrip", testCredCreateGet},
		{"CreateDuplicate", testCredCreateDuplicate},
		{"GetMissing", testCredGetMissing},
		{"KeyIDsAreExact", testCredExactKeyID},
		{"ListFiltersAndOrders", testCredList},
		{"ListTieBreakByKeyID", testCredListTieBreak},
		{"ListEveryAccount", testCredListEveryAccount},
		{"ListFilters", testCredListFilters},
		{"ListPagination", testCredListPagination},
		{"ListAfterPosition", testCredListAfter},
		{"UpdateCompareAndSwap", testCredUpdateCAS},
		{"UpdateMissing", testCredUpdateMissing},
		{"Isolation", testCredIsolation},
		{"CancelledContext", testCredCancelled},
		{"ConcurrentCreateSameKeyID", testCredConcurrentCreate},
		{"ConcurrentUpdates", testCredConcurrentUpdates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// credBase is a fixed point in time, in whole microseconds.
var credBase = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

var credSeq atomic.Int64

// credSample returns a fully populated credential with a fresh key ID.
func credSample(account string, mode keygate.Mode) httpsig.Credential {
	n := credSeq.Add(1)
	return httpsig.Credential{
		KeyID: fmt.Sprintf("hk_%016d", n),
		Grant: keygate.Grant{
			Account:     account,
			Mode:        mode,
			Package:     "GO",
			Permissions: []string{"products:read", "offers:write"},
			Stores:      []string{"store_1", "store_2"},
			AllowedIPs:  []string{"10.0.0.0/8", "2001:db8::1"},
		},
		Name: "sample credential",
		Secrets: []httpsig.StoredSecret{
			{Sealed: []byte("\x01sealed current secret, opaque to the store")},
			{Sealed: []byte("\x01sealed replaced secret"), NotAfter: credBase.Add(time.Hour)},
		},
		Status:    httpsig.StatusActive,
		Created:   credBase.Add(time.Duration(n) * time.Second),
		Expires:   credBase.Add(48 * time.Hour),
		RotatedAt: credBase.Add(time.Minute),
		// TokensNotBefore round-trips like every other time.
		TokensNotBefore: credBase.Add(2 * time.Minute),
	}
}

func credCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// credEqual compares credentials field by field, times with Equal.
func credEqual(t *testing.T, want, got httpsig.Credential) {
	t.Helper()
	times := func(c *httpsig.Credential) []*time.Time {
		return []*time.Time{&c.Created, &c.Expires, &c.RevokedAt, &c.RotatedAt, &c.TokensNotBefore}
	}
	wt, gt := times(&want), times(&got)
	for i := range wt {
		if !wt[i].Equal(*gt[i]) || wt[i].IsZero() != gt[i].IsZero() {
			t.Errorf("time field %d: want %v, got %v", i, *wt[i], *gt[i])
		}
		*wt[i], *gt[i] = time.Time{}, time.Time{}
	}
	if len(want.Secrets) != len(got.Secrets) {
		t.Fatalf("secrets: want %d, got %d", len(want.Secrets), len(got.Secrets))
	}
	for i := range want.Secrets {
		w, g := want.Secrets[i], got.Secrets[i]
		if string(w.Sealed) != string(g.Sealed) || !w.NotAfter.Equal(g.NotAfter) {
			t.Errorf("secret %d differs: want %q until %v, got %q until %v", i, w.Sealed, w.NotAfter, g.Sealed, g.NotAfter)
		}
	}
	want.Secrets, got.Secrets = nil, nil
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("credential differs:\nwant %+v\n got %+v", want, got)
	}
}

func credCreate(t *testing.T, s httpsig.CredentialStore, c httpsig.Credential) httpsig.Credential {
	t.Helper()
	got, err := s.Create(credCtx(t), c)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

func credGet(t *testing.T, s httpsig.CredentialStore, keyID string) httpsig.Credential {
	t.Helper()
	got, err := s.Get(credCtx(t), keyID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return got
}

func testCredCreateGet(t *testing.T, s httpsig.CredentialStore) {
	c := credSample("acct_1", keygate.ModeLive)
	c.Version = 42 // ignored
	created := credCreate(t, s, c)
	if created.Version != 1 {
		t.Errorf("Create: version %d, want 1", created.Version)
	}
	c.Version = 1
	credEqual(t, c, created)
	credEqual(t, c, credGet(t, s, c.KeyID))

	// Every field survives, the revocation fields and nil slices too.
	r := credSample("acct_1", keygate.ModeTest)
	r.Status, r.Disabled, r.RevokedAt = httpsig.StatusRevoked, true, credBase.Add(2*time.Hour)
	r.Secrets, r.Permissions, r.Stores, r.AllowedIPs, r.Package, r.Expires = nil, nil, nil, nil, "", time.Time{}
	r.TokensNotBefore = time.Time{}
	credCreate(t, s, r)
	r.Version = 1
	got := credGet(t, s, r.KeyID)
	credEqual(t, r, got)
	if len(got.Secrets) != 0 || len(got.Permissions) != 0 || len(got.Stores) != 0 || len(got.AllowedIPs) != 0 {
		t.Errorf("empty slices came back non-empty: %+v", got)
	}
}

func testCredCreateDuplicate(t *testing.T, s httpsig.CredentialStore) {
	c := credSample("acct_1", keygate.ModeTest)
	credCreate(t, s, c)
	other := credSample("acct_2", keygate.ModeLive)
	other.KeyID = c.KeyID
	if _, err := s.Create(credCtx(t), other); !errors.Is(err, httpsig.ErrExists) {
		t.Fatalf("duplicate Create: got %v, want ErrExists", err)
	}
	if got := credGet(t, s, c.KeyID); got.Account != "acct_1" || got.Version != 1 {
		t.Fatalf("the first credential must survive a duplicate Create: account %q, version %d", got.Account, got.Version)
	}
}

func testCredGetMissing(t *testing.T, s httpsig.CredentialStore) {
	if _, err := s.Get(credCtx(t), "hk_doesnotexist000"); !errors.Is(err, httpsig.ErrNotFound) {
		t.Fatalf("Get missing: got %v, want ErrNotFound", err)
	}
}

// testCredExactKeyID checks that key IDs compare byte for byte: another
// case, or surrounding spaces, name no credential.
func testCredExactKeyID(t *testing.T, s httpsig.CredentialStore) {
	c := credSample("acct_1", keygate.ModeTest)
	c.KeyID = "hk_MixedCase00001"
	credCreate(t, s, c)
	for _, id := range []string{strings.ToLower(c.KeyID), strings.ToUpper(c.KeyID), c.KeyID + " ", " " + c.KeyID, c.KeyID[:len(c.KeyID)-1]} {
		if _, err := s.Get(credCtx(t), id); !errors.Is(err, httpsig.ErrNotFound) {
			t.Errorf("Get(%q) for a credential stored as %q: got %v, want ErrNotFound", id, c.KeyID, err)
		}
	}
}

func testCredList(t *testing.T, s httpsig.CredentialStore) {
	var want []string
	for i := 0; i < 3; i++ {
		c := credSample("acct_a", keygate.ModeTest)
		c.Created = credBase.Add(time.Duration(10-i) * time.Minute) // created in reverse order
		credCreate(t, s, c)
		want = append([]string{c.KeyID}, want...)
	}
	live := credSample("acct_a", keygate.ModeLive)
	live.Created = credBase
	credCreate(t, s, live)
	credCreate(t, s, credSample("acct_b", keygate.ModeTest))

	ids := func(f httpsig.ListFilter) []string {
		cs, err := s.List(credCtx(t), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.KeyID)
		}
		return out
	}
	if got := ids(httpsig.ListFilter{Account: "acct_a", Mode: keygate.ModeTest}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("test credentials of acct_a: got %v, want %v (oldest first)", got, want)
	}
	if got := ids(httpsig.ListFilter{Account: "acct_a", Mode: keygate.ModeLive}); fmt.Sprint(got) != fmt.Sprint([]string{live.KeyID}) {
		t.Errorf("live credentials of acct_a: got %v, want [%s]", got, live.KeyID)
	}
	if got := ids(httpsig.ListFilter{Account: "acct_a"}); fmt.Sprint(got) != fmt.Sprint(append([]string{live.KeyID}, want...)) {
		t.Errorf("all credentials of acct_a: got %v", got)
	}
	if got := ids(httpsig.ListFilter{Account: "acct_none"}); len(got) != 0 {
		t.Errorf("unknown account: got %v, want none", got)
	}

	// Listed credentials are complete.
	cs, err := s.List(credCtx(t), httpsig.ListFilter{Account: "acct_a", Mode: keygate.ModeLive})
	if err != nil || len(cs) != 1 {
		t.Fatalf("List: %v %v", cs, err)
	}
	live.Version = 1
	credEqual(t, live, cs[0])
}

func testCredListTieBreak(t *testing.T, s httpsig.CredentialStore) {
	for _, id := range []string{"hk_tieC0000000000", "hk_tieA0000000000", "hk_tieB0000000000"} {
		c := credSample("acct_tie", keygate.ModeTest)
		c.KeyID = id
		c.Created = credBase
		credCreate(t, s, c)
	}
	want := []string{"hk_tieA0000000000", "hk_tieB0000000000", "hk_tieC0000000000"}
	cs, err := s.List(credCtx(t), httpsig.ListFilter{Account: "acct_tie"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.KeyID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("credentials created at the same time: got %v, want %v (by key ID)", got, want)
	}
}

func testCredUpdateCAS(t *testing.T, s httpsig.CredentialStore) {
	c := credCreate(t, s, credSample("acct_1", keygate.ModeTest))
	next := c
	next.Name = "renamed"
	next.Status = httpsig.StatusRevoked
	next.RevokedAt = credBase.Add(time.Hour)
	next.TokensNotBefore = next.RevokedAt
	next.Secrets = nil
	updated, err := s.Update(credCtx(t), next)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if updated.Version != 2 || updated.Name != "renamed" || updated.Status != httpsig.StatusRevoked || len(updated.Secrets) != 0 ||
		!updated.TokensNotBefore.Equal(next.TokensNotBefore) {
		t.Fatalf("Update returned %+v", updated)
	}
	stale := c
	stale.Name = "stale write"
	if _, err := s.Update(credCtx(t), stale); !errors.Is(err, httpsig.ErrConflict) {
		t.Fatalf("stale Update: got %v, want ErrConflict", err)
	}
	ahead := updated
	ahead.Version = 7
	if _, err := s.Update(credCtx(t), ahead); !errors.Is(err, httpsig.ErrConflict) {
		t.Fatalf("Update with a version from the future: got %v, want ErrConflict", err)
	}
	next.Version = 2
	credEqual(t, next, credGet(t, s, c.KeyID))
}

func testCredUpdateMissing(t *testing.T, s httpsig.CredentialStore) {
	c := credSample("acct_1", keygate.ModeTest)
	c.Version = 1
	if _, err := s.Update(credCtx(t), c); !errors.Is(err, httpsig.ErrNotFound) {
		t.Fatalf("Update missing: got %v, want ErrNotFound", err)
	}
	if _, err := s.Get(credCtx(t), c.KeyID); !errors.Is(err, httpsig.ErrNotFound) {
		t.Fatalf("Update of a missing credential must not create it: %v", err)
	}
}

// testCredIsolation checks that a store keeps no reference to the caller's
// slices and hands out slices of the caller's own.
func testCredIsolation(t *testing.T, s httpsig.CredentialStore) {
	c := credSample("acct_1", keygate.ModeTest)
	created := credCreate(t, s, c)
	mutate := func(c *httpsig.Credential) {
		c.Stores[0] = "mutated"
		c.Permissions[0] = "mutated"
		c.AllowedIPs[0] = "mutated"
		c.Secrets[0].Sealed[1] = 'X'
		c.Secrets[1].NotAfter = time.Time{}
	}
	untouched := func(when string) {
		t.Helper()
		got := credGet(t, s, c.KeyID)
		if got.Stores[0] == "mutated" || got.Permissions[0] == "mutated" || got.AllowedIPs[0] == "mutated" ||
			got.Secrets[0].Sealed[1] == 'X' || got.Secrets[1].NotAfter.IsZero() {
			t.Fatalf("%s: the store shares memory with the caller: %+v", when, got)
		}
	}
	mutate(&c)
	untouched("after changing the slices given to Create")
	mutate(&created)
	untouched("after changing the slices Create returned")
	got := credGet(t, s, c.KeyID)
	mutate(&got)
	untouched("after changing the slices Get returned")
	cs, err := s.List(credCtx(t), httpsig.ListFilter{Account: "acct_1"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("List: %v %v", cs, err)
	}
	mutate(&cs[0])
	untouched("after changing the slices List returned")

	next := credGet(t, s, c.KeyID)
	next.Stores = []string{"updated", "x"}
	updated, err := s.Update(credCtx(t), next)
	if err != nil {
		t.Fatal(err)
	}
	next.Stores[0] = "mutated after update"
	updated.Stores[1] = "mutated after update"
	if again := credGet(t, s, c.KeyID); again.Stores[0] != "updated" || again.Stores[1] != "x" {
		t.Fatalf("Update shares memory with the caller: %v", again.Stores)
	}
	mutate(&next)
	mutate(&updated)
	untouched("after changing the slices given to and returned by Update")
}

func testCredCancelled(t *testing.T, s httpsig.CredentialStore) {
	c := credCreate(t, s, credSample("acct_1", keygate.ModeTest))
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["Create"] = s.Create(cctx, credSample("acct_1", keygate.ModeTest))
	_, checks["Get"] = s.Get(cctx, c.KeyID)
	_, checks["List"] = s.List(cctx, httpsig.ListFilter{Account: "acct_1"})
	renamed := c
	renamed.Name = "renamed"
	_, checks["Update"] = s.Update(cctx, renamed)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", op, err)
		}
	}
	if got := credGet(t, s, c.KeyID); got.Version != 1 || got.Name != c.Name {
		t.Fatalf("a cancelled Update must not apply: version %d, name %q", got.Version, got.Name)
	}
	cs, err := s.List(credCtx(t), httpsig.ListFilter{Account: "acct_1"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("a cancelled Create must store nothing: %d credentials, err %v", len(cs), err)
	}
}

func testCredConcurrentCreate(t *testing.T, s httpsig.CredentialStore) {
	const n = 16
	c := credSample("acct_1", keygate.ModeTest)
	var wins, dups atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := c
			r.Name = fmt.Sprint("racer ", i)
			_, err := s.Create(credCtx(t), r)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, httpsig.ErrExists):
				dups.Add(1)
			default:
				t.Errorf("Create: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins.Load() != 1 || dups.Load() != n-1 {
		t.Fatalf("racing Creates of one key ID: %d succeeded, %d duplicates; want 1 and %d", wins.Load(), dups.Load(), n-1)
	}
}

// testCredConcurrentUpdates runs read-modify-write loops from many
// goroutines; compare-and-swap must let every change land exactly once.
func testCredConcurrentUpdates(t *testing.T, s httpsig.CredentialStore) {
	const workers, each = 8, 10
	c := credCreate(t, s, credSample("acct_1", keygate.ModeTest))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					cur, err := s.Get(credCtx(t), c.KeyID)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					cur.Permissions = append(cur.Permissions, fmt.Sprintf("p:%d:%d", w, i))
					if _, err := s.Update(credCtx(t), cur); err == nil {
						break
					} else if !errors.Is(err, httpsig.ErrConflict) {
						t.Errorf("Update: %v", err)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	got := credGet(t, s, c.KeyID)
	if want := len(c.Permissions) + workers*each; len(got.Permissions) != want || got.Version != int64(1+workers*each) {
		t.Fatalf("after %d concurrent updates: %d permissions (want %d), version %d (want %d)",
			workers*each, len(got.Permissions), want, got.Version, 1+workers*each)
	}
	seen := map[string]bool{}
	for _, p := range got.Permissions {
		if seen[p] {
			t.Fatalf("permission %q landed twice", p)
		}
		seen[p] = true
	}
}

// credPopulate creates credentials of three accounts, both modes and both
// statuses, whose order differs from their creation order, several of them
// created at the same instant, and returns them as created.
func credPopulate(t *testing.T, s httpsig.CredentialStore) []httpsig.Credential {
	t.Helper()
	const n = 17
	var out []httpsig.Credential
	for i := range n {
		c := credSample([]string{"acct_a", "acct_b", "acct_c"}[i%3], []keygate.Mode{keygate.ModeTest, keygate.ModeLive}[i%2])
		// Three instants, in the opposite order of the key IDs; within
		// one, key IDs in an order unrelated to creation.
		c.Created = credBase.Add(time.Duration(3-i%3) * time.Hour)
		c.KeyID = fmt.Sprintf("hk_p%02d_%d", (i*7)%n, i)
		if i%4 == 1 {
			c.Status, c.RevokedAt, c.Secrets = httpsig.StatusRevoked, credBase.Add(5*time.Hour), nil
		}
		credCreate(t, s, c)
		out = append(out, c)
	}
	return out
}

// credExpect returns the key IDs of the credentials of cs that f selects,
// in the order of List.
func credExpect(cs []httpsig.Credential, f httpsig.ListFilter) []string {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b httpsig.Credential) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.KeyID, b.KeyID)
	})
	var out []string
	for _, c := range cs {
		switch {
		case f.Account != "" && c.Account != f.Account,
			f.Mode != "" && c.Mode != f.Mode,
			f.Status != "" && c.Status != f.Status:
			continue
		case !f.AfterCreated.IsZero() || f.AfterID != "":
			if o := c.Created.Compare(f.AfterCreated); o < 0 || o == 0 && c.KeyID <= f.AfterID {
				continue
			}
		}
		out = append(out, c.KeyID)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

func credList(t *testing.T, s httpsig.CredentialStore, f httpsig.ListFilter) []httpsig.Credential {
	t.Helper()
	cs, err := s.List(credCtx(t), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return cs
}

func credKeyIDs(cs []httpsig.Credential) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.KeyID)
	}
	return out
}

// testCredListEveryAccount lists without an account: every credential.
func testCredListEveryAccount(t *testing.T, s httpsig.CredentialStore) {
	if cs := credList(t, s, httpsig.ListFilter{}); len(cs) != 0 {
		t.Fatalf("an empty store lists %v", credKeyIDs(cs))
	}
	created := credPopulate(t, s)
	got := credList(t, s, httpsig.ListFilter{})
	if want := credExpect(created, httpsig.ListFilter{}); fmt.Sprint(credKeyIDs(got)) != fmt.Sprint(want) {
		t.Fatalf("List without an account: got %v, want %v (every account, by Created, then KeyID)", credKeyIDs(got), want)
	}
	// Listed credentials are complete.
	for _, c := range got {
		credEqual(t, credGet(t, s, c.KeyID), c)
	}
}

// testCredListFilters checks each filter alone and combined.
func testCredListFilters(t *testing.T, s httpsig.CredentialStore) {
	created := credPopulate(t, s)
	for _, f := range []httpsig.ListFilter{
		{Account: "acct_b"},
		{Mode: keygate.ModeLive},
		{Status: httpsig.StatusRevoked},
		{Status: httpsig.StatusActive},
		{Account: "acct_a", Mode: keygate.ModeTest},
		{Account: "acct_c", Status: httpsig.StatusActive},
		{Mode: keygate.ModeTest, Status: httpsig.StatusRevoked},
		{Account: "acct_a", Mode: keygate.ModeLive, Status: httpsig.StatusActive},
		{Account: "acct_none"},
	} {
		want := credExpect(created, f)
		if got := credKeyIDs(credList(t, s, f)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%+v): got %v, want %v", f, got, want)
		}
	}
}

// testCredListPagination pages through every filter with every page size
// and checks that every matching credential comes exactly once, in order,
// in full pages.
func testCredListPagination(t *testing.T, s httpsig.CredentialStore) {
	created := credPopulate(t, s)
	for _, base := range []httpsig.ListFilter{
		{},
		{Account: "acct_a"},
		{Mode: keygate.ModeTest},
		{Status: httpsig.StatusActive},
		{Account: "acct_b", Mode: keygate.ModeLive, Status: httpsig.StatusActive},
	} {
		listtest.Pages(t, base, credExpect(created, base), "credentials",
			func(f httpsig.ListFilter) []httpsig.Credential { return credList(t, s, f) },
			func(f httpsig.ListFilter, n int) httpsig.ListFilter { f.Limit = n; return f },
			func(f httpsig.ListFilter, last httpsig.Credential) httpsig.ListFilter {
				f.AfterCreated, f.AfterID = last.Created, last.KeyID
				return f
			},
			func(c httpsig.Credential) string { return c.KeyID })
	}
}

// testCredListAfter checks positions that are not the last credential of a
// page: one no credential has, one of a credential the filter leaves out,
// and one with only a time.
func testCredListAfter(t *testing.T, s httpsig.CredentialStore) {
	created := credPopulate(t, s)
	at := credBase.Add(2 * time.Hour)
	for _, f := range []httpsig.ListFilter{
		{AfterCreated: at, AfterID: "hk_p05_x"},
		{AfterCreated: at, AfterID: "hk_p05_x", Account: "acct_c"},
		{AfterCreated: at, AfterID: created[1].KeyID, Account: "acct_a"},
		{AfterCreated: at},
		{AfterCreated: at, Status: httpsig.StatusRevoked},
		{AfterCreated: at.Add(-time.Millisecond), AfterID: "hk_zzz"},
		{AfterCreated: at, AfterID: "hk_zzz"},
		{AfterCreated: at.Add(time.Hour), AfterID: "hk_zzz"},
		{AfterCreated: at, AfterID: "hk_p05_x", Limit: 2},
	} {
		want := credExpect(created, f)
		if got := credKeyIDs(credList(t, s, f)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%+v): got %v, want %v", f, got, want)
		}
	}
}
