// Package audittest holds conformance suites for implementations of
// [audit.Sink] and [audit.History].
package audittest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// Reader is implemented by sinks that can list what they hold, oldest
// first (such as [audit.MemorySink]).
type Reader interface {
	Events() []audit.Event
}

// readAll returns what s holds, oldest first, through [Reader] or
// [audit.History]; ok is false if s implements neither.
func readAll(t *testing.T, s audit.Sink) (events []audit.Event, ok bool) {
	t.Helper()
	if r, ok := s.(Reader); ok {
		return r.Events(), true
	}
	h, ok := s.(audit.History)
	if !ok {
		return nil, false
	}
	q := audit.Query{Limit: audit.MaxQueryLimit}
	for {
		p, err := h.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		events = append(events, p.Events...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	slices.Reverse(events)
	return events, true
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

func event(id string, i int) audit.Event {
	return audit.Event{
		Time:      base.Add(time.Duration(i) * time.Millisecond),
		RequestID: id,
		IP:        "192.0.2.1",
		Method:    "GET",
		Path:      "/v1/things",
		Status:    200,
		Headers:   map[string]string{"X-Request-Id": id},
		KeyID:     "kid_1",
		Decision:  audit.Allow,
		Reason:    "ok",
	}
}

// checkSeq fails unless events are numbered 1, 2, 3, ... in order.
func checkSeq(t *testing.T, events []audit.Event) {
	t.Helper()
	for i, e := range events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d (%s) has Seq %d, want %d", i, e.RequestID, e.Seq, i+1)
		}
	}
}

// TestSink runs the conformance suite for a [audit.Sink]. newSink returns
// a new, empty sink for each subtest; it must hold at least 1000 events.
// The suite reads events back through [Reader] or [audit.History]; for a
// sink implementing neither, the subtests that read back are skipped.
//
// It checks that batches are stored whole and in order, with Seq
// consecutive from 1; that concurrent writers lose nothing and keep their
// own order; and that a cancelled ctx makes Write fail with
// context.Canceled and store nothing, without using up sequence numbers.
func TestSink(t *testing.T, newSink func(t *testing.T) audit.Sink) {
	ctx := context.Background()

	t.Run("Batches", func(t *testing.T) {
		s := newSink(t)
		var want []audit.Event
		n := 0
		for _, size := range []int{1, 3, 0, 5, 1} {
			var batch []audit.Event
			for range size {
				n++
				batch = append(batch, event(fmt.Sprintf("req-%d", n), n))
			}
			if err := s.Write(ctx, batch); err != nil {
				t.Fatalf("Write(batch of %d): %v", size, err)
			}
			want = append(want, batch...)
		}
		got, ok := readAll(t, s)
		if !ok {
			t.Skip("sink implements neither audittest.Reader nor audit.History")
		}
		if len(got) != len(want) {
			t.Fatalf("read back %d events, want %d", len(got), len(want))
		}
		checkSeq(t, got)
		for i := range want {
			g, w := got[i], want[i]
			if g.RequestID != w.RequestID || !g.Time.Equal(w.Time) || g.IP != w.IP ||
				g.Status != w.Status || g.Decision != w.Decision || g.Reason != w.Reason ||
				g.Headers["X-Request-Id"] != w.Headers["X-Request-Id"] {
				t.Fatalf("event %d = %+v, want %+v", i, g, w)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := newSink(t)
		const writers, batches, size = 8, 10, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for b := range batches {
					batch := make([]audit.Event, size)
					for i := range batch {
						batch[i] = event(fmt.Sprintf("w%d-%03d", w, b*size+i), i)
					}
					if err := s.Write(ctx, batch); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Write: %v", err)
		}
		got, ok := readAll(t, s)
		if !ok {
			t.Skip("sink implements neither audittest.Reader nor audit.History")
		}
		if len(got) != writers*batches*size {
			t.Fatalf("read back %d events, want %d", len(got), writers*batches*size)
		}
		checkSeq(t, got)
		next := make(map[int]int) // writer → index of its next event
		for _, e := range got {
			var w, i int
			if _, err := fmt.Sscanf(e.RequestID, "w%d-%d", &w, &i); err != nil {
				t.Fatalf("unexpected event %q", e.RequestID)
			}
			if i != next[w] {
				t.Fatalf("writer %d: event %d stored where %d was due", w, i, next[w])
			}
			next[w]++
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newSink(t)
		if err := s.Write(ctx, []audit.Event{event("first", 0)}); err != nil {
			t.Fatalf("Write: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Write(cctx, []audit.Event{event("cancelled-1", 1), event("cancelled-2", 2)})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Write with a cancelled ctx = %v, want context.Canceled", err)
		}
		if err := s.Write(ctx, []audit.Event{event("second", 3)}); err != nil {
			t.Fatalf("Write: %v", err)
		}
		got, ok := readAll(t, s)
		if !ok {
			t.Skip("sink implements neither audittest.Reader nor audit.History")
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.RequestID)
		}
		if !slices.Equal(ids, []string{"first", "second"}) {
			t.Fatalf("stored %q, want [first second]", ids)
		}
		checkSeq(t, got)
	})
}

// HistorySink is a sink that answers queries.
type HistorySink interface {
	audit.Sink
	audit.History
}

// TestHistory runs the conformance suite for an [audit.History]. newSink
// returns a new, empty sink for each subtest; it must hold at least 1200
// events.
//
// It checks every filter of [audit.Query] (Since inclusive, Until
// exclusive, also over events written out of the order of their times),
// newest-first order, cursor pagination without gaps or
// repeats, the Limit default (100) and maximum (1000), and that a bogus
// cursor is an error.
func TestHistory(t *testing.T, newSink func(t *testing.T) HistorySink) {
	ctx := context.Background()

	// A varied population: 240 request events and 10 management events.
	var population []audit.Event
	for i := range 240 {
		e := audit.Event{
			Time:      base.Add(time.Duration(i) * time.Second),
			RequestID: fmt.Sprintf("req-%03d", i),
			IP:        []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}[i%3],
			Method:    "GET",
			Path:      "/v1/x",
			KeyID:     []string{"kid_a", "kid_b", "kid_c", "kid_d"}[i%4],
			Account:   []string{"acme", "globex"}[i%2],
			Mode:      []string{"live", "test"}[(i/2)%2],
			Store:     []string{"", "eu", "us"}[i%3],
			Decision:  audit.Allow,
			Reason:    "ok",
		}
		if i%5 == 0 {
			e.Decision, e.Reason = audit.Deny, []string{"expired", "revoked", "rate_limited"}[(i/5)%3]
		}
		population = append(population, e)
	}
	for i := range 10 {
		population = append(population, audit.Event{
			Time:   base.Add(time.Duration(240+i) * time.Second),
			Action: []string{"key.created", "key.revoked"}[i%2],
			Actor:  "admin",
			KeyID:  "kid_a",
		})
	}
	fill := func(t *testing.T, events []audit.Event) HistorySink {
		t.Helper()
		s := newSink(t)
		for chunk := range slices.Chunk(events, 64) {
			if err := s.Write(ctx, slices.Clone(chunk)); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		return s
	}
	// all pages through q, checking each page.
	all := func(t *testing.T, h audit.History, q audit.Query) []audit.Event {
		t.Helper()
		var out []audit.Event
		for pages := 0; ; pages++ {
			if pages > 2000 {
				t.Fatal("pagination does not end")
			}
			p, err := h.Query(ctx, q)
			if err != nil {
				t.Fatalf("Query(%+v): %v", q, err)
			}
			limit := q.Limit
			if limit <= 0 {
				limit = 100
			}
			if len(p.Events) > limit {
				t.Fatalf("page of %d events, limit %d", len(p.Events), limit)
			}
			if p.Next != "" && len(p.Events) == 0 {
				t.Fatal("empty page with a Next cursor")
			}
			out = append(out, p.Events...)
			if p.Next == "" {
				return out
			}
			q.Cursor = p.Next
		}
	}
	// expect checks got against the population filtered by q, newest first.
	expect := func(t *testing.T, q audit.Query, got []audit.Event) {
		t.Helper()
		var want []string
		for i := len(population) - 1; i >= 0; i-- {
			if q.Match(&population[i]) {
				want = append(want, key(population[i]))
			}
		}
		var ids []string
		for i, e := range got {
			ids = append(ids, key(e))
			if i > 0 && e.Seq >= got[i-1].Seq {
				t.Fatalf("Seq %d after %d: not newest first", e.Seq, got[i-1].Seq)
			}
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("query %+v:\n got %d events %q\nwant %d events %q", q, len(ids), ids, len(want), want)
		}
	}

	t.Run("Filters", func(t *testing.T) {
		s := fill(t, population)
		for _, q := range []audit.Query{
			{},
			{KeyID: "kid_b"},
			{KeyID: "kid_a"},
			{Account: "globex"},
			{Mode: "test"},
			{Store: "eu"},
			{IP: "2001:db8::1"},
			{Decision: audit.Deny},
			{Decision: audit.Allow},
			{Reason: "revoked"},
			{Decision: audit.Deny, Reason: "expired", Account: "acme"},
			{Action: "key.revoked"},
			{Since: base.Add(100 * time.Second)},
			{Until: base.Add(100 * time.Second)},
			{Since: base.Add(10 * time.Second), Until: base.Add(20 * time.Second)},
			{Since: base.Add(10 * time.Second), Until: base.Add(10 * time.Second)},
			{KeyID: "kid_none"},
		} {
			expect(t, q, all(t, s, q))
		}
		// Boundaries: Since inclusive, Until exclusive.
		got := all(t, s, audit.Query{Since: base.Add(10 * time.Second), Until: base.Add(12 * time.Second)})
		if len(got) != 2 || got[0].RequestID != "req-011" || got[1].RequestID != "req-010" {
			t.Fatalf("[10s, 12s) = %v, want req-011, req-010", got)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		s := fill(t, population)
		for _, limit := range []int{1, 7, 50, 249, 250, 251, 1000} {
			expect(t, audit.Query{Limit: limit}, all(t, s, audit.Query{Limit: limit}))
			q := audit.Query{Limit: limit, Decision: audit.Deny}
			expect(t, q, all(t, s, q))
		}
		// Events written between pages do not disturb a walk in progress.
		p1, err := s.Query(ctx, audit.Query{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, []audit.Event{{Time: base.Add(time.Hour), RequestID: "late"}}); err != nil {
			t.Fatal(err)
		}
		rest := all(t, s, audit.Query{Limit: 10, Cursor: p1.Next})
		expect(t, audit.Query{}, append(p1.Events, rest...))
	})

	t.Run("TimesOutOfOrder", func(t *testing.T) {
		// Events are not always written in the order of their times (a
		// late writer, a clock step): a time range finds each wherever
		// it was written.
		var shuffled []audit.Event
		for i := range 120 {
			hour := []int{5, 1, 3, 0, 4, 2}[i/20]
			shuffled = append(shuffled, audit.Event{
				Time:      base.Add(time.Duration(hour)*time.Hour + time.Duration(i%20)*time.Minute),
				RequestID: fmt.Sprintf("ooo-%03d", i),
				KeyID:     []string{"kid_a", "kid_b"}[i%2],
				Decision:  audit.Allow,
			})
		}
		s := newSink(t)
		for chunk := range slices.Chunk(shuffled, 7) {
			if err := s.Write(ctx, slices.Clone(chunk)); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		for _, q := range []audit.Query{
			{Since: base.Add(time.Hour), Until: base.Add(2 * time.Hour)},
			{Since: base.Add(90 * time.Minute)},
			{Until: base.Add(65 * time.Minute)},
			{Since: base.Add(2*time.Hour + 10*time.Minute), Until: base.Add(4*time.Hour + 5*time.Minute), KeyID: "kid_b"},
			{Since: base.Add(10 * time.Hour)},
			{Until: base.Add(-time.Hour)},
		} {
			var want []string
			for i := len(shuffled) - 1; i >= 0; i-- {
				if q.Match(&shuffled[i]) {
					want = append(want, shuffled[i].RequestID)
				}
			}
			var got []string
			for _, e := range all(t, s, q) {
				got = append(got, e.RequestID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("query %+v:\n got %q\nwant %q", q, got, want)
			}
		}
	})

	t.Run("Limits", func(t *testing.T) {
		var many []audit.Event
		for i := range 1100 {
			many = append(many, audit.Event{Time: base.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprintf("r%d", i)})
		}
		s := fill(t, many)
		for _, c := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {1, 1}, {1000, 1000}, {1001, 1000}, {1 << 30, 1000}} {
			p, err := s.Query(ctx, audit.Query{Limit: c.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != c.want || p.Next == "" {
				t.Fatalf("Limit %d: %d events (next %q), want %d and a cursor", c.limit, len(p.Events), p.Next, c.want)
			}
			if p.Events[0].RequestID != "r1099" {
				t.Fatalf("Limit %d: first event %s, want the newest, r1099", c.limit, p.Events[0].RequestID)
			}
		}
	})

	t.Run("BadCursor", func(t *testing.T) {
		s := fill(t, population[:10])
		for _, c := range []string{"garbage!", "bm90IGEgY3Vyc29y"} {
			if _, err := s.Query(ctx, audit.Query{Cursor: c}); err == nil {
				t.Fatalf("Query with cursor %q: no error", c)
			}
		}
	})
}

// key identifies an event of the population.
func key(e audit.Event) string {
	if e.RequestID != "" {
		return e.RequestID
	}
	return fmt.Sprintf("%s@%s", e.Action, e.Time.Format(time.RFC3339))
}
