package audittest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// SummarySink is a sink that summarizes what it stores.
type SummarySink interface {
	audit.Sink
	audit.Summarizer
}

// summaryBase is on the hour, so that the population covers whole hours
// and parts of hours.
var summaryBase = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

// summaryPopulation returns request events over 30 hours (not on the
// hour, several accounts, keys, modes, decisions and 12 deny reasons) and
// management events, which summaries leave out.
func summaryPopulation() []audit.Event {
	var out []audit.Event
	for i := range 900 {
		e := audit.Event{
			// 2 minutes 7 seconds apart: every hour has events, at
			// varying offsets.
			Time:      summaryBase.Add(time.Duration(i)*127*time.Second + time.Duration(i%7)*time.Millisecond),
			RequestID: fmt.Sprintf("sum-%03d", i),
			KeyID:     []string{"kid_a", "kid_b", "kid_c"}[i%3],
			Account:   []string{"acme", "globex"}[i%2],
			Mode:      []string{"live", "test", "test", ""}[i%4],
			Decision:  audit.Allow,
			Reason:    "ok",
		}
		if i%3 == 1 {
			e.Decision = audit.Deny
			// 12 reasons of falling frequency, so that the cut at 10 and
			// the order by count show.
			e.Reason = fmt.Sprintf("reason_%02d", min((i/3)%24, 11))
		}
		if i%50 == 7 {
			e.Decision = "" // neither allow nor deny: not counted
		}
		out = append(out, e)
	}
	for i := range 20 {
		out = append(out, audit.Event{
			Time:     summaryBase.Add(time.Duration(i) * 37 * time.Minute),
			Action:   "key.created",
			Actor:    "admin",
			KeyID:    "kid_a",
			Account:  "acme",
			Mode:     "live",
			Decision: audit.Deny, // a management event is never counted
			Reason:   "reason_00",
		})
	}
	return out
}

// naiveSummary is the reference: what the summary of events for q must be.
func naiveSummary(events []audit.Event, q audit.SummaryQuery) audit.Summary {
	type key struct {
		start int64
		mode  string
	}
	counts := map[key]*audit.SummaryBucket{}
	reasons := map[string]int64{}
	for _, e := range events {
		if e.Action != "" || (q.Account != "" && e.Account != q.Account) || (q.KeyID != "" && e.KeyID != q.KeyID) ||
			(!q.Since.IsZero() && e.Time.Before(q.Since)) || (!q.Until.IsZero() && !e.Time.Before(q.Until)) ||
			(e.Decision != audit.Allow && e.Decision != audit.Deny) {
			continue
		}
		start := q.Since
		if q.Bucket > 0 {
			// Buckets aligned on the zero time; every time here is
			// after the Unix epoch, which is on a multiple of each
			// bucket width the suite uses.
			ns := e.Time.UnixNano()
			start = time.Unix(0, ns-ns%int64(q.Bucket))
		}
		k := key{start.UnixNano(), e.Mode}
		if counts[k] == nil {
			counts[k] = &audit.SummaryBucket{Start: start.UTC(), Mode: e.Mode}
		}
		if e.Decision == audit.Allow {
			counts[k].Allow++
		} else {
			counts[k].Deny++
			reasons[e.Reason]++
		}
	}
	var s audit.Summary
	for _, b := range counts {
		s.Buckets = append(s.Buckets, *b)
	}
	sort.Slice(s.Buckets, func(i, j int) bool {
		a, b := s.Buckets[i], s.Buckets[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		return a.Mode < b.Mode
	})
	for r, n := range reasons {
		s.TopDenyReasons = append(s.TopDenyReasons, audit.ReasonCount{Reason: r, Count: n})
	}
	sort.Slice(s.TopDenyReasons, func(i, j int) bool {
		a, b := s.TopDenyReasons[i], s.TopDenyReasons[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Reason < b.Reason
	})
	if len(s.TopDenyReasons) > 10 {
		s.TopDenyReasons = s.TopDenyReasons[:10]
	}
	return s
}

// sameSummary fails unless got is want (times compared as instants).
func sameSummary(t *testing.T, q audit.SummaryQuery, got, want audit.Summary) {
	t.Helper()
	norm := func(s audit.Summary) audit.Summary {
		s.Buckets = slices.Clone(s.Buckets)
		for i := range s.Buckets {
			s.Buckets[i].Start = s.Buckets[i].Start.UTC()
		}
		if len(s.Buckets) == 0 {
			s.Buckets = nil
		}
		if len(s.TopDenyReasons) == 0 {
			s.TopDenyReasons = nil
		}
		return s
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("Summarize(%+v):\n got %+v\nwant %+v", q, g, w)
	}
}

// TestSummarizer runs the conformance suite for an [audit.Summarizer].
// newSink returns a new, empty sink for each subtest; it must hold at
// least 1000 events.
//
// It checks the summaries of a varied population of request and
// management events against a reference: request events only, Since
// inclusive and Until exclusive, on and off the hour, buckets of 0, 15
// minutes, 1, 2 and 24 hours aligned on the zero time, the Account and
// KeyID filters, the order of buckets and the cut of the top deny reasons
// at [audit.MaxTopReasons]; that counts of one hour written in several
// batches add up; and that a cancelled ctx is an error.
func TestSummarizer(t *testing.T, newSink func(t *testing.T) SummarySink) {
	ctx := context.Background()
	population := summaryPopulation()
	fill := func(t *testing.T) SummarySink {
		t.Helper()
		s := newSink(t)
		// Uneven batches, so that one hour's counts come from several.
		for chunk := range slices.Chunk(population, 37) {
			if err := s.Write(ctx, slices.Clone(chunk)); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		return s
	}
	h := func(n float64) time.Time { return summaryBase.Add(time.Duration(n * float64(time.Hour))) }

	t.Run("Queries", func(t *testing.T) {
		s := fill(t)
		for _, q := range []audit.SummaryQuery{
			{},
			{Bucket: time.Hour},
			{Since: h(2), Until: h(26), Bucket: time.Hour},
			{Since: h(2.25), Until: h(26.6), Bucket: time.Hour},
			{Since: h(2.25), Until: h(2.6), Bucket: time.Hour},
			{Since: h(2.25), Until: h(3), Bucket: time.Hour},
			{Since: h(2), Until: h(2.5), Bucket: time.Hour},
			{Since: h(7.1), Bucket: time.Hour},
			{Until: h(7.1), Bucket: time.Hour},
			{Since: h(1), Until: h(25), Bucket: 2 * time.Hour},
			{Since: h(1.5), Until: h(29.5), Bucket: 24 * time.Hour},
			{Since: h(3), Until: h(9.3), Bucket: 15 * time.Minute},
			{Since: h(3.01), Until: h(4.99), Bucket: time.Minute},
			{Since: h(4), Until: h(28)},
			{Since: h(4.5), Until: h(27.2)},
			{Since: h(4.5), Until: h(27.2), Bucket: -time.Hour},
			{Since: h(4), Until: h(28), Bucket: time.Hour, KeyID: "kid_b"},
			{Since: h(4.3), Until: h(28), Bucket: time.Hour, KeyID: "kid_a"},
			{Since: h(4), Until: h(28.8), Bucket: time.Hour, Account: "globex"},
			{Since: h(4), Until: h(28), Bucket: 30 * time.Minute, Account: "acme", KeyID: "kid_c"},
			{Since: h(3.37), Until: h(9.61), Bucket: 5 * time.Minute, Account: "acme"},
			{Since: h(3.37), Until: h(29.61), Account: "globex"},
			{Since: h(0), Until: h(40), KeyID: "kid_none"},
			{Since: h(5), Until: h(5), Bucket: time.Hour},
			{Since: h(6), Until: h(5), Bucket: time.Hour},
			{Since: h(40), Until: h(50), Bucket: time.Hour},
		} {
			got, err := s.Summarize(ctx, q)
			if err != nil {
				t.Fatalf("Summarize(%+v): %v", q, err)
			}
			sameSummary(t, q, got, naiveSummary(population, q))
		}
	})

	t.Run("Exact", func(t *testing.T) {
		// Hand-counted, so that the reference itself is checked: hour 0
		// holds events 0..28 (28*127s = 59m16s), of which kid_b's (i%3 ==
		// 1) are denials: 1, 4, ..., 28 — ten, in modes by i%4, but 7
		// has no decision.
		s := fill(t)
		q := audit.SummaryQuery{Since: h(0), Until: h(1), Bucket: time.Hour, KeyID: "kid_b"}
		got, err := s.Summarize(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		// i = 1, 4, 7(no decision), 10, 13, 16, 19, 22, 25, 28.
		// mode by i%4: 1 test, 4 live, 10 test, 13 test, 16 live, 19 "",
		// 22 test, 25 test, 28 live.
		want := audit.Summary{
			Buckets: []audit.SummaryBucket{
				{Start: h(0), Mode: "", Deny: 1},
				{Start: h(0), Mode: "live", Deny: 3},
				{Start: h(0), Mode: "test", Deny: 5},
			},
			// Reasons by i/3: one each of 0, 1 and 3 to 9; equal counts
			// in order of reason.
			TopDenyReasons: []audit.ReasonCount{
				{Reason: "reason_00", Count: 1}, {Reason: "reason_01", Count: 1}, {Reason: "reason_03", Count: 1},
				{Reason: "reason_04", Count: 1}, {Reason: "reason_05", Count: 1}, {Reason: "reason_06", Count: 1},
				{Reason: "reason_07", Count: 1}, {Reason: "reason_08", Count: 1}, {Reason: "reason_09", Count: 1},
			},
		}
		sameSummary(t, q, got, want)
	})

	t.Run("Empty", func(t *testing.T) {
		s := newSink(t)
		got, err := s.Summarize(ctx, audit.SummaryQuery{Bucket: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Buckets) != 0 || len(got.TopDenyReasons) != 0 {
			t.Fatalf("Summarize of an empty sink = %+v", got)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newSink(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Summarize(cctx, audit.SummaryQuery{}); err == nil {
			t.Fatal("Summarize with a cancelled ctx: no error")
		}
	})
}
