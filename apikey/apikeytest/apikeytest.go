// Package apikeytest is the conformance suite for [apikey.Store]
// implementations. Every backend runs it:
//
//	func TestStore(t *testing.T) {
//		apikeytest.TestStore(t, func(t *testing.T) apikey.Store { return newMyStore(t) })
//	}
package apikeytest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/internal/listtest"
)

// TestStore runs the conformance suite against stores made by newStore,
// which must return an empty store for each call.
func TestStore(t *testing.T, newStore func(t *testing.T) apikey.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, apikey.Store)
	}{
		{"CreateGetRoundTrip", testCreateGet},
		{"CreateDuplicate", testCreateDuplicate},
		{"GetMissing", testGetMissing},
		{"ListFiltersAndOrders", testList},
		{"UpdateCompareAndSwap", testUpdateCAS},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateKeepsLastUsed", testUpdateKeepsLastUsed},
		{"TouchMonotonic", testTouch},
		{"Isolation", testIsolation},
		{"CancelledContext", testCancelled},
		{"ConcurrentCreateSameID", testConcurrentCreate},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"TouchNeverUndoesUpdate", testTouchRacingUpdate},
		{"ListTieBreakByID", testListTieBreak},
		{"ListEveryAccount", testListEveryAccount},
		{"ListFilters", testListFilters},
		{"ListPagination", testListPagination},
		{"ListAfterPosition", testListAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// base is a fixed point in time, truncated to microseconds so that
// backends storing microsecond timestamps compare equal.
var base = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

var seq atomic.Int64

// sample returns a fully populated record with a fresh ID.
func sample(account string, mode keygate.Mode) apikey.Record {
	n := seq.Add(1)
	return apikey.Record{
		ID: fmt.Sprintf("id%014d", n),
		Grant: keygate.Grant{
			Account:     account,
			Mode:        mode,
			Stores:      []string{"store_1", "store_2"},
			Package:     "GO",
			Permissions: []string{"products:read", "offers:write"},
			AllowedIPs:  []string{"10.0.0.0/8", "2001:db8::1"},
		},
		Kind:             keygate.KindSecret,
		Name:             "sample key",
		CreatedBy:        "admin@example.com – café",
		PermissionsSetBy: "operator – ünïcode",
		Hint:             "Zz42",
		Status:           apikey.StatusActive,
		Hashes:           []apikey.Hash{{Sum: [32]byte{1, 2, 3}}, {Sum: [32]byte{4, 5, 6}, NotAfter: base.Add(time.Hour)}},
		Created:          base.Add(time.Duration(n) * time.Second),
		Expires:          base.Add(48 * time.Hour),
		ApprovedBy:       "reviewer",
		ApprovedAt:       base.Add(time.Minute),
		// TokensNotBefore round-trips like every other time.
		TokensNotBefore: base.Add(2 * time.Minute),
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// equal compares records field by field, times with Equal.
func equal(t *testing.T, want, got apikey.Record) {
	t.Helper()
	times := func(r *apikey.Record) []*time.Time {
		return []*time.Time{&r.Created, &r.Expires, &r.LastUsed, &r.ApprovedAt, &r.RevokedAt, &r.RotatedAt, &r.TokensNotBefore}
	}
	wt, gt := times(&want), times(&got)
	for i := range wt {
		if !wt[i].Equal(*gt[i]) {
			t.Errorf("time field %d: want %v, got %v", i, *wt[i], *gt[i])
		}
		*wt[i], *gt[i] = time.Time{}, time.Time{}
	}
	if len(want.Hashes) != len(got.Hashes) {
		t.Fatalf("hashes: want %d, got %d", len(want.Hashes), len(got.Hashes))
	}
	for i := range want.Hashes {
		if want.Hashes[i].Sum != got.Hashes[i].Sum || !want.Hashes[i].NotAfter.Equal(got.Hashes[i].NotAfter) {
			t.Errorf("hash %d differs", i)
		}
	}
	want.Hashes, got.Hashes = nil, nil
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("record differs:\nwant %+v\n got %+v", want, got)
	}
}

func mustCreate(t *testing.T, s apikey.Store, rec apikey.Record) apikey.Record {
	t.Helper()
	got, err := s.Create(ctx(t), rec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

func testCreateGet(t *testing.T, s apikey.Store) {
	rec := sample("acct_1", keygate.ModeLive)
	rec.Version = 42 // ignored
	created := mustCreate(t, s, rec)
	if created.Version != 1 {
		t.Errorf("Create: version %d, want 1", created.Version)
	}
	rec.Version = 1
	equal(t, rec, created)
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	equal(t, rec, got)
}

func testCreateDuplicate(t *testing.T, s apikey.Store) {
	rec := sample("acct_1", keygate.ModeTest)
	mustCreate(t, s, rec)
	other := sample("acct_2", keygate.ModeLive)
	other.ID = rec.ID
	if _, err := s.Create(ctx(t), other); !errors.Is(err, apikey.ErrExists) {
		t.Fatalf("duplicate Create: got %v, want ErrExists", err)
	}
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil || got.Account != "acct_1" {
		t.Fatalf("the first record must survive a duplicate Create: %v %v", got.Account, err)
	}
}

func testGetMissing(t *testing.T, s apikey.Store) {
	if _, err := s.Get(ctx(t), "doesnotexist0000"); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("Get missing: got %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s apikey.Store) {
	var want []string
	for i := 0; i < 3; i++ {
		r := sample("acct_a", keygate.ModeTest)
		r.Created = base.Add(time.Duration(10-i) * time.Minute) // created in reverse order
		mustCreate(t, s, r)
		want = append([]string{r.ID}, want...)
	}
	live := sample("acct_a", keygate.ModeLive)
	live.Created = base
	mustCreate(t, s, live)
	mustCreate(t, s, sample("acct_b", keygate.ModeTest))

	ids := func(f apikey.ListFilter) []string {
		recs, err := s.List(ctx(t), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(apikey.ListFilter{Account: "acct_a", Mode: keygate.ModeTest}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("test keys of acct_a: got %v, want %v (oldest first)", got, want)
	}
	if got := ids(apikey.ListFilter{Account: "acct_a"}); fmt.Sprint(got) != fmt.Sprint(append([]string{live.ID}, want...)) {
		t.Errorf("all keys of acct_a: got %v", got)
	}
	if got := ids(apikey.ListFilter{Account: "acct_none"}); len(got) != 0 {
		t.Errorf("unknown account: got %v, want none", got)
	}
}

func testUpdateCAS(t *testing.T, s apikey.Store) {
	rec := mustCreate(t, s, sample("acct_1", keygate.ModeTest))
	next := rec
	next.Name = "renamed"
	next.Status = apikey.StatusRevoked
	next.RevokedAt = base.Add(time.Hour)
	next.TokensNotBefore = base.Add(time.Hour)
	updated, err := s.Update(ctx(t), next)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if updated.Version != 2 || updated.Name != "renamed" || updated.Status != apikey.StatusRevoked {
		t.Fatalf("Update returned %+v", updated)
	}
	stale := rec
	stale.Name = "stale write"
	if _, err := s.Update(ctx(t), stale); !errors.Is(err, apikey.ErrConflict) {
		t.Fatalf("stale Update: got %v, want ErrConflict", err)
	}
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	next.Version = 2
	equal(t, next, got)
}

func testUpdateMissing(t *testing.T, s apikey.Store) {
	rec := sample("acct_1", keygate.ModeTest)
	rec.Version = 1
	if _, err := s.Update(ctx(t), rec); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("Update missing: got %v, want ErrNotFound", err)
	}
}

func testUpdateKeepsLastUsed(t *testing.T, s apikey.Store) {
	rec := mustCreate(t, s, sample("acct_1", keygate.ModeTest))
	used := base.Add(3 * time.Hour)
	if err := s.Touch(ctx(t), rec.ID, used); err != nil {
		t.Fatal(err)
	}
	rec.Name = "renamed" // rec.LastUsed is still zero
	updated, err := s.Update(ctx(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !updated.LastUsed.Equal(used) {
		t.Fatalf("Update changed LastUsed: got %v, want %v", updated.LastUsed, used)
	}
}

func testTouch(t *testing.T, s apikey.Store) {
	rec := mustCreate(t, s, sample("acct_1", keygate.ModeTest))
	later, earlier := base.Add(2*time.Hour), base.Add(time.Hour)
	for _, at := range []time.Time{later, earlier} {
		if err := s.Touch(ctx(t), rec.ID, at); err != nil {
			t.Fatalf("Touch: %v", err)
		}
	}
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastUsed.Equal(later) {
		t.Errorf("LastUsed went backwards: got %v, want %v", got.LastUsed, later)
	}
	if got.Version != rec.Version {
		t.Errorf("Touch changed Version from %d to %d", rec.Version, got.Version)
	}
	if err := s.Touch(ctx(t), "doesnotexist0000", later); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Touch missing: got %v, want ErrNotFound", err)
	}
}

// testIsolation checks that a store keeps no reference to the caller's
// slices.
func testIsolation(t *testing.T, s apikey.Store) {
	rec := sample("acct_1", keygate.ModeTest)
	mustCreate(t, s, rec)
	rec.Stores[0] = "mutated"
	rec.Permissions[0] = "mutated"
	rec.AllowedIPs[0] = "mutated"
	rec.Hashes[0].Sum[0] = 0xff
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stores[0] == "mutated" || got.Permissions[0] == "mutated" || got.AllowedIPs[0] == "mutated" || got.Hashes[0].Sum[0] == 0xff {
		t.Fatalf("the store kept a reference to the caller's slices: %+v", got)
	}
	got.Version = 1
	got.Stores = append([]string(nil), "updated")
	if _, err := s.Update(ctx(t), got); err != nil {
		t.Fatal(err)
	}
	got.Stores[0] = "mutated after update"
	again, err := s.Get(ctx(t), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Stores[0] != "updated" {
		t.Fatalf("Update kept a reference to the caller's slice: %v", again.Stores)
	}
}

func testCancelled(t *testing.T, s apikey.Store) {
	rec := mustCreate(t, s, sample("acct_1", keygate.ModeTest))
	c, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["Create"] = s.Create(c, sample("acct_1", keygate.ModeTest))
	_, checks["Get"] = s.Get(c, rec.ID)
	_, checks["List"] = s.List(c, apikey.ListFilter{Account: "acct_1"})
	_, checks["Update"] = s.Update(c, rec)
	checks["Touch"] = s.Touch(c, rec.ID, base)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", op, err)
		}
	}
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil || got.Version != 1 {
		t.Fatalf("a cancelled Update must not apply: version %d, err %v", got.Version, err)
	}
	recs, err := s.List(ctx(t), apikey.ListFilter{Account: "acct_1"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("a cancelled Create must store nothing: %d records, err %v", len(recs), err)
	}
}

// testTouchRacingUpdate runs Touch in a loop while the record is revoked:
// the revocation must stick.
func testTouchRacingUpdate(t *testing.T, s apikey.Store) {
	for round := 0; round < 20; round++ {
		rec := mustCreate(t, s, sample("acct_1", keygate.ModeTest))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := s.Touch(ctx(t), rec.ID, base.Add(time.Duration(i*4+w)*time.Millisecond)); err != nil {
						t.Errorf("Touch: %v", err)
						return
					}
				}
			}(w)
		}
		revoked := rec
		revoked.Status = apikey.StatusRevoked
		revoked.RevokedAt = base
		for {
			_, err := s.Update(ctx(t), revoked)
			if err == nil {
				break
			}
			if !errors.Is(err, apikey.ErrConflict) {
				t.Fatalf("Update: %v", err)
			}
			cur, err := s.Get(ctx(t), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			revoked.Version = cur.Version
		}
		close(stop)
		wg.Wait()
		got, err := s.Get(ctx(t), rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != apikey.StatusRevoked {
			t.Fatalf("round %d: a racing Touch undid the revocation: status %q", round, got.Status)
		}
	}
}

func testListTieBreak(t *testing.T, s apikey.Store) {
	var want []string
	for _, id := range []string{"tieC000000000000", "tieA000000000000", "tieB000000000000"} {
		r := sample("acct_tie", keygate.ModeTest)
		r.ID = id
		r.Created = base
		mustCreate(t, s, r)
	}
	want = []string{"tieA000000000000", "tieB000000000000", "tieC000000000000"}
	recs, err := s.List(ctx(t), apikey.ListFilter{Account: "acct_tie"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records created at the same time: got %v, want %v (by ID)", got, want)
	}
}

func testConcurrentCreate(t *testing.T, s apikey.Store) {
	const n = 16
	rec := sample("acct_1", keygate.ModeTest)
	var wins, dups atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rec
			r.Name = fmt.Sprint("racer ", i)
			_, err := s.Create(ctx(t), r)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, apikey.ErrExists):
				dups.Add(1)
			default:
				t.Errorf("Create: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins.Load() != 1 || dups.Load() != n-1 {
		t.Fatalf("racing Creates of one ID: %d succeeded, %d duplicates; want 1 and %d", wins.Load(), dups.Load(), n-1)
	}
}

// testConcurrentUpdates runs read-modify-write loops from many goroutines;
// compare-and-swap must let every increment land exactly once.
func testConcurrentUpdates(t *testing.T, s apikey.Store) {
	const workers, each = 8, 10
	rec := mustCreate(t, s, sample("acct_1", keygate.ModeTest))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					cur, err := s.Get(ctx(t), rec.ID)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					cur.Permissions = append(append([]string(nil), cur.Permissions...), "p")
					if _, err := s.Update(ctx(t), cur); err == nil {
						break
					} else if !errors.Is(err, apikey.ErrConflict) {
						t.Errorf("Update: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.Get(ctx(t), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(rec.Permissions) + workers*each; len(got.Permissions) != want || got.Version != int64(1+workers*each) {
		t.Fatalf("after %d concurrent updates: %d permissions (want %d), version %d (want %d)",
			workers*each, len(got.Permissions), want, got.Version, 1+workers*each)
	}
}

// populate creates keys of three accounts, both modes and the three
// statuses, whose order differs from their creation order, several of them
// created at the same instant, and returns them as created.
func populate(t *testing.T, s apikey.Store) []apikey.Record {
	t.Helper()
	const n = 17
	statuses := []apikey.Status{apikey.StatusActive, apikey.StatusPendingReview, apikey.StatusActive, apikey.StatusRevoked}
	var out []apikey.Record
	for i := range n {
		r := sample([]string{"acct_a", "acct_b", "acct_c"}[i%3], []keygate.Mode{keygate.ModeTest, keygate.ModeLive}[i%2])
		// Three instants, in the opposite order of the IDs; within one,
		// IDs in an order unrelated to creation.
		r.Created = base.Add(time.Duration(3-i%3) * time.Hour)
		r.ID = fmt.Sprintf("p%02d%013d", (i*7)%n, i)
		r.Status = statuses[i%4]
		if i%5 == 2 {
			r.Kind = keygate.KindPublishable
		}
		// Expiries: none, or at one of four instants (two equal).
		r.Expires = []time.Time{{}, base.Add(24 * time.Hour), base.Add(48 * time.Hour), {}, base.Add(72 * time.Hour), base.Add(48 * time.Hour)}[i%6]
		mustCreate(t, s, r)
		out = append(out, r)
	}
	return out
}

// expect returns the IDs of the records of recs that f selects, in the
// order of List.
func expect(recs []apikey.Record, f apikey.ListFilter) []string {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b apikey.Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var out []string
	for _, r := range recs {
		switch {
		case f.Account != "" && r.Account != f.Account,
			f.Mode != "" && r.Mode != f.Mode,
			f.Status != "" && r.Status != f.Status,
			f.Kind != "" && r.Kind != f.Kind,
			!f.ExpiresBefore.IsZero() && (r.Expires.IsZero() || r.Expires.Compare(f.ExpiresBefore) >= 0):
			continue
		case !f.AfterCreated.IsZero() || f.AfterID != "":
			if o := r.Created.Compare(f.AfterCreated); o < 0 || o == 0 && r.ID <= f.AfterID {
				continue
			}
		}
		out = append(out, r.ID)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

func list(t *testing.T, s apikey.Store, f apikey.ListFilter) []apikey.Record {
	t.Helper()
	recs, err := s.List(ctx(t), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return recs
}

func ids(recs []apikey.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// testListEveryAccount lists without an account: every key.
func testListEveryAccount(t *testing.T, s apikey.Store) {
	if recs := list(t, s, apikey.ListFilter{}); len(recs) != 0 {
		t.Fatalf("an empty store lists %v", ids(recs))
	}
	created := populate(t, s)
	got := list(t, s, apikey.ListFilter{})
	if want := expect(created, apikey.ListFilter{}); fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Fatalf("List without an account: got %v, want %v (every account, by Created, then ID)", ids(got), want)
	}
	// Listed records are complete.
	for _, r := range got {
		stored, err := s.Get(ctx(t), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, stored, r)
	}
}

// testListFilters checks each filter alone and combined.
func testListFilters(t *testing.T, s apikey.Store) {
	created := populate(t, s)
	for _, f := range []apikey.ListFilter{
		{Account: "acct_b"},
		{Mode: keygate.ModeLive},
		{Status: apikey.StatusRevoked},
		{Status: apikey.StatusPendingReview},
		{Status: apikey.StatusActive},
		{Account: "acct_a", Mode: keygate.ModeTest},
		{Account: "acct_c", Status: apikey.StatusActive},
		{Mode: keygate.ModeLive, Status: apikey.StatusPendingReview},
		{Account: "acct_a", Mode: keygate.ModeLive, Status: apikey.StatusActive},
		{Account: "acct_none"},
		{Kind: keygate.KindPublishable},
		{Kind: keygate.KindSecret},
		{Kind: keygate.KindPublishable, Account: "acct_c", Mode: keygate.ModeTest},
		// Before the second instant: the first only; at an instant
		// exclusive; far enough: every key with an expiry, never one
		// without.
		{ExpiresBefore: base.Add(48 * time.Hour)},
		{ExpiresBefore: base.Add(48*time.Hour + time.Microsecond)},
		{ExpiresBefore: base.Add(1000 * time.Hour)},
		{ExpiresBefore: base},
		{ExpiresBefore: base.Add(1000 * time.Hour), Status: apikey.StatusPendingReview, Kind: keygate.KindSecret},
	} {
		want := expect(created, f)
		if (f.Kind != "" || !f.ExpiresBefore.IsZero()) && !f.ExpiresBefore.Equal(base) && len(want) == 0 {
			t.Fatalf("List(%+v): the population has no key it selects; the filter goes untested", f)
		}
		if got := ids(list(t, s, f)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%+v): got %v, want %v", f, got, want)
		}
	}
}

// testListPagination pages through every filter with every page size and
// checks that every matching record comes exactly once, in order, in full
// pages.
func testListPagination(t *testing.T, s apikey.Store) {
	created := populate(t, s)
	for _, base := range []apikey.ListFilter{
		{},
		{Account: "acct_a"},
		{Mode: keygate.ModeTest},
		{Status: apikey.StatusActive},
		{Account: "acct_b", Mode: keygate.ModeLive, Status: apikey.StatusPendingReview},
		{Kind: keygate.KindSecret, ExpiresBefore: base.Add(60 * time.Hour)},
	} {
		listtest.Pages(t, base, expect(created, base), "records",
			func(f apikey.ListFilter) []apikey.Record { return list(t, s, f) },
			func(f apikey.ListFilter, n int) apikey.ListFilter { f.Limit = n; return f },
			func(f apikey.ListFilter, last apikey.Record) apikey.ListFilter {
				f.AfterCreated, f.AfterID = last.Created, last.ID
				return f
			},
			func(r apikey.Record) string { return r.ID })
	}
}

// testListAfter checks positions that are not the last record of a page:
// one no record has, one of a record the filter leaves out, and one with
// only a time.
func testListAfter(t *testing.T, s apikey.Store) {
	created := populate(t, s)
	at := base.Add(2 * time.Hour)
	for _, f := range []apikey.ListFilter{
		{AfterCreated: at, AfterID: "p05x"},
		{AfterCreated: at, AfterID: "p05x", Account: "acct_c"},
		{AfterCreated: at, AfterID: created[1].ID, Account: "acct_a"},
		{AfterCreated: at},
		{AfterCreated: at, Status: apikey.StatusRevoked},
		{AfterCreated: at.Add(-time.Millisecond), AfterID: "zzz"},
		{AfterCreated: at, AfterID: "zzz"},
		{AfterCreated: at.Add(time.Hour), AfterID: "zzz"},
		{AfterCreated: at, AfterID: "p05x", Limit: 2},
	} {
		want := expect(created, f)
		if got := ids(list(t, s, f)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%+v): got %v, want %v", f, got, want)
		}
	}
}
