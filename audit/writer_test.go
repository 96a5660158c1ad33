package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/audit"
)

// stallSink blocks every Write until released, after reporting that a
// Write started.
type stallSink struct {
	started chan struct{} // receives once per Write while stalled
	release chan struct{}
	once    sync.Once
	mem     *audit.MemorySink
}

func newStallSink() *stallSink {
	return &stallSink{started: make(chan struct{}, 1), release: make(chan struct{}), mem: audit.NewMemorySink(100000)}
}

func (s *stallSink) Write(ctx context.Context, batch []audit.Event) error {
	select {
	case s.started <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.mem.Write(ctx, batch)
}

func (s *stallSink) Release() { s.once.Do(func() { close(s.release) }) }

// flakySink fails its first n Writes.
type flakySink struct {
	fails atomic.Int32
	mem   *audit.MemorySink
}

func (s *flakySink) Write(ctx context.Context, batch []audit.Event) error {
	if s.fails.Add(-1) >= 0 {
		// Mess with the batch as a buggy sink might: the Writer must not care.
		for i := range batch {
			batch[i].Seq = 999
		}
		return errors.New("sink unavailable")
	}
	return s.mem.Write(ctx, batch)
}

func req(i int) audit.Event {
	return audit.Event{Time: time.Now().UTC(), RequestID: fmt.Sprintf("r%06d", i), Decision: audit.Allow, Reason: "ok"}
}

// checkLog checks that the log is numbered consecutively, that its events
// (gap markers aside) are distinct and, if ordered, in the order emitted,
// and returns their number and the total the gap markers report.
func checkLog(t *testing.T, log []audit.Event, ordered bool) (events int, gaps uint64) {
	t.Helper()
	last := -1
	seen := map[string]bool{}
	for i, e := range log {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has Seq %d", i, e.Seq)
		}
		if e.Gap > 0 {
			if e.RequestID != "" || e.Time.IsZero() {
				t.Fatalf("bad gap marker %+v", e)
			}
			gaps += e.Gap
			continue
		}
		var n int
		if _, err := fmt.Sscanf(e.RequestID, "r%d", &n); err != nil || seen[e.RequestID] || (ordered && n <= last) {
			t.Fatalf("event %q after r%06d", e.RequestID, last)
		}
		seen[e.RequestID] = true
		last = n
		events++
	}
	return events, gaps
}

func checkInvariant(t *testing.T, st audit.Stats) {
	t.Helper()
	if st.Emitted != st.Written+st.Dropped {
		t.Fatalf("Stats %+v: Emitted != Written + Dropped", st)
	}
}

func TestWriterBlockInvariant(t *testing.T) { synctest.Test(t, testWriterBlockInvariant) }

func testWriterBlockInvariant(t *testing.T) {
	mem := audit.NewMemorySink(100000)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 16, BatchSize: 4, FlushInterval: time.Millisecond})
	ctx := context.Background()
	var wg sync.WaitGroup
	var seq atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if err := w.Emit(ctx, req(int(seq.Add(1))), audit.Block); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Emitted != 4000 || st.Dropped != 0 || st.Written != 4000 {
		t.Fatalf("Stats %+v, want 4000 emitted and written, none dropped", st)
	}
	log := mem.Events()
	if len(log) != 4000 {
		t.Fatalf("%d events written, want 4000", len(log))
	}
	for i, e := range log {
		if e.Seq != uint64(i+1) || e.Gap != 0 {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

func TestWriterDropInvariant(t *testing.T) { synctest.Test(t, testWriterDropInvariant) }

func testWriterDropInvariant(t *testing.T) {
	mem := audit.NewMemorySink(100000)
	// A slow sink so that the small queue overflows: in the bubble its
	// 200µs pass only once every emitter is blocked or done, so the
	// emitters outrun it and the drop path runs on every run.
	slow := sinkFunc(func(ctx context.Context, b []audit.Event) error {
		time.Sleep(200 * time.Microsecond)
		return mem.Write(ctx, b)
	})
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{slow}, QueueSize: 8, BatchSize: 4, FlushInterval: time.Millisecond})
	ctx := context.Background()
	var wg sync.WaitGroup
	var seq atomic.Int64
	var refused atomic.Uint64
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				switch err := w.Emit(ctx, req(int(seq.Add(1))), audit.Drop); {
				case errors.Is(err, audit.ErrDropped):
					refused.Add(1)
				case err != nil:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Emitted != 8000 || st.Dropped != refused.Load() {
		t.Fatalf("Stats %+v, want 8000 emitted and %d dropped", st, refused.Load())
	}
	if st.Dropped == 0 {
		t.Fatal("nothing was dropped; the test did not exercise the drop path")
	}
	events, gaps := checkLog(t, mem.Events(), false)
	if uint64(events) != st.Written || gaps != st.Dropped {
		t.Fatalf("log has %d events and gaps of %d; Stats %+v", events, gaps, st)
	}
}

type sinkFunc func(context.Context, []audit.Event) error

func (f sinkFunc) Write(ctx context.Context, b []audit.Event) error { return f(ctx, b) }

// stall starts a Writer in front of a stalled sink and fills its queue
// exactly: one event in the batch being written, QueueSize in the queue.
func stall(t *testing.T, queue int) (*audit.Writer, *stallSink) {
	t.Helper()
	s := newStallSink()
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{s}, QueueSize: queue, BatchSize: 4, FlushInterval: time.Millisecond})
	ctx := context.Background()
	if err := w.Emit(ctx, req(0), audit.Block); err != nil {
		t.Fatal(err)
	}
	<-s.started // the Writer holds r0 and is stuck in Write
	for i := 1; i <= queue; i++ {
		if err := w.Emit(ctx, req(i), audit.Drop); err != nil {
			t.Fatalf("Emit %d into a queue of %d: %v", i, queue, err)
		}
	}
	return w, s
}

func TestWriterStalledDrop(t *testing.T) { synctest.Test(t, testWriterStalledDrop) }

func testWriterStalledDrop(t *testing.T) {
	const queue = 32
	w, s := stall(t, queue)
	ctx := context.Background()
	const extra = 1000
	for i := range extra {
		if err := w.Emit(ctx, req(queue+1+i), audit.Drop); !errors.Is(err, audit.ErrDropped) {
			t.Fatalf("Emit into a full queue = %v, want ErrDropped", err)
		}
	}
	st := w.Stats()
	if st.Dropped != extra || st.Emitted != queue+1+extra || st.Written != 0 {
		t.Fatalf("Stats %+v while stalled", st)
	}
	// Memory bounded: what is neither written nor dropped is held, at most
	// the queue and one batch.
	if held := st.Emitted - st.Written - st.Dropped; held > queue+4 {
		t.Fatalf("%d events held, bound %d", held, queue+4)
	}
	// After the stall, new events flow again.
	s.Release()
	synctest.Wait() // the Writer has drained the queue and waits for more
	if err := w.Emit(ctx, req(queue+1+extra), audit.Drop); err != nil {
		t.Fatalf("Emit after the stall = %v; the queue did not drain", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st = w.Stats()
	checkInvariant(t, st)
	if st.Written != queue+2 {
		t.Fatalf("Stats %+v, want %d written", st, queue+2)
	}
	log := s.mem.Events()
	events, gaps := checkLog(t, log, true)
	if events != queue+2 || gaps != st.Dropped {
		t.Fatalf("log: %d events, gaps of %d; Stats %+v", events, gaps, st)
	}
	// r0 was written before the drops; the next batch starts with the marker.
	if log[0].RequestID != "r000000" || log[1].Gap < extra {
		t.Fatalf("log starts %+v, %+v; want r0 then a gap marker", log[0], log[1])
	}
}

func TestWriterStalledBlock(t *testing.T) { synctest.Test(t, testWriterStalledBlock) }

func testWriterStalledBlock(t *testing.T) {
	const queue = 8
	w, s := stall(t, queue)
	ctx := context.Background()
	// The queue is full: Block waits, and gives up with ctx.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.Emit(tctx, req(1000), audit.Block); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Emit = %v, want DeadlineExceeded", err)
	}
	// Blocked emitters proceed once the sink recovers.
	var wg sync.WaitGroup
	var blocked atomic.Int32
	for i := range 20 {
		wg.Go(func() {
			blocked.Add(1)
			if err := w.Emit(ctx, req(queue+1+i), audit.Block); err != nil {
				t.Error(err)
			}
			blocked.Add(-1)
		})
	}
	synctest.Wait() // every emitter has returned or is blocked for good
	if n := blocked.Load(); n != 20 {
		t.Fatalf("%d of 20 emitters returned while the queue was full", 20-n)
	}
	if st := w.Stats(); st.Emitted-st.Written-st.Dropped > queue+1+20 || st.Written != 0 {
		t.Fatalf("Stats %+v while stalled", st)
	}
	s.Release()
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Dropped != 0 || st.Written != queue+1+20 {
		t.Fatalf("Stats %+v, want %d written and none dropped", st, queue+1+20)
	}
	// The 20 blocked emitters raced each other: check the set, not the order.
	log := s.mem.Events()
	seen := map[string]bool{}
	for i, e := range log {
		if e.Seq != uint64(i+1) || e.Gap != 0 || seen[e.RequestID] {
			t.Fatalf("event %d: %+v", i, e)
		}
		seen[e.RequestID] = true
	}
	if len(seen) != queue+1+20 {
		t.Fatalf("log: %d events, want %d", len(seen), queue+1+20)
	}
}

func TestWriterCloseFlushes(t *testing.T) { synctest.Test(t, testWriterCloseFlushes) }

func testWriterCloseFlushes(t *testing.T) {
	mem := audit.NewMemorySink(1000)
	// A long flush interval: only Close makes the Writer write.
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, BatchSize: 1000, FlushInterval: time.Hour})
	ctx := context.Background()
	start := time.Now()
	for i := range 300 {
		if err := w.Emit(ctx, req(i), audit.Block); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d != 0 {
		t.Fatalf("Close took %v, want no wait for FlushInterval", d)
	}
	if n := len(mem.Events()); n != 300 {
		t.Fatalf("%d events written by Close, want 300", n)
	}
	if st := w.Stats(); st != (audit.Stats{Emitted: 300, Written: 300}) {
		t.Fatalf("Stats %+v", st)
	}
	// Emit after Close.
	for _, p := range []audit.Policy{audit.Block, audit.Drop} {
		if err := w.Emit(ctx, req(1), p); !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("Emit(%v) after Close = %v, want ErrClosed", p, err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st := w.Stats(); st.Emitted != 300 {
		t.Fatalf("Emit after Close counted: %+v", st)
	}
}

func TestWriterCloseWakesBlocked(t *testing.T) { synctest.Test(t, testWriterCloseWakesBlocked) }

func testWriterCloseWakesBlocked(t *testing.T) {
	w, s := stall(t, 4)
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() { errc <- w.Emit(ctx, req(100), audit.Block) }()
	synctest.Wait() // the Emit is blocked on the full queue
	select {
	case err := <-errc:
		t.Fatalf("Emit into a full queue returned %v before Close", err)
	default:
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close(ctx) }()
	if err := <-errc; !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("blocked Emit during Close = %v, want ErrClosed", err)
	}
	s.Release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Written != 5 || st.Dropped != 0 {
		t.Fatalf("Stats %+v, want 5 written", st)
	}
}

func TestWriterCloseTimeout(t *testing.T) { synctest.Test(t, testWriterCloseTimeout) }

func testWriterCloseTimeout(t *testing.T) {
	w, _ := stall(t, 4) // never released
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Dropped != 5 || st.Written != 0 {
		t.Fatalf("Stats %+v: the 5 undelivered events must be counted", st)
	}
}

func TestWriterRetriesFailingSink(t *testing.T) { synctest.Test(t, testWriterRetriesFailingSink) }

func testWriterRetriesFailingSink(t *testing.T) {
	flaky := &flakySink{mem: audit.NewMemorySink(1000)}
	flaky.fails.Store(3)
	good := audit.NewMemorySink(1000)
	var errs atomic.Int32
	w := audit.NewWriter(audit.WriterConfig{
		Sinks:     []audit.Sink{good, flaky},
		BatchSize: 10, FlushInterval: time.Millisecond,
		OnError: func(i int, err error) {
			if i != 1 {
				t.Errorf("error from sink %d: %v", i, err)
			}
			errs.Add(1)
		},
	})
	ctx := context.Background()
	for i := range 50 {
		if err := w.Emit(ctx, req(i), audit.Block); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if errs.Load() != 3 {
		t.Fatalf("OnError called %d times, want 3", errs.Load())
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Written != 50 || st.Dropped != 0 {
		t.Fatalf("Stats %+v", st)
	}
	for _, m := range []*audit.MemorySink{good, flaky.mem} {
		log := m.Events()
		if events, gaps := checkLog(t, log, true); events != 50 || gaps != 0 {
			t.Fatalf("log: %d events (want 50, each once), gaps %d", events, gaps)
		}
	}
}

func TestWriterEventJSONHasNoSecrets(t *testing.T) {
	// The full path from request to sink: redacted fields stay redacted.
	r := audit.NewRedactor(audit.RedactorConfig{RecordHeaders: []string{"Authorization", "X-Api-Key", "Cookie", "Content-Type"}})
	mem := audit.NewMemorySink(10)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}})
	hdr := map[string][]string{
		"Authorization": {"Bearer " + secrets[1]},
		"X-Api-Key":     {secrets[0]},
		"Cookie":        {secrets[2]},
		"Content-Type":  {"application/json"},
	}
	u := mustURL(t, "/v1/x?api_key="+secrets[0]+"&token="+secrets[1]+"&page=1")
	e := audit.Event{Time: time.Now().UTC(), Path: r.Path(u), Headers: r.Headers(hdr), UserAgent: r.Field("ua\r\nforged: line"), KeyID: "kid_1"}
	ctx := context.Background()
	if err := w.Emit(ctx, e, audit.Block); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range mem.Events() {
		assertNoSecrets(t, e)
	}
}

func TestWriterFlush(t *testing.T) { synctest.Test(t, testWriterFlush) }

func testWriterFlush(t *testing.T) {
	mem := audit.NewMemorySink(1000)
	// Batches that never fill, and an hour before one is written anyway:
	// only Flush writes them now.
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, BatchSize: 1000, FlushInterval: time.Hour})
	ctx := context.Background()
	start := time.Now()
	require := func(want int) {
		t.Helper()
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(mem.Events()); n != want {
			t.Fatalf("%d events written after Flush, want %d", n, want)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Flush waited %v of the bubble's clock: it waited for the flush interval", d)
		}
	}
	require(0) // nothing queued: nothing to wait for
	seq := 0
	for _, n := range []int{5, 1, 30} {
		for range n {
			if err := w.Emit(ctx, req(seq), audit.Block); err != nil {
				t.Fatal(err)
			}
			seq++
		}
		require(seq)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	require(seq) // closed: nothing to wait for
	if events, _ := checkLog(t, mem.Events(), true); events != seq {
		t.Fatalf("log: %d events, want %d", events, seq)
	}
}

func TestWriterFlushStalled(t *testing.T) { synctest.Test(t, testWriterFlushStalled) }

func testWriterFlushStalled(t *testing.T) {
	w, s := stall(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush behind a stalled sink = %v, want DeadlineExceeded", err)
	}
	s.Release()
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Written != 5 {
		t.Fatalf("Stats %+v after Flush, want the 5 events written", st)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterWritesFullBatches(t *testing.T) { synctest.Test(t, testWriterWritesFullBatches) }

// testWriterWritesFullBatches checks that a batch is written as soon as it
// is full: not after FlushInterval, nor after any other wait.
func testWriterWritesFullBatches(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	mem := audit.NewMemorySink(100)
	sink := sinkFunc(func(ctx context.Context, b []audit.Event) error {
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
		return mem.Write(ctx, b)
	})
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, BatchSize: 4, FlushInterval: time.Hour})
	defer w.Close(context.Background())
	start := time.Now()
	for i := range 8 {
		if err := w.Emit(context.Background(), req(i), audit.Block); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			synctest.Wait() // the Writer holds a batch of 1 and waits for more
		}
	}
	synctest.Wait()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sizes) != "[4 4]" || time.Since(start) != 0 {
		t.Fatalf("batches of %v after %v, want [4 4] at once", sizes, time.Since(start))
	}
	if events, _ := checkLog(t, mem.Events(), true); events != 8 {
		t.Fatalf("%d events written, want 8", events)
	}
}

func TestWriterSmallQueue(t *testing.T) { synctest.Test(t, testWriterSmallQueue) }

// testWriterSmallQueue checks that Emit does not wait for room for long in
// a queue smaller than a batch: the Writer empties it as it fills.
func testWriterSmallQueue(t *testing.T) {
	mem := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 2, BatchSize: 100, FlushInterval: time.Hour})
	start := time.Now()
	for i := range 50 {
		if err := w.Emit(context.Background(), req(i), audit.Block); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d != 0 {
		t.Fatalf("50 Emits into a queue of 2 took %v, want no wait", d)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d != 0 {
		t.Fatalf("Close took %v, want no wait for FlushInterval", d)
	}
	if events, _ := checkLog(t, mem.Events(), true); events != 50 {
		t.Fatalf("%d events written, want 50", events)
	}
}

func TestWriterNoLostWakeUp(t *testing.T) { synctest.Test(t, testWriterNoLostWakeUp) }

// testWriterNoLostWakeUp has concurrent Emits fill a small queue over and
// over: had a wake-up of the Writer been lost, Emits would wait for room
// until FlushInterval, and the bubble's clock would move.
func testWriterNoLostWakeUp(t *testing.T) {
	mem := audit.NewMemorySink(10000)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 8, BatchSize: 6, FlushInterval: time.Hour})
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if err := w.Emit(context.Background(), req(g*500+i), audit.Block); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d != 0 {
		t.Fatalf("Emits waited %v for the Writer", d)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if events, _ := checkLog(t, mem.Events(), false); events != 4000 {
		t.Fatalf("%d events written, want 4000", events)
	}
}

// TestWriterConcurrentStress has Emits under both policies, Flushes and
// Close race in real time through a small queue: every event emitted is
// written or counted as dropped, and every drop is reported by a gap
// marker.
func TestWriterConcurrentStress(t *testing.T) {
	mem := audit.NewMemorySink(1 << 20)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 16, BatchSize: 8, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				p := audit.Block
				if i%3 == 0 {
					p = audit.Drop
				}
				if err := w.Emit(context.Background(), req(g*2000+i), p); err != nil && !errors.Is(err, audit.ErrDropped) {
					t.Error(err)
					return
				}
			}
		})
	}
	flushing := make(chan struct{})
	go func() {
		defer close(flushing)
		for range 200 {
			if err := w.Flush(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	<-flushing
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	events, gaps := checkLog(t, mem.Events(), false)
	if st.Emitted != 16000 || uint64(events) != st.Written || gaps != st.Dropped {
		t.Fatalf("Stats %+v; the log holds %d events and gap markers for %d", st, events, gaps)
	}
}
