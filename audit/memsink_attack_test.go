package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// cloneEvent returns a deep copy of e whose strings share no memory with
// e's.
func cloneEvent(e Event) Event {
	c := e
	for _, p := range memStrings(&c) {
		*p = strings.Clone(*p)
	}
	if e.Headers != nil {
		c.Headers = make(map[string]string, len(e.Headers))
		for k, v := range e.Headers {
			c.Headers[strings.Clone(k)] = strings.Clone(v)
		}
	}
	return c
}

// attackEvent is a request event of about size bytes whose every string
// is made of byte c, so that an alias of the sink's buffer shows a later
// write as changed bytes.
func attackEvent(c byte, size int, at time.Time) Event {
	s := strings.Repeat(string(c), 1+size/4)
	return Event{Time: at, RequestID: s[:1], IP: s[:1], Path: s, UserAgent: s, Account: "acct",
		KeyID: "k", Mode: s[:1], Decision: Deny, Reason: s[:1+size%min(7, len(s))], Headers: map[string]string{s[:2]: s}}
}

// TestMemorySinkAttackResultsStable: nothing Events, Query or Summarize
// return changes when the sink is written to later, over the same bytes
// of its buffer (same-size events, so written in place) or around a
// relayout.
func TestMemorySinkAttackResultsStable(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	for _, capacity := range []int{1, 2, 5, 64} {
		m := NewMemorySink(capacity)
		var batch []Event
		for i := range capacity {
			batch = append(batch, attackEvent('a', 40+i%3, at))
		}
		if err := m.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		events := m.Events()
		page, err := m.Query(ctx, Query{Limit: max(capacity/2, 1)})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := m.Summarize(ctx, SummaryQuery{Bucket: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		wantEvents := make([]Event, len(events))
		for i := range events {
			wantEvents[i] = cloneEvent(events[i])
		}
		wantPage := make([]Event, len(page.Events))
		for i := range page.Events {
			wantPage[i] = cloneEvent(page.Events[i])
		}
		wantSum := fmt.Sprintf("%+v", sum)
		// The same sizes, other bytes: written where the old ones were.
		for round := range 3 {
			for i := range batch {
				batch[i] = attackEvent(byte('b'+round), 40+i%3, at)
			}
			if err := m.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		// Then a relayout.
		if err := m.Write(ctx, []Event{attackEvent('z', 200_000, at)}); err != nil {
			t.Fatal(err)
		}
		for i := range events {
			if err := sameEvent(&events[i], &wantEvents[i]); err != nil {
				t.Fatalf("capacity %d: Events()[%d] changed: %v", capacity, i, err)
			}
		}
		for i := range page.Events {
			if err := sameEvent(&page.Events[i], &wantPage[i]); err != nil {
				t.Fatalf("capacity %d: Query event %d changed: %v", capacity, i, err)
			}
		}
		if got := fmt.Sprintf("%+v", sum); got != wantSum {
			t.Fatalf("capacity %d: summary changed: %s, was %s", capacity, got, wantSum)
		}
	}
}

// TestMemorySinkAttackConcurrent writes and reads a small sink from
// several goroutines (run it with -race): every event read is one that
// was written, whole, and stays so while the writes go on.
func TestMemorySinkAttackConcurrent(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	m := NewMemorySink(16)
	// An event is consistent when its strings are all of one byte, the
	// one its RequestID names.
	check := func(e *Event) error {
		c := e.RequestID
		for _, s := range []string{e.IP, e.Path, e.UserAgent, e.Mode, e.Reason} {
			if strings.Trim(s, c) != "" {
				return fmt.Errorf("event %d mixes %q with %q", e.Seq, c, s)
			}
		}
		for k, v := range e.Headers {
			if strings.Trim(k+v, c) != "" {
				return fmt.Errorf("event %d: header %q: %q", e.Seq, k, v)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				batch := make([]Event, 1+r.IntN(20))
				for j := range batch {
					size := 10 + r.IntN(300)
					if r.IntN(50) == 0 {
						size = 100_000
					}
					batch[j] = attackEvent(byte('a'+r.IntN(26)), size, at)
				}
				if err := m.Write(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var kept []Event // results of reads, checked again at the end
	var keptMu sync.Mutex
	var readers sync.WaitGroup // the writers write until the readers are done
	for g := range 3 {
		readers.Go(func() {
			for range 300 {
				var got []Event
				switch g {
				case 0:
					got = m.Events()
				case 1:
					p, err := m.Query(ctx, Query{Limit: 5, Account: "acct"})
					if err != nil {
						errs <- err
						return
					}
					got = p.Events
					if p.Next != "" {
						p2, err := m.Query(ctx, Query{Limit: 5, Cursor: p.Next})
						if err != nil {
							errs <- err
							return
						}
						got = append(got, p2.Events...)
					}
				case 2:
					s, err := m.Summarize(ctx, SummaryQuery{})
					if err != nil {
						errs <- err
						return
					}
					for _, b := range s.Buckets {
						got = append(got, Event{RequestID: b.Mode[:min(len(b.Mode), 1)], Mode: b.Mode})
					}
					for _, r := range s.TopDenyReasons {
						got = append(got, Event{RequestID: r.Reason[:1], Reason: r.Reason})
					}
				}
				for i := range got {
					if err := check(&got[i]); err != nil {
						errs <- err
						return
					}
				}
				keptMu.Lock()
				kept = append(kept, got...)
				keptMu.Unlock()
			}
		})
	}
	readers.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range kept {
		if err := check(&kept[i]); err != nil {
			t.Fatalf("after the writes: %v", err)
		}
	}
}

// TestMemorySinkAttackModel writes events of very different sizes (empty,
// tiny, larger than the buffer, larger than minMemData), in batches of 0
// to more than the capacity, to sinks of small capacities, and checks
// after each write the layout, Events, Seq, and paging through Query
// with cursors, against a model.
func TestMemorySinkAttackModel(t *testing.T) {
	ctx := context.Background()
	for _, capacity := range []int{1, 2, 3, 4, 7, 33} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(capacity), 11))
			m := NewMemorySink(capacity)
			var written []Event
			for round := range 400 {
				var n int
				switch r.IntN(4) {
				case 0:
					n = 0
				case 1:
					n = 1
				case 2:
					n = r.IntN(capacity + 1)
				case 3:
					n = capacity + r.IntN(2*capacity+2)
				}
				batch := make([]Event, n)
				for i := range batch {
					switch k := r.IntN(20); {
					case k == 0: // zero
					case k == 1:
						batch[i].Path = strings.Repeat("L", minMemData+r.IntN(3*minMemData))
					case k < 4:
						batch[i].UserAgent = strings.Repeat("m", 128+r.IntN(5000))
					default:
						fillEvent(t, &batch[i], r.Uint64, false)
					}
					batch[i].Seq = 12345 // ignored by the sink
				}
				orig := make([]Event, len(batch))
				copy(orig, batch)
				if err := m.Write(ctx, batch); err != nil {
					t.Fatal(err)
				}
				for i := range batch {
					if err := sameEvent(&batch[i], &orig[i]); err != nil {
						t.Fatalf("Write modified its batch: %v", err)
					}
				}
				for i := range batch {
					e := batch[i]
					e.Seq = uint64(len(written) + 1)
					written = append(written, e)
				}
				checkLayout(t, m)
				want := written[max(len(written)-capacity, 0):]
				got := m.Events()
				if len(got) != len(want) {
					t.Fatalf("round %d: %d events, want %d", round, len(got), len(want))
				}
				for i := range got {
					if err := sameEvent(&got[i], &want[i]); err != nil {
						t.Fatalf("round %d: Events()[%d]: %v", round, i, err)
					}
				}
				// Page through everything, newest first, 2 at a time.
				var paged []Event
				q := Query{Limit: 2}
				for {
					p, err := m.Query(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					paged = append(paged, p.Events...)
					if p.Next == "" {
						break
					}
					q.Cursor = p.Next
				}
				if len(paged) != len(want) {
					t.Fatalf("round %d: paged %d events, want %d", round, len(paged), len(want))
				}
				for i := range paged {
					if err := sameEvent(&paged[i], &want[len(want)-1-i]); err != nil {
						t.Fatalf("round %d: page event %d: %v", round, i, err)
					}
				}
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			t.Logf("capacity %d: %d bytes of buffer for %d bytes of events", capacity, len(m.data), m.used)
		})
	}
}

// TestMemorySinkAttackCursorAcrossWrap: a cursor taken before the ring
// wrapped continues with the older events still held, and with none once
// they are all evicted, as on main.
func TestMemorySinkAttackCursorAcrossWrap(t *testing.T) {
	ctx := context.Background()
	m := NewMemorySink(5)
	write := func(n int) {
		for range n {
			if err := m.Write(ctx, []Event{{Path: strings.Repeat("p", 1+len(m.Events())*50)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(5) // Seq 1..5
	p, err := m.Query(ctx, Query{Limit: 2})
	if err != nil || p.Next == "" || p.Events[1].Seq != 4 {
		t.Fatalf("%+v %v", p, err)
	}
	write(2) // Seq 3..7 held
	p2, err := m.Query(ctx, Query{Limit: 10, Cursor: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Events) != 1 || p2.Events[0].Seq != 3 || p2.Next != "" {
		t.Fatalf("after the wrap: %+v", p2.Events)
	}
	write(5)
	p3, err := m.Query(ctx, Query{Limit: 10, Cursor: p.Next})
	if err != nil || len(p3.Events) != 0 {
		t.Fatalf("all evicted: %+v %v", p3, err)
	}
}

// TestMemorySinkAttackBurstReleased: once the events of a burst of large
// ones are all evicted, the sink's buffer is back to the size of what it
// holds, as main's ring of events let the collector free the large ones:
// not after as many bytes of small events as the burst's buffer holds.
func TestMemorySinkAttackBurstReleased(t *testing.T) {
	ctx := context.Background()
	small := Event{Path: strings.Repeat("s", 300)}
	for _, capacity := range []int{1, 2, 10, 1000} {
		m := NewMemorySink(capacity)
		for range capacity {
			if err := m.Write(ctx, []Event{small}); err != nil {
				t.Fatal(err)
			}
		}
		large := Event{Path: strings.Repeat("L", 1<<20)}
		for range 1 + capacity/100 {
			if err := m.Write(ctx, []Event{large}); err != nil {
				t.Fatal(err)
			}
		}
		for range capacity { // evicts the large ones
			if err := m.Write(ctx, []Event{small}); err != nil {
				t.Fatal(err)
			}
		}
		m.mu.Lock()
		size, used := len(m.data), m.used
		m.mu.Unlock()
		if size > max(minMemData, 8*used) {
			t.Errorf("capacity %d: %d bytes of buffer for %d bytes of events, after the large ones left", capacity, size, used)
		}
	}
}

// FuzzMemorySinkRing: any sequence of batches of events of any sizes,
// written to a sink of any small capacity, leaves its events laid out
// without overlap and returns the newest ones, numbered, in order, through
// Events and Query, against a model.
func FuzzMemorySinkRing(f *testing.F) {
	f.Add([]byte{0, 1, 10, 1, 20, 1, 30})
	f.Add([]byte{2, 3, 200, 0, 255, 1, 7, 2, 250, 0, 1})
	f.Add([]byte{6, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 254, 1, 0, 128, 129})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ctx := context.Background()
		capacity := 1 + int(data[0]%9)
		data = data[1:]
		m := NewMemorySink(capacity)
		var written []Event
		for len(data) > 0 && len(written) < 500 {
			n := int(data[0] % 16) // batch length
			data = data[1:]
			batch := make([]Event, n)
			for i := range batch {
				var c byte
				if len(data) > 0 {
					c, data = data[0], data[1:]
				}
				// Sizes 0 to 2,000 by tens, or, for c past 200, large:
				// up to 3 times minMemData.
				size := int(c) * 10
				if c > 200 {
					size = (int(c) - 200) * 3 * minMemData / 55
				}
				batch[i] = Event{Path: strings.Repeat(string('a'+rune(c%26)), size), Status: len(written) + i}
			}
			if err := m.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			written = append(written, batch...)
			checkLayout(t, m)
			want := written[max(len(written)-capacity, 0):]
			got := m.Events()
			p, err := m.Query(ctx, Query{Limit: capacity})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(p.Events) != len(want) {
				t.Fatalf("%d and %d events, want %d", len(got), len(p.Events), len(want))
			}
			for i := range want {
				seq := uint64(len(written) - len(want) + i + 1)
				g, q := &got[i], &p.Events[len(want)-1-i]
				if g.Seq != seq || q.Seq != seq || g.Status != want[i].Status || g.Path != want[i].Path || q.Path != want[i].Path {
					t.Fatalf("event %d: Seq %d/%d, Status %d, %d bytes, want Seq %d, Status %d, %d bytes",
						i, g.Seq, q.Seq, g.Status, len(g.Path), seq, want[i].Status, len(want[i].Path))
				}
			}
		}
	})
}

// TestMemorySinkAttackZonedReadAllocs: filtering and summarizing a sink
// whose times are in more locations than it keeps (times parsed from RFC
// 3339 offsets off the hour, say) allocates nothing per event scanned,
// under the lock that blocks the Writer: the filters compare instants.
func TestMemorySinkAttackZonedReadAllocs(t *testing.T) {
	ctx := context.Background()
	m := NewMemorySink(1000)
	for i := range 1000 {
		at, err := time.Parse(time.RFC3339, fmt.Sprintf("2026-12-07T10:%02d:00+05:30", i%60))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Write(ctx, []Event{{Time: at, KeyID: fmt.Sprint("k", i%100), Decision: Allow}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Events()[999].Time.String(); got != "2026-12-07 10:39:00 +0530 +0530" {
		t.Fatalf("time %s", got)
	}
	if n := testing.AllocsPerRun(10, func() {
		if p, err := m.Query(ctx, Query{KeyID: "k7"}); err != nil || len(p.Events) != 10 {
			t.Fatal(len(p.Events), err)
		}
	}); n > 100 {
		t.Errorf("Query: %v allocations for 10 events of 1000", n)
	}
	if n := testing.AllocsPerRun(10, func() {
		if _, err := m.Summarize(ctx, SummaryQuery{Bucket: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}); n > 100 {
		t.Errorf("Summarize: %v allocations", n)
	}
}
