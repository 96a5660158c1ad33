// Package accounttest is the conformance suite for [account.Store]
// implementations. Every backend runs it:
//
//	func TestStore(t *testing.T) {
//		accounttest.TestStore(t, func(t *testing.T) account.Store { return newMyStore(t) })
//	}
package accounttest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/account"
)

// TestStore runs the conformance suite against stores made by newStore,
// which must return an empty store for each call. Times are whole
// microseconds in UTC, so that backends storing microsecond timestamps
// compare equal.
func TestStore(t *testing.T, newStore func(t *testing.T) account.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, account.Store)
	}{
		{"CreateGetRoundTrip", testCreateGet},
		{"CreateDuplicate", testCreateDuplicate},
		{"GetMissing", testGetMissing},
		{"IDsAreExact", testExactID},
		{"UpdateCompareAndSwap", testUpdateCAS},
		{"UpdateMissing", testUpdateMissing},
		{"Disabled", testDisabled},
		{"ListOrder", testListOrder},
		{"ListPagination", testListPagination},
		{"ListAfterPosition", testListAfter},
		{"ListSearch", testListSearch},
		{"Isolation", testIsolation},
		{"CancelledContext", testCancelled},
		{"ConcurrentCreateSameID", testConcurrentCreate},
		{"ConcurrentUpdates", testConcurrentUpdates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// base is a fixed point in time, in whole microseconds.
var base = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

var seq atomic.Int64

// sample returns a fully populated account with a fresh ID, created one
// second after the previous sample.
func sample() account.Account {
	n := seq.Add(1)
	return account.Account{
		ID:      fmt.Sprintf("acct_%016d", n),
		Name:    "Sample shop – café",
		Package: "GO",
		Created: base.Add(time.Duration(n) * time.Second),
		Updated: base.Add(time.Duration(n)*time.Second + time.Minute),
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// equal compares accounts field by field, times with Equal.
func equal(t *testing.T, want, got account.Account) {
	t.Helper()
	if !want.Created.Equal(got.Created) || !want.Updated.Equal(got.Updated) || !want.TokensNotBefore.Equal(got.TokensNotBefore) {
		t.Errorf("times differ: want created %v, updated %v, tokens not before %v; got %v, %v, %v",
			want.Created, want.Updated, want.TokensNotBefore, got.Created, got.Updated, got.TokensNotBefore)
	}
	if want.TokensNotBefore.IsZero() != got.TokensNotBefore.IsZero() {
		t.Errorf("tokens not before: want zero %v, got %v", want.TokensNotBefore.IsZero(), got.TokensNotBefore)
	}
	want.Created, want.Updated, got.Created, got.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	want.TokensNotBefore, got.TokensNotBefore = time.Time{}, time.Time{}
	if want != got {
		t.Errorf("account differs:\nwant %+v\n got %+v", want, got)
	}
}

func mustCreate(t *testing.T, s account.Store, a account.Account) account.Account {
	t.Helper()
	got, err := s.Create(ctx(t), a)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

func mustGet(t *testing.T, s account.Store, id string) account.Account {
	t.Helper()
	got, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return got
}

func mustList(t *testing.T, s account.Store, f account.ListFilter) []account.Account {
	t.Helper()
	as, err := s.List(ctx(t), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return as
}

func ids(as []account.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func testCreateGet(t *testing.T, s account.Store) {
	a := sample()
	a.Version = 42 // ignored
	created := mustCreate(t, s, a)
	if created.Version != 1 {
		t.Errorf("Create: version %d, want 1", created.Version)
	}
	a.Version = 1
	equal(t, a, created)
	equal(t, a, mustGet(t, s, a.ID))

	// An empty package survives as empty.
	b := sample()
	b.Package = ""
	mustCreate(t, s, b)
	b.Version = 1
	equal(t, b, mustGet(t, s, b.ID))
}

func testCreateDuplicate(t *testing.T, s account.Store) {
	a := sample()
	mustCreate(t, s, a)
	other := sample()
	other.ID = a.ID
	other.Name = "impostor"
	if _, err := s.Create(ctx(t), other); !errors.Is(err, account.ErrExists) {
		t.Fatalf("duplicate Create: got %v, want ErrExists", err)
	}
	if got := mustGet(t, s, a.ID); got.Name != a.Name || got.Version != 1 {
		t.Fatalf("the first account must survive a duplicate Create: name %q, version %d", got.Name, got.Version)
	}
	if n := len(mustList(t, s, account.ListFilter{})); n != 1 {
		t.Fatalf("after a duplicate Create, List returns %d accounts, want 1", n)
	}
}

func testGetMissing(t *testing.T, s account.Store) {
	if _, err := s.Get(ctx(t), "acct_doesnotexist00"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Get missing: got %v, want ErrNotFound", err)
	}
}

// testExactID checks that IDs compare byte for byte.
func testExactID(t *testing.T, s account.Store) {
	a := sample()
	a.ID = "acct_MixedCase0001"
	mustCreate(t, s, a)
	for _, id := range []string{"acct_mixedcase0001", "ACCT_MIXEDCASE0001", a.ID + " ", a.ID[:len(a.ID)-1]} {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("Get(%q) for an account stored as %q: got %v, want ErrNotFound", id, a.ID, err)
		}
	}
	b := sample()
	b.ID = "acct_mixedcase0001"
	if _, err := s.Create(ctx(t), b); err != nil {
		t.Errorf("Create of an ID that differs only in case: %v", err)
	}
}

func testUpdateCAS(t *testing.T, s account.Store) {
	a := mustCreate(t, s, sample())
	next := a
	next.Name = "renamed"
	next.Package = "PLUS"
	next.Updated = base.Add(time.Hour)
	updated, err := s.Update(ctx(t), next)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	next.Version = 2
	equal(t, next, updated)
	stale := a
	stale.Name = "stale write"
	if _, err := s.Update(ctx(t), stale); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("stale Update: got %v, want ErrConflict", err)
	}
	ahead := updated
	ahead.Version = 7
	ahead.Name = "from the future"
	if _, err := s.Update(ctx(t), ahead); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("Update with a version from the future: got %v, want ErrConflict", err)
	}
	equal(t, next, mustGet(t, s, a.ID))

	// An update can clear the package.
	next.Package = ""
	cleared, err := s.Update(ctx(t), next)
	if err != nil {
		t.Fatal(err)
	}
	next.Version = 3
	equal(t, next, cleared)
	equal(t, next, mustGet(t, s, a.ID))
}

// testDisabled checks that Disabled and TokensNotBefore are stored, by
// Create and by Update, and Disabled cleared again while the cut-off
// stays.
func testDisabled(t *testing.T, s account.Store) {
	a := sample()
	a.Disabled = true
	a.TokensNotBefore = base.Add(30 * time.Second)
	created := mustCreate(t, s, a)
	a.Version = 1
	equal(t, a, created)
	equal(t, a, mustGet(t, s, a.ID))

	b := mustCreate(t, s, sample())
	if b.Disabled {
		t.Fatal("Create of an enabled account stored it disabled")
	}
	if !b.TokensNotBefore.IsZero() {
		t.Fatalf("Create of an account without a cut-off stored %v", b.TokensNotBefore)
	}
	if got := mustGet(t, s, b.ID); !got.TokensNotBefore.IsZero() {
		t.Fatalf("Get of an account without a cut-off returned %v", got.TokensNotBefore)
	}
	next := b
	next.Disabled = true
	next.TokensNotBefore = base.Add(time.Hour)
	next.Updated = base.Add(time.Hour)
	disabled, err := s.Update(ctx(t), next)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	next.Version = 2
	equal(t, next, disabled)
	equal(t, next, mustGet(t, s, b.ID))
	listed := mustList(t, s, account.ListFilter{})
	for _, l := range listed {
		if !l.Disabled {
			t.Errorf("List shows %s enabled; both accounts are disabled", l.ID)
		}
	}

	next.Disabled = false
	enabled, err := s.Update(ctx(t), next)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	next.Version = 3
	equal(t, next, enabled)
	equal(t, next, mustGet(t, s, b.ID))
	if got := mustGet(t, s, b.ID); !got.CutOff(base.Add(time.Hour)) || got.CutOff(base.Add(time.Hour+time.Second)) {
		t.Errorf("the stored cut-off %v does not cut off what it should", got.TokensNotBefore)
	}

	// An update can clear the cut-off.
	next.TokensNotBefore = time.Time{}
	cleared, err := s.Update(ctx(t), next)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	next.Version = 4
	equal(t, next, cleared)
	equal(t, next, mustGet(t, s, b.ID))
}

func testUpdateMissing(t *testing.T, s account.Store) {
	a := sample()
	a.Version = 1
	if _, err := s.Update(ctx(t), a); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Update missing: got %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx(t), a.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Update of a missing account must not create it: %v", err)
	}
}

func testListOrder(t *testing.T, s account.Store) {
	if as := mustList(t, s, account.ListFilter{}); len(as) != 0 {
		t.Fatalf("an empty store lists %v", ids(as))
	}
	// Created in reverse order, with a tie broken by ID.
	var want []string
	for i := range 3 {
		a := sample()
		a.Created = base.Add(time.Duration(10-i) * time.Minute)
		mustCreate(t, s, a)
		want = append([]string{a.ID}, want...)
	}
	for _, id := range []string{"acct_tieC", "acct_tieA", "acct_tieB"} {
		a := sample()
		a.ID = id
		a.Created = base
		mustCreate(t, s, a)
	}
	want = append([]string{"acct_tieA", "acct_tieB", "acct_tieC"}, want...)
	got := mustList(t, s, account.ListFilter{})
	if fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Fatalf("List: got %v, want %v (by Created, then ID)", ids(got), want)
	}
	// Listed accounts are complete.
	for _, a := range got {
		equal(t, mustGet(t, s, a.ID), a)
	}
}

// populate creates n accounts whose order differs from their creation
// order, several of them created at the same instant, and returns their IDs
// in the order of List.
func populate(t *testing.T, s account.Store, n int) []string {
	t.Helper()
	for i := range n {
		a := sample()
		// Three instants, in the opposite order of the IDs; within
		// one, IDs in an order unrelated to creation.
		a.Created = base.Add(time.Duration(3-i%3) * time.Hour)
		a.ID = fmt.Sprintf("acct_p%02d_%d", (i*7)%n, i)
		mustCreate(t, s, a)
	}
	return ids(mustList(t, s, account.ListFilter{}))
}

// testListPagination pages through the accounts with every page size and
// checks that every account comes exactly once, in order, in full pages.
func testListPagination(t *testing.T, s account.Store) {
	const n = 11
	all := populate(t, s, n)
	if len(all) != n {
		t.Fatalf("List without a limit: %d accounts, want %d", len(all), n)
	}
	for limit := 1; limit <= n+1; limit++ {
		var got []string
		f := account.ListFilter{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > n+1 {
				t.Fatalf("limit %d: more than %d pages", limit, n+1)
			}
			page := mustList(t, s, f)
			if want := min(limit, n-len(got)); len(page) != want {
				t.Fatalf("limit %d, page %d: %d accounts, want %d", limit, pages, len(page), want)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			last := page[len(page)-1]
			f.AfterCreated, f.AfterID = last.Created, last.ID
		}
		if fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("limit %d: the pages hold %v, want %v: every account once, in order", limit, got, all)
		}
	}
}

// testListAfter checks positions that are not the last account of a page:
// a deleted account's, one between two accounts created at the same
// instant, and one with only a time.
func testListAfter(t *testing.T, s account.Store) {
	at := base.Add(time.Hour)
	for _, id := range []string{"acct_b", "acct_d", "acct_f"} {
		a := sample()
		a.ID, a.Created = id, at
		mustCreate(t, s, a)
	}
	early, late := sample(), sample()
	early.ID, early.Created = "acct_z", at.Add(-time.Second)
	late.ID, late.Created = "acct_a", at.Add(time.Second)
	mustCreate(t, s, early)
	mustCreate(t, s, late)

	for _, tc := range []struct {
		name  string
		f     account.ListFilter
		wants []string
	}{
		{"from the start", account.ListFilter{}, []string{"acct_z", "acct_b", "acct_d", "acct_f", "acct_a"}},
		{"after an existing account", account.ListFilter{AfterCreated: at, AfterID: "acct_b"}, []string{"acct_d", "acct_f", "acct_a"}},
		{"after an ID no account has", account.ListFilter{AfterCreated: at, AfterID: "acct_c"}, []string{"acct_d", "acct_f", "acct_a"}},
		{"after an ID past the tie", account.ListFilter{AfterCreated: at, AfterID: "acct_y"}, []string{"acct_a"}},
		{"time only: created then or later", account.ListFilter{AfterCreated: at}, []string{"acct_b", "acct_d", "acct_f", "acct_a"}},
		{"time between accounts", account.ListFilter{AfterCreated: at.Add(-time.Millisecond), AfterID: "acct_zzz"}, []string{"acct_b", "acct_d", "acct_f", "acct_a"}},
		{"the ID orders after the time", account.ListFilter{AfterCreated: at.Add(-time.Second), AfterID: "acct_a"}, []string{"acct_z", "acct_b", "acct_d", "acct_f", "acct_a"}},
		{"after the last", account.ListFilter{AfterCreated: late.Created, AfterID: late.ID}, nil},
		{"past the end", account.ListFilter{AfterCreated: at.Add(time.Hour)}, nil},
		{"with a limit", account.ListFilter{AfterCreated: at, AfterID: "acct_b", Limit: 2}, []string{"acct_d", "acct_f"}},
	} {
		if got := ids(mustList(t, s, tc.f)); fmt.Sprint(got) != fmt.Sprint(tc.wants) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.wants)
		}
	}
}

// testListSearch checks Search: a substring of the ID or the name, ASCII
// letters without case, other characters (the LIKE wildcards % and _, and
// non-ASCII letters) as they are; with the position and the limit.
func testListSearch(t *testing.T, s account.Store) {
	for i, c := range []struct{ id, name string }{
		{"acct_shop1", "Corner Shop"},
		{"acct_cafe", "Café Übel"},
		{"acct_pct", "100% natural_goods"},
		{"acct_x", "plain"},
		{"acct_SHOPPER", "Buyer"},
		{"acct_pc1", "100 percent"},
	} {
		a := sample()
		a.ID, a.Name, a.Created = c.id, c.name, base.Add(time.Duration(i)*time.Minute)
		mustCreate(t, s, a)
	}
	for _, tc := range []struct {
		f     account.ListFilter
		wants []string
	}{
		{account.ListFilter{Search: "shop"}, []string{"acct_shop1", "acct_SHOPPER"}},
		{account.ListFilter{Search: "SHOP"}, []string{"acct_shop1", "acct_SHOPPER"}},
		{account.ListFilter{Search: "corner s"}, []string{"acct_shop1"}},
		{account.ListFilter{Search: "café"}, []string{"acct_cafe"}},
		{account.ListFilter{Search: "CAFé"}, []string{"acct_cafe"}},
		{account.ListFilter{Search: "CAFÉ"}, nil},
		{account.ListFilter{Search: "übel"}, nil},
		{account.ListFilter{Search: "Übel"}, []string{"acct_cafe"}},
		{account.ListFilter{Search: "0%"}, []string{"acct_pct"}},
		{account.ListFilter{Search: "%"}, []string{"acct_pct"}},
		{account.ListFilter{Search: "l_g"}, []string{"acct_pct"}},
		{account.ListFilter{Search: "_"}, []string{"acct_shop1", "acct_cafe", "acct_pct", "acct_x", "acct_SHOPPER", "acct_pc1"}},
		{account.ListFilter{Search: "acct_p"}, []string{"acct_pct", "acct_pc1"}},
		{account.ListFilter{Search: `\`}, nil},
		{account.ListFilter{Search: "nothing"}, nil},
		{account.ListFilter{Search: "shop", Limit: 1}, []string{"acct_shop1"}},
		{account.ListFilter{Search: "shop", AfterCreated: base, AfterID: "acct_shop1"}, []string{"acct_SHOPPER"}},
	} {
		if got := ids(mustList(t, s, tc.f)); fmt.Sprint(got) != fmt.Sprint(tc.wants) {
			t.Errorf("List(%+v): got %v, want %v", tc.f, got, tc.wants)
		}
	}
}

// testIsolation checks that changing what a store returned, or what it
// was given, changes nothing stored.
func testIsolation(t *testing.T, s account.Store) {
	a := sample()
	created := mustCreate(t, s, a)
	a.Name, created.Name = "mutated", "mutated"
	got := mustGet(t, s, a.ID)
	if got.Name == "mutated" {
		t.Fatal("the store shares memory with the caller of Create")
	}
	got.Name = "mutated"
	listed := mustList(t, s, account.ListFilter{})
	if len(listed) != 1 || listed[0].Name == "mutated" {
		t.Fatalf("the store shares memory with the caller of Get: %+v", listed)
	}
	listed[0].Name = "mutated"
	again := mustGet(t, s, a.ID)
	if again.Name == "mutated" {
		t.Fatal("the store shares memory with the caller of List")
	}
	again.Name = "updated"
	updated, err := s.Update(ctx(t), again)
	if err != nil {
		t.Fatal(err)
	}
	again.Name, updated.Name = "mutated", "mutated"
	if got := mustGet(t, s, a.ID); got.Name != "updated" {
		t.Fatalf("the store shares memory with the caller of Update: %q", got.Name)
	}
}

func testCancelled(t *testing.T, s account.Store) {
	a := mustCreate(t, s, sample())
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["Create"] = s.Create(cctx, sample())
	_, checks["Get"] = s.Get(cctx, a.ID)
	_, checks["List"] = s.List(cctx, account.ListFilter{})
	renamed := a
	renamed.Name = "renamed"
	_, checks["Update"] = s.Update(cctx, renamed)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", op, err)
		}
	}
	if got := mustGet(t, s, a.ID); got.Version != 1 || got.Name != a.Name {
		t.Fatalf("a cancelled Update must not apply: version %d, name %q", got.Version, got.Name)
	}
	if as := mustList(t, s, account.ListFilter{}); len(as) != 1 {
		t.Fatalf("a cancelled Create must store nothing: %d accounts", len(as))
	}
}

// race runs fn(0) … fn(n-1) in n goroutines released together.
func race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

func testConcurrentCreate(t *testing.T, s account.Store) {
	const n = 16
	a := sample()
	var wins, dups atomic.Int64
	race(n, func(i int) {
		r := a
		r.Name = fmt.Sprint("racer ", i)
		_, err := s.Create(ctx(t), r)
		switch {
		case err == nil:
			wins.Add(1)
		case errors.Is(err, account.ErrExists):
			dups.Add(1)
		default:
			t.Errorf("Create: %v", err)
		}
	})
	if wins.Load() != 1 || dups.Load() != n-1 {
		t.Fatalf("racing Creates of one ID: %d succeeded, %d duplicates; want 1 and %d", wins.Load(), dups.Load(), n-1)
	}
	if got := mustGet(t, s, a.ID); got.Version != 1 {
		t.Fatalf("after racing Creates: version %d, want 1", got.Version)
	}
}

// testConcurrentUpdates runs read-modify-write loops from many goroutines,
// each incrementing a counter kept in the name; compare-and-swap must let
// every increment land exactly once.
func testConcurrentUpdates(t *testing.T, s account.Store) {
	const workers, each = 8, 10
	a := sample()
	a.Name = "0"
	mustCreate(t, s, a)
	race(workers, func(int) {
		for range each {
			for {
				cur, err := s.Get(ctx(t), a.ID)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				n, err := strconv.Atoi(cur.Name)
				if err != nil {
					t.Errorf("name %q: %v", cur.Name, err)
					return
				}
				cur.Name = strconv.Itoa(n + 1)
				if _, err := s.Update(ctx(t), cur); err == nil {
					break
				} else if !errors.Is(err, account.ErrConflict) {
					t.Errorf("Update: %v", err)
					return
				}
			}
		}
	})
	got := mustGet(t, s, a.ID)
	if want := strconv.Itoa(workers * each); got.Name != want || got.Version != 1+workers*each {
		t.Fatalf("after %d concurrent increments: counter %s (want %s), version %d (want %d)",
			workers*each, got.Name, want, got.Version, 1+workers*each)
	}
}
