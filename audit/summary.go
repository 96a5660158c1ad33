package audit

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// MaxTopReasons is how many deny reasons a [Summary] lists at most.
const MaxTopReasons = 10

// SummaryQuery selects the request events a [Summarizer] counts: those
// with an empty Action whose Time lies in [Since, Until) and that match
// Account and KeyID. Empty fields match everything; a zero Since or Until
// leaves that end open.
type SummaryQuery struct {
	// Since and Until bound Time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Bucket is the width of the summary's buckets. Buckets are aligned
	// as [time.Time.Truncate] aligns (on multiples of Bucket since the
	// zero time, so an hourly or daily bucket starts on the UTC hour or
	// day), whatever Since is: the first and the last bucket may be cut
	// by Since and Until and count only the events inside. Zero or
	// negative: a single bucket per mode, starting at Since.
	//
	// Sinks may answer whole hours from a rollup: a multiple of an hour
	// (or zero), with Since and Until on the hour, is the cheapest query.
	Bucket time.Duration
	// Account and KeyID, when set, count only that account's or that
	// key's events.
	Account, KeyID string
}

// Summary counts request events by time and mode, and the most frequent
// reasons of denials.
type Summary struct {
	// Buckets holds one entry per bucket and mode that has events, oldest
	// first, then by mode.
	Buckets []SummaryBucket
	// TopDenyReasons holds the reasons of denied requests, most frequent
	// first (equal counts by reason), at most [MaxTopReasons].
	TopDenyReasons []ReasonCount
}

// SummaryBucket counts the requests of one mode in one bucket.
type SummaryBucket struct {
	// Start is the start of the bucket (see [SummaryQuery].Bucket).
	Start time.Time
	// Mode is the events' mode: "test", "live" or "" (requests refused
	// before a credential named a mode).
	Mode string
	// Allow and Deny count the requests of each decision.
	Allow, Deny int64
}

// ReasonCount is how many requests were denied for one reason.
type ReasonCount struct {
	Reason string
	Count  int64
}

// Summarizer aggregates stored request events, for the overview and the
// charts of the admin console.
type Summarizer interface {
	Summarize(ctx context.Context, q SummaryQuery) (Summary, error)
}

// Match reports whether q counts e: a request event (empty Action) in
// [Since, Until) of q's account and key. Summarizers may use it.
func (q *SummaryQuery) Match(e *Event) bool {
	return e.Action == "" && eq(q.Account, e.Account) && eq(q.KeyID, e.KeyID) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
		(q.Until.IsZero() || e.Time.Before(q.Until))
}

// BucketStart returns the start of the bucket of q that holds t.
func (q *SummaryQuery) BucketStart(t time.Time) time.Time {
	if q.Bucket <= 0 {
		return q.Since.UTC()
	}
	return t.Truncate(q.Bucket).UTC()
}

// Tally builds a [Summary] from counts, for implementations of
// [Summarizer]: each [Tally.Add] adds requests of one time, mode, decision
// and reason. The counts of a pre-aggregated interval (an hour of a
// rollup) may be added at its start when q.Bucket is a multiple of it.
type Tally struct {
	q       SummaryQuery
	buckets map[bucketKey]*SummaryBucket
	reasons map[string]int64
}

type bucketKey struct {
	start time.Time
	mode  string
}

// NewTally returns an empty Tally for q.
func NewTally(q SummaryQuery) *Tally {
	return &Tally{q: q, buckets: map[bucketKey]*SummaryBucket{}, reasons: map[string]int64{}}
}

// Add counts n requests at time at. Decisions other than [Allow] and
// [Deny] are not counted.
func (t *Tally) Add(at time.Time, mode string, d Decision, reason string, n int64) {
	if d != Allow && d != Deny {
		return
	}
	k := bucketKey{t.q.BucketStart(at), mode}
	b := t.buckets[k]
	if b == nil {
		b = &SummaryBucket{Start: k.start, Mode: mode}
		t.buckets[k] = b
	}
	if d == Allow {
		b.Allow += n
		return
	}
	b.Deny += n
	t.reasons[reason] += n
}

// Summary returns what was added.
func (t *Tally) Summary() Summary {
	var s Summary
	for _, b := range t.buckets {
		s.Buckets = append(s.Buckets, *b)
	}
	slices.SortFunc(s.Buckets, func(a, b SummaryBucket) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Mode, b.Mode))
	})
	for r, n := range t.reasons {
		s.TopDenyReasons = append(s.TopDenyReasons, ReasonCount{r, n})
	}
	slices.SortFunc(s.TopDenyReasons, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	if len(s.TopDenyReasons) > MaxTopReasons {
		s.TopDenyReasons = s.TopDenyReasons[:MaxTopReasons]
	}
	return s
}

// Summarize implements [Summarizer] over the events held.
func (m *MemorySink) Summarize(ctx context.Context, q SummaryQuery) (Summary, error) {
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	t := NewTally(q)
	// The tally keeps modes and reasons, which the events read alias
	// (MemorySink.view): it gets copies, one of each.
	names := map[string]string{}
	own := func(s string) string {
		c, ok := names[s]
		if !ok {
			c = strings.Clone(s)
			names[c] = c
		}
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var e Event
	for i := range m.n {
		if m.view(i, &e); q.Match(&e) {
			t.Add(e.Time, own(e.Mode), e.Decision, own(e.Reason), 1)
		}
	}
	return t.Summary(), nil
}

var _ Summarizer = (*MemorySink)(nil)
