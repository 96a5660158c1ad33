package audit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Policy says what [Writer.Emit] does when the queue is full.
type Policy int

const (
	// Block waits for room in the queue (or for ctx, or for Close). It is
	// the default, and the policy for management and security events:
	// under Block nothing is ever dropped.
	Block Policy = iota
	// Drop never waits: when the queue is full the event is discarded,
	// counted in [Stats].Dropped, and Emit returns [ErrDropped]. The next
	// batch the Writer writes starts with a gap marker, an Event whose Gap
	// field holds the number of events dropped since the previous marker,
	// so the loss is recorded in the log itself. A service may choose it
	// for request events.
	Drop
)

// String returns "block" or "drop".
func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Errors returned by [Writer.Emit].
var (
	// ErrClosed is returned when the Writer is closed (or closing); the event
	// was not emitted.
	ErrClosed = errors.New("audit: writer closed")
	// ErrDropped is returned when, under [Drop], the queue was full; the event was dropped
	// and counted.
	ErrDropped = errors.New("audit: queue full, event dropped")
)

// Defaults for [WriterConfig].
const (
	DefaultQueueSize     = 4096
	DefaultBatchSize     = 4096
	DefaultFlushInterval = 200 * time.Millisecond
)

// Bounds of the retry backoff for a failing sink.
const (
	retryMin = 10 * time.Millisecond
	retryMax = 2 * time.Second
)

// WriterConfig configures a [Writer]. Zero fields take their defaults.
type WriterConfig struct {
	// Sinks receive every batch, in order. A batch is written to the
	// sinks one after the other; a sink that fails is retried, with
	// exponential backoff from 10ms up to 2s, until it succeeds or Close's
	// context ends.
	Sinks []Sink
	// QueueSize bounds the events waiting to be written (default 4096).
	QueueSize int
	// BatchSize caps a batch (default 4096). Under load the Writer
	// writes full batches, and each costs a sink call (a write and an
	// fsync for a [FileSink]): fewer, larger batches cost less per event.
	// A goroutine in a long system call also makes the Go runtime hand its
	// processor to another thread and poll it every 20µs for a while after.
	BatchSize int
	// FlushInterval is the longest an event waits in the queue for its
	// batch to fill before the batch is written anyway (default 200ms).
	FlushInterval time.Duration
	// OnError, if set, is called (from the Writer's goroutine) with every
	// error a sink returns, before the batch is retried. sink is the
	// index in Sinks.
	OnError func(sink int, err error)
	// Now is the clock that stamps the gap markers, the only times the
	// Writer records. Nil means time.Now. (FlushInterval is a wait on the
	// runtime's timers, not a recorded time: a frozen clock must not hold
	// a batch back forever. Test it with testing/synctest.)
	Now func() time.Time
}

// readsBatchOnly reports whether s is a sink of this package that never
// modifies the events of a batch, so that a [Writer] may hand it the batch
// itself, not a copy. It names the types themselves: a type of another
// package that embeds one of them has its methods but may write a batch
// its own way (and modify it, as a Sink may).
func readsBatchOnly(s Sink) bool {
	switch s.(type) {
	case *MemorySink, *FileSink:
		return true
	}
	return false
}

// Stats are a [Writer]'s counters. After a successful [Writer.Close],
// Emitted == Written + Dropped, and Dropped is 0 if every event was emitted
// under [Block].
type Stats struct {
	// Emitted counts the events Emit accepted or dropped (not those it
	// refused with ErrClosed or a ctx error). Gap markers are not counted.
	Emitted uint64
	// Written counts the events delivered to every sink.
	Written uint64
	// Dropped counts the events dropped under [Drop], plus the events
	// still undelivered when Close gave up because its ctx ended.
	Dropped uint64
}

// Writer is an asynchronous, batching front for [Sink]s: Emit puts an
// event into a bounded queue and a background goroutine writes batches of
// events to every sink, in order.
//
// Memory is bounded: at most QueueSize events are queued, plus the one
// batch (at most BatchSize events and a gap marker) being written, and,
// for sinks outside this package, the copy of it they get. (The queue and
// the batch swap their buffers, so each may hold QueueSize events.) When
// every sink is a [MemorySink] or a [FileSink], the Writer holds the
// events encoded, in buffers without pointers (in the form a MemorySink
// keeps them in, or, when every sink is a FileSink, as the JSON lines it
// writes), that the garbage collector does not scan, however large they
// are, and that keep no strings of the emitters' alive. Each queued event
// then holds a copy of its strings, so that events sharing one large
// string take its size each; the buffers may grow to about twice the
// bytes of what they hold before the queue is compacted, and an idle
// Writer lets go of buffers larger than QueueSize typical request events
// need. (Under [Drop], an event is encoded before Emit finds the queue
// full, a dropped event costing what a queued one does, but with a
// MemorySink alone, whose events push encodes once it has found room.)
//
// When the only sink is a [MemorySink], Emit writes an event to it
// itself, without queueing it, whenever nothing is queued or being
// written and no reader holds the sink: in order, as the goroutine would,
// encoded in the sink's buffer rather than encoded, copied twice and
// handed over. Otherwise (a Query in progress, say) it is queued, and so
// are the events after it until the queue is empty again. Emit encodes
// such a Writer's events under its lock: concurrent emitters take turns
// for about the time of an encoding, and, when a direct write grows the
// sink's buffer (which doubles, so rarely), for the copy of what the
// sink holds, under [Drop] too.
type Writer struct {
	sinks   []Sink
	batch   int
	flush   time.Duration
	onError func(int, error)
	now     func() time.Time

	// qmu guards queue, head, count, closed and room. Emit adds to queue
	// under it and the goroutine takes the queued events under it, all
	// at once when they fit in its batch: it then swaps queue with its
	// empty batch, so that an event is copied once, into the queue, on
	// its way to the sinks, and the lock is taken once per batch on that
	// side.
	qmu sync.Mutex
	// queue is a ring of size slots: the queued events, oldest first, are
	// the count from slot head on (head is 0 when count is), so that
	// taking some of them costs what they do, not what the queue holds.
	queue       []Event
	head, count int
	size        int // QueueSize
	closed      bool
	// room, when not nil, is closed by the goroutine when it takes
	// events from a full queue: Emits waiting for room wait on it.
	room chan struct{}
	// need is how many queued events would fill the batch the goroutine
	// waits on (at most half the queue): Emit wakes the goroutine
	// through wake once the queue holds that many, so that it waits for
	// its batch to fill without being woken by every event, nor polling.
	need    atomic.Int64
	wake    chan struct{} // capacity 1: a pending wake-up
	closing chan struct{} // closed once Close has set closed: wakes blocked Emits

	abort     context.CancelFunc // cancels sink writes when Close's ctx ends
	sinkCtx   context.Context
	done      chan struct{} // closed when the goroutine has exited
	closeOnce sync.Once

	flushReq chan chan struct{} // Flush's requests to the goroutine

	copies  bool    // whether a sink does not read its batch only (readsBatchOnly)
	sinkBuf []Event // the copy of a batch handed to a sink; the goroutine's own

	// encoded is set when every sink is one of this package's (see
	// readsBatchOnly): the queue then holds the events in memory form
	// (memcodec.go), in recs, a buffer without pointers that the garbage
	// collector does not scan, and the sinks get them so (memSink), not
	// as Events. queue is then nil. recs holds count records from offset
	// rhead on, each the uvarint length of a memory form and the form.
	// locs is the table of the forms' locations: it only grows (under
	// w.qmu), so that a batch reads the entries its records name from a
	// copy of its slice header.
	//
	// lines is set when every sink is a FileSink (and there is one): the
	// records then hold JSON lines instead of memory forms, each the line
	// of the event with Seq 0, which a FileSink writes with its Seq, or,
	// for an event whose line encoding/json must refuse (appendJSON), the
	// byte recMemForm then the event's memory form, in UTC.
	encoded bool
	lines   bool
	// mem is the only sink when it is a MemorySink (and so encoded): Emit
	// then writes an event to it itself, under w.qmu, when nothing is
	// queued (count 0) nor taken and not yet written (busy), no drop
	// awaits its gap marker (it cannot then: a drop needs a full queue,
	// whose batch carries the marker), and the sink's lock is free.
	// direct counts those events (added to under w.qmu), for Flush and
	// Stats, which count them as emitted and written: not in emitted and
	// written too, so that such an event costs one atomic add, not two.
	// Emit leaves the encoding of its events to push.
	mem     *MemorySink
	busy    bool
	direct  atomic.Uint64
	recs    []byte
	rhead   int
	locs    []*time.Location
	scratch []byte // where push encodes an event whose location needs an entry in locs

	emitted, written, dropped atomic.Uint64
	gap                       atomic.Uint64 // drops not yet reported by a marker
	abandoned                 atomic.Uint64 // events given up on by Close
}

// NewWriter starts a Writer. Close it to flush and stop it.
func NewWriter(cfg WriterConfig) *Writer {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		sinks:   append([]Sink(nil), cfg.Sinks...),
		batch:   cfg.BatchSize,
		flush:   cfg.FlushInterval,
		onError: cfg.OnError,
		now:     cfg.Now,
		size:    cfg.QueueSize,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		abort:   cancel,
		sinkCtx: ctx,
		done:    make(chan struct{}),

		flushReq: make(chan chan struct{}),
	}
	for _, s := range w.sinks {
		if !readsBatchOnly(s) {
			w.copies = true
		}
	}
	if w.encoded = !w.copies; !w.encoded {
		w.queue = make([]Event, cfg.QueueSize)
	}
	w.lines = w.encoded && len(w.sinks) > 0
	for _, s := range w.sinks {
		if _, ok := s.(*FileSink); !ok {
			w.lines = false
		}
	}
	if len(w.sinks) == 1 {
		w.mem, _ = w.sinks[0].(*MemorySink)
	}
	w.need.Store(1)
	go w.run()
	return w
}

// Emit queues e. Under [Block] it waits for room, for ctx (returning
// ctx.Err()), or for Close (returning [ErrClosed]); under [Drop] it never
// waits and returns [ErrDropped] if the queue is full. After Close it
// returns ErrClosed. Emit is safe for concurrent use.
func (w *Writer) Emit(ctx context.Context, e Event, p Policy) error {
	e.Seq = 0 // the sinks number events
	e.Gap = 0 // only the Writer writes gap markers
	if w.encoded && w.mem == nil {
		return w.emitEncoded(ctx, &e, p)
	}
	// A Writer whose only sink is a MemorySink mostly has the sink
	// encode the event itself (see Writer.mem).
	return w.emit(ctx, &e, nil, p)
}

// emitEncoded is Emit for an encoding Writer but one whose only sink is a
// MemorySink: it encodes e before it takes the lock, in a buffer on its
// stack that holds a typical request event (which Emit's own stack then
// neither holds nor clears), unless its location needs an entry in the
// table (encode).
func (w *Writer) emitEncoded(ctx context.Context, e *Event, p Policy) error {
	var buf [memInline]byte
	return w.emit(ctx, e, w.encode(buf[:0], e), p)
}

// emit is Emit for e, with form its encoded form if not nil (see push).
func (w *Writer) emit(ctx context.Context, e *Event, form []byte, p Policy) error {
	w.qmu.Lock()
	if w.closed {
		w.qmu.Unlock()
		return ErrClosed
	}
	// The counters change under w.qmu, as the queue does: Written never
	// runs ahead of Emitted, and once Close has set closed (under w.qmu),
	// no Emit changes them, nor the drops the goroutine's last gap marker
	// reports.
	if p == Drop {
		if w.count < w.size {
			n := w.push(e, form)
			w.qmu.Unlock()
			w.woken(n)
			return nil
		}
		w.emitted.Add(1)
		w.dropped.Add(1)
		w.gap.Add(1)
		w.qmu.Unlock()
		return ErrDropped
	}
	if err := ctx.Err(); err != nil {
		w.qmu.Unlock()
		return err
	}
	for {
		if w.count < w.size { // the common case
			n := w.push(e, form)
			w.qmu.Unlock()
			w.woken(n)
			return nil
		}
		// The queue is full: the goroutine must empty it.
		if w.room == nil {
			w.room = make(chan struct{})
		}
		room := w.room
		w.qmu.Unlock()
		w.wakeUp()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-w.closing:
			return ErrClosed
		}
		w.qmu.Lock()
		if w.closed {
			w.qmu.Unlock()
			return ErrClosed
		}
	}
}

// push queues e, in a queue with room, and returns the number of events
// queued, or writes it to w.mem itself (see Writer.mem) and returns 0.
// form, if not nil, is e's memory form (w.encoded), else push encodes it
// if it must. w.qmu is held; push counts e as emitted (and, if it wrote
// it, as written: see Writer.direct).
func (w *Writer) push(e *Event, form []byte) int {
	if w.mem != nil && w.count == 0 && !w.busy && w.gap.Load() == 0 && w.mem.tryWrite(e) {
		w.direct.Add(1)
		return 0
	}
	w.emitted.Add(1)
	if w.encoded {
		if form == nil {
			w.scratch = appendMemEvent(w.scratch[:0], e, &w.locs)
			form = w.scratch
			if cap(w.scratch) > minMemData {
				w.scratch = nil // a large event's
			}
		}
		if len(w.recs)+binary.MaxVarintLen64+len(form) > cap(w.recs) && 2*w.rhead >= len(w.recs) {
			// Most of recs lies before the queued records: move them to
			// its start rather than grow it (at most a copy of what is
			// queued per as much taken).
			w.recs = w.recs[:copy(w.recs, w.recs[w.rhead:])]
			w.rhead = 0
		}
		w.recs = binary.AppendUvarint(w.recs, uint64(len(form)))
		w.recs = append(w.recs, form...)
	} else {
		i := w.head + w.count
		if i >= w.size {
			i -= w.size
		}
		w.queue[i] = *e
	}
	w.count++
	return w.count
}

// recMemForm starts a record of a lines Writer that holds a memory form
// rather than a JSON line (which starts with '{').
const recMemForm = 0

// encode appends to b and returns the form of e that an encoding Writer
// queues (see Writer.encoded), or returns nil if its location needs an
// entry in w.locs: push then encodes it under w.qmu. It may change e.
func (w *Writer) encode(b []byte, e *Event) []byte {
	if w.lines {
		e.Time = e.Time.UTC() // as FileSink.Write writes it
		if line, ok := appendJSON(b, e, 0); ok {
			return line
		}
		return appendMemEvent(append(b, recMemForm), e, nil) // for FileSink.Write's error
	}
	if loc := e.Time.Location(); loc == time.UTC || loc == time.Local {
		return appendMemEvent(b, e, nil)
	}
	return nil
}

// memInline is the size of the buffer on Emit's stack that an event is
// encoded in: room for a typical request event's memory form.
const memInline = 512

// writerBatch is a batch the Writer's goroutine assembles and writes: n
// events, in events, or, for an encoding Writer, as records in
// recs[skip:] (as Writer.recs holds them) with locs their table of
// locations.
type writerBatch struct {
	events []Event
	recs   []byte
	skip   int // the bytes before the records, kept with the buffer for the next batch
	locs   []*time.Location
	n      int
}

// reset empties b, keeping its buffers, unless recs is a large buffer
// that the batch used little of (spare), which it lets go.
func (b *writerBatch) reset(keep int) {
	b.events = b.events[:0]
	if spare(b.recs, keep) {
		b.recs = nil
	}
	b.recs, b.skip, b.locs, b.n = b.recs[:0], 0, nil, 0
}

// keepRecs is the size up to which an encoding Writer keeps a records
// buffer from batch to batch in any case: what a full queue of typical
// request events takes, about as much as the queue of Events a Writer
// otherwise keeps.
func (w *Writer) keepRecs() int { return w.size * memInline }

// spare reports whether the records buffer b, holding what a batch or the
// queue used of it, is larger than keep bytes and used less than a
// quarter of: then it is let go, so that a burst of large events does not
// leave the Writer holding their room. (A buffer filled by as many events
// is kept, however large: buffers let go after every batch would cost an
// allocation and its clearing each.)
func spare(b []byte, keep int) bool {
	return cap(b) > keep && len(b) < cap(b)/4
}

// needed is how many queued events make Emit wake the goroutine that holds
// a batch of n events: those that fill it, but at most half the queue, so
// that the goroutine empties it before an Emit must wait for room.
func (w *Writer) needed(n int) int {
	return max(min(w.batch-n, w.size/2), 1)
}

// woken wakes the goroutine if the queue, holding n events, holds enough
// to fill its batch (or is full) and no wake-up is pending already.
func (w *Writer) woken(n int) {
	if int64(n) >= w.need.Load() && len(w.wake) == 0 {
		w.wakeUp()
	}
}

// wakeUp wakes the goroutine, unless a wake-up is pending already.
func (w *Writer) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// queued returns the number of queued events.
func (w *Writer) queued() int {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	return w.count
}

// pending returns the number of queued events and of those Emit wrote to
// w.mem itself so far, read together.
func (w *Writer) pending() (queued int, direct uint64) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	return w.count, w.direct.Load()
}

// take moves queued events to b, as many as fit in a batch of
// BatchSize, and returns how many it took and whether the Writer is
// closed with nothing left queued. When they all fit in an empty batch,
// the queue and batch swap their buffers instead.
func (w *Writer) take(b *writerBatch) (n int, drained bool) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	n = min(w.count, w.batch-b.n)
	if n > 0 {
		w.busy = true // until the batch is written
		if w.count == w.size && w.room != nil {
			close(w.room) // there is room now
			w.room = nil
		}
		if w.encoded {
			w.takeRecs(b, n)
		} else {
			b.events = w.takeEvents(b.events, n)
		}
		b.n += n
		if w.count -= n; w.count == 0 {
			w.head = 0
		}
	}
	return n, w.closed && w.count == 0
}

// takeRecs moves the first n queued records to b. w.qmu is held.
func (w *Writer) takeRecs(b *writerBatch, n int) {
	if n == w.count && b.n == 0 {
		empty := b.recs[:0]
		b.recs, b.skip = w.recs, w.rhead
		w.recs, w.rhead = empty, 0
	} else {
		end := len(w.recs) // all of them, the common case
		if n < w.count {
			rest := w.recs[w.rhead:]
			for range n {
				_, rest = nextRecord(rest)
			}
			end -= len(rest)
		}
		b.recs = append(b.recs, w.recs[w.rhead:end]...)
		if w.rhead = end; n == w.count {
			w.recs, w.rhead = w.recs[:0], 0 // (let go, if spare, as the batch's: the buffers swap)
		}
	}
	b.locs = w.locs // the entries its records name, which never change
}

// takeEvents appends the first n queued events to batch and returns it.
// w.qmu is held.
func (w *Writer) takeEvents(batch []Event, n int) []Event {
	q := w.queue
	if n == w.count && len(batch) == 0 && w.head == 0 {
		// batch's buffer is cleared (write clears what it held), as the
		// queue's slots must be.
		spare := batch[:cap(batch)]
		if len(spare) < w.size {
			spare = make([]Event, w.size)
		}
		batch, w.queue = q[:n], spare[:w.size]
		return batch
	}
	first := min(n, w.size-w.head) // up to the end of the ring
	batch = append(batch, q[w.head:w.head+first]...)
	clear(q[w.head : w.head+first])
	batch = append(batch, q[:n-first]...)
	clear(q[:n-first])
	if w.head += n; w.head >= w.size {
		w.head -= w.size
	}
	return batch
}

// Stats returns the counters.
func (w *Writer) Stats() Stats {
	// Load Written and Dropped before Emitted so that a snapshot taken
	// while events flow never shows more written than emitted.
	// The events Emit wrote itself count as both, read once.
	d := w.direct.Load()
	wr, dr := w.written.Load(), w.dropped.Load()
	return Stats{Emitted: w.emitted.Load() + d, Written: wr + d, Dropped: dr}
}

// Close stops accepting events, writes everything queued to every sink and
// stops the Writer. If ctx ends first, Close cancels the sink writes in
// progress, counts the undelivered events as Dropped and returns an error
// wrapping ctx.Err(). Close may be called more than once; every call waits
// for the same shutdown.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.qmu.Lock()
		w.closed = true // no Emit queues an event after this
		w.qmu.Unlock()
		close(w.closing) // wake Emits blocked on a full queue
		w.wakeUp()       // and the goroutine, to write what is queued
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.abort()
		<-w.done // sinks honour ctx; the goroutine exits promptly
		return fmt.Errorf("audit: close: %w (%d events undelivered)", ctx.Err(), w.undelivered())
	}
}

// Flush writes the events queued before the call to every sink at once,
// without waiting for their batch to fill or for FlushInterval, and waits
// until they are written (or, if Close gave up on them, counted as
// dropped). It returns ctx.Err() if ctx ends first, as it does while a
// sink stalls. Flush does not stop the Writer: it is for a caller that
// must see its events in a sink now, such as a test that reads them back.
func (w *Writer) Flush(ctx context.Context) error {
	written := make(chan struct{})
	select {
	case w.flushReq <- written:
	case <-w.done:
		return nil // closed: every event is written or counted as dropped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-written:
		return nil
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushWaiter is a Flush waiting for the first target events the
// goroutine took from the queue to be written or given up on.
type flushWaiter struct {
	target  uint64
	written chan struct{}
}

func (w *Writer) undelivered() uint64 { return w.abandoned.Load() }

// run is the Writer's goroutine: it assembles batches and writes them.
func (w *Writer) run() {
	defer close(w.done)
	defer w.abort()
	var batch writerBatch // grows to what the load needs, at most w.batch+1 events
	keep := w.keepRecs()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// taken counts the events taken from the queue. Only this goroutine
	// takes, so when a Flush asks, the events emitted before it are the
	// first taken+queued, with those Emit wrote itself (direct, which it
	// writes only once every event before is written): settled in that
	// order, they are written once written+abandoned+direct reaches that count.
	var taken uint64
	var flushes []flushWaiter
	flushAsked := func(written chan struct{}) {
		queued, direct := w.pending()
		flushes = append(flushes, flushWaiter{taken + uint64(queued) + direct, written})
	}
	flushed := func() {
		settled := w.written.Load() + w.abandoned.Load() + w.direct.Load()
		flushes = slices.DeleteFunc(flushes, func(f flushWaiter) bool {
			if f.target <= settled {
				close(f.written)
				return true
			}
			return false
		})
	}
	for {
		// A Flush asks between batches too, not only while the goroutine
		// waits: under a load that fills every batch it never waits.
		select {
		case written := <-w.flushReq:
			flushAsked(written)
		default:
		}
		flushed()
		var n int
		var drained bool
		batch.reset(keep)
		n, drained = w.take(&batch)
		taken += uint64(n)
		if n == 0 {
			if drained {
				// Closed and drained: report drops that no batch carried.
				if w.gap.Load() > 0 {
					w.write(&batch)
				}
				return
			}
			// Idle: keep no records buffer larger than keep, as a
			// burst of large events leaves them (spare lets go only of
			// buffers a batch used little of).
			if cap(batch.recs) > keep {
				batch.recs = nil
			}
			w.qmu.Lock()
			if w.count == 0 && cap(w.recs) > keep {
				w.recs, w.rhead = nil, 0
			}
			w.qmu.Unlock()
			// Wait for the first event, which Emit reports once need is 1.
			w.need.Store(1)
			if w.queued() > 0 {
				continue // queued before Emit could see need
			}
			select {
			case <-w.wake:
			case <-w.closing:
			case written := <-w.flushReq:
				flushAsked(written)
			}
			continue
		}
		deadline := time.Now().Add(w.flush)
	fill:
		for batch.n < w.batch && !drained {
			// The queue is empty: let events gather until Emit says a
			// batch's worth is queued, rather than be woken by each one
			// (under load, that is most of the cost of handing an event
			// over), unless a Flush waits, FlushInterval is over or Close
			// has started (it wants the queue written now).
			wait := time.Until(deadline)
			if wait <= 0 || len(flushes) > 0 {
				break
			}
			need := w.needed(batch.n)
			w.need.Store(int64(need))
			if w.queued() < need { // else filled before Emit could see need
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-w.wake:
					timer.Stop()
				case written := <-w.flushReq:
					timer.Stop()
					flushAsked(written)
				case <-w.closing:
					timer.Stop()
					n, drained = w.take(&batch)
					taken += uint64(n)
					break fill
				}
			}
			n, drained = w.take(&batch)
			taken += uint64(n)
		}
		if !w.write(&batch) {
			w.discard()
			return
		}
		w.qmu.Lock()
		w.busy = false
		w.qmu.Unlock()
		if drained {
			if w.gap.Load() > 0 {
				batch.reset(keep)
				w.write(&batch)
			}
			return
		}
	}
}

// write delivers the events of b, preceded by a gap marker if events
// were dropped, to every sink. It reports false if it gave up because
// Close's ctx ended; the events are then counted as dropped.
func (w *Writer) write(b *writerBatch) bool {
	events, recs := b.events, b.recs[b.skip:]
	var gap uint64
	if n := w.gap.Swap(0); n > 0 {
		gap = n
		marker := Event{Time: w.now().UTC(), Gap: n}
		if w.encoded {
			var buf [memInline]byte
			form := w.encode(buf[:0], &marker) // in UTC: not nil
			recs = binary.AppendUvarint(make([]byte, 0, 64+len(recs)), uint64(len(form)))
			recs = append(recs, form...)
			recs = append(recs, b.recs[b.skip:]...)
		} else {
			events = make([]Event, 0, len(b.events)+1)
			events = append(events, marker)
			events = append(events, b.events...)
		}
	}
	// The sinks get a copy each (a sink may modify the events of its
	// batch), in a buffer the Writer keeps from batch to batch: a Sink
	// must not retain it. This package's sinks, which only read the batch,
	// get events itself.
	var buf []Event
	if w.copies {
		w.sinkBuf = slices.Grow(w.sinkBuf[:0], len(events))
		buf = w.sinkBuf[:len(events)]
	}
	// Cleared after use, with the batch: the garbage collector then
	// neither scans nor keeps alive what they held.
	defer clear(b.events)
	defer clear(buf)
	for i, s := range w.sinks {
		backoff := retryMin
		for {
			var err error
			if w.lines {
				err = s.(*FileSink).writeLines(w.sinkCtx, recs)
			} else if w.encoded {
				err = s.(memSink).writeRecords(w.sinkCtx, recs, b.locs)
			} else {
				batch := events
				if !readsBatchOnly(s) {
					batch = buf
					copy(batch, events) // each sink numbers its own copy
				}
				err = s.Write(w.sinkCtx, batch)
			}
			if err == nil {
				break
			}
			if w.onError != nil {
				w.onError(i, err)
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-w.sinkCtx.Done():
				t.Stop()
				w.lost(uint64(b.n))
				if gap > 0 {
					w.gap.Add(gap) // never written: still unreported
				}
				return false
			}
			backoff = min(2*backoff, retryMax)
		}
	}
	w.written.Add(uint64(b.n))
	return true
}

// memSink is a sink of this package (readsBatchOnly) that an encoding
// Writer hands its batches to as records.
type memSink interface {
	Sink
	// writeRecords is Write for the events of recs, records as
	// Writer.recs holds them, whose memory forms name the locations of
	// locs.
	writeRecords(ctx context.Context, recs []byte, locs []*time.Location) error
}

var (
	_ memSink = (*MemorySink)(nil)
	_ memSink = (*FileSink)(nil)
)

// nextRecord splits the first record off recs: it returns its memory form
// and the records after it. recs holds a record at least.
func nextRecord(recs []byte) (form, rest []byte) {
	size, k := binary.Uvarint(recs)
	end := k + int(size)
	return recs[k:end:end], recs[end:]
}

// discard counts what remains in the queue (closed: no Emit adds to it)
// as dropped.
func (w *Writer) discard() {
	w.qmu.Lock()
	n := w.count
	clear(w.queue)
	w.head, w.count = 0, 0
	w.recs, w.rhead = w.recs[:0], 0
	w.qmu.Unlock()
	w.lost(uint64(n))
}

func (w *Writer) lost(n uint64) {
	w.abandoned.Add(n)
	w.dropped.Add(n)
}
