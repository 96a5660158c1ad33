package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// SyncPolicy says when a [FileSink] calls fsync.
type SyncPolicy int

// The sync policies. The zero value is SyncEveryBatch.
const (
	// SyncEveryBatch writes each batch with one write call and fsyncs the
	// file before Write returns (the default).
	SyncEveryBatch SyncPolicy = iota
	// SyncNever leaves flushing to the operating system: fastest, but a
	// machine crash can lose batches Write already reported as stored.
	SyncNever
	// SyncAlways writes and fsyncs every event on its own, so that a crash
	// loses at most the event being written. Slowest.
	SyncAlways
)

// FileConfig configures [OpenFile].
type FileConfig struct {
	// Path is the file events are appended to. Rotated files are named
	// Path.1 (newest) to Path.MaxBackups (oldest).
	Path string
	// MaxBytes rotates the file before a batch that would make it exceed
	// MaxBytes. A batch is never split, so a single batch larger than
	// MaxBytes makes a file larger than MaxBytes. Zero never rotates.
	MaxBytes int64
	// MaxBackups is how many rotated files are kept (default 5); older
	// ones are deleted.
	MaxBackups int
	// Sync is the fsync policy (default SyncEveryBatch).
	Sync SyncPolicy
}

// FileSink is a [Sink] and [History] that appends events to a file as
// JSON Lines: one event per line, in the JSON form of [Event], with no
// HTML escaping (control characters, CR and LF inside values are escaped
// by JSON, so an event never spans lines). The file is opened append-only
// with mode 0600.
//
// Writes are serialized, so lines never interleave; a batch goes to the
// file in a single write call (one per event under SyncAlways). Write is
// all or nothing: when it fails, the file is truncated back to where the
// batch began (best effort) and sequence numbers are not consumed, so the
// retried batch gets the same ones.
//
// Seq is consecutive per sink and survives restarts and rotation: OpenFile
// continues from the last Seq in the file (or in Path.1 if the file holds
// none). Several processes must not share one path: each would number
// events on its own.
//
// Query scans the current file and the backups, newest first.
type FileSink struct {
	cfg FileConfig

	mu     sync.Mutex
	f      *os.File // nil after a failed rotation; reopened by the next Write
	size   int64    // bytes in f
	seq    uint64   // last Seq written
	closed bool
	buf    bytes.Buffer
	ends   []int // end offset in buf of each encoded line
	event  Event // the event being encoded
}

var (
	_ Sink    = (*FileSink)(nil)
	_ History = (*FileSink)(nil)
)

var errFileCursor = errors.New("audit: invalid cursor")

// OpenFile opens (creating it if needed) the JSON Lines file cfg.Path.
func OpenFile(cfg FileConfig) (*FileSink, error) {
	if cfg.Path == "" {
		return nil, errors.New("audit: FileConfig.Path is empty")
	}
	if cfg.MaxBytes < 0 {
		return nil, errors.New("audit: FileConfig.MaxBytes is negative")
	}
	if cfg.MaxBackups < 0 {
		return nil, errors.New("audit: FileConfig.MaxBackups is negative")
	}
	if cfg.MaxBackups == 0 {
		cfg.MaxBackups = 5
	}
	switch cfg.Sync {
	case SyncEveryBatch, SyncNever, SyncAlways:
	default:
		return nil, fmt.Errorf("audit: unknown SyncPolicy %d", cfg.Sync)
	}
	s := &FileSink{cfg: cfg}
	if err := s.open(); err != nil {
		return nil, err
	}
	seq, err := fileLastSeq(cfg.Path)
	if err == nil && seq == 0 {
		seq, err = fileLastSeq(s.backup(1))
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.f.Close()
		return nil, err
	}
	s.seq = seq
	return s, nil
}

// open opens cfg.Path for appending. A last line left without its newline
// by a crash is terminated, so that the next event starts a line of its
// own (the torn line is kept, and skipped by Query).
func (s *FileSink) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size := fi.Size()
	if size > 0 {
		last := make([]byte, 1)
		r, err := os.Open(s.cfg.Path)
		if err == nil {
			_, err = r.ReadAt(last, size-1)
			r.Close()
		}
		if err != nil {
			f.Close()
			return err
		}
		if last[0] != '\n' {
			n, err := f.Write([]byte{'\n'})
			size += int64(n)
			if err != nil {
				f.Close()
				return err
			}
		}
	} else if s.cfg.Sync != SyncNever {
		fileSyncDir(s.cfg.Path)
	}
	s.f, s.size = f, size
	return nil
}

func (s *FileSink) backup(i int) string { return s.cfg.Path + "." + strconv.Itoa(i) }

// Write appends batch, giving the events consecutive Seq numbers. The
// caller's slice is not modified (a Writer hands it its batch itself:
// see readsBatchOnly).
func (s *FileSink) Write(ctx context.Context, batch []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	// e is the sink's own copy of an event when it needs one (the
	// caller's slice is not modified), kept in the sink so that it does
	// not escape to a fresh allocation per event.
	e := &s.event
	defer func() { *e = Event{} }() // keep no strings or maps alive
	for i := range batch {
		seq := s.seq + uint64(i) + 1
		ev := &batch[i]
		if ev.Time.Location() != time.UTC { // as the Writer's events are: no copy needed
			*e = *ev
			e.Time = e.Time.UTC()
			ev = e
		}
		if err := s.appendEvent(ev, seq); err != nil {
			return err
		}
	}
	return s.commit(len(batch))
}

// writeRecords is Write for the records of an encoding Writer (see
// memSink): each event is encoded from a view of its memory form, whose
// strings alias recs.
func (s *FileSink) writeRecords(ctx context.Context, recs []byte, locs []*time.Location) error {
	return s.writeRecs(ctx, recs, locs, false)
}

// writeLines is Write for the records of a Writer whose records hold
// JSON lines (Writer.lines): it writes each line with its Seq.
func (s *FileSink) writeLines(ctx context.Context, recs []byte) error {
	return s.writeRecs(ctx, recs, nil, true)
}

func (s *FileSink) writeRecs(ctx context.Context, recs []byte, locs []*time.Location, lines bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	e := &s.event
	defer func() { *e = Event{} }() // keep no view of recs
	n := 0
	for len(recs) > 0 {
		var form []byte
		form, recs = nextRecord(recs)
		n++
		seq := s.seq + uint64(n)
		if lines {
			if form[0] == '{' {
				// The event's line with Seq 0, {"time":...: as
				// appendJSON writes it with seq.
				// The line is copied once, after its Seq (appended
				// to the buffer's free room and written there, the line
				// would be copied onto itself).
				var prefix [len(`{"seq":18446744073709551615,`)]byte
				b := append(prefix[:0], `{"seq":`...)
				b = strconv.AppendUint(b, seq, 10)
				s.buf.Write(append(b, ','))
				s.buf.Write(form[1:])
				s.ends = append(s.ends, s.buf.Len())
				continue
			}
			form = form[1:] // recMemForm
		}
		if !decodeMemForm(form, e, locs, true, false) {
			panic("audit: a Writer handed a malformed event")
		}
		e.Time = e.Time.UTC()
		if err := s.appendEvent(e, seq); err != nil {
			return err
		}
	}
	return s.commit(n)
}

// begin readies the sink for a batch: open, with its file open and its
// buffer empty. s.mu is held.
func (s *FileSink) begin(ctx context.Context) error {
	if s.closed {
		return fmt.Errorf("audit: file sink: %w", fs.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	s.buf.Reset()
	s.ends = s.ends[:0]
	return nil
}

// appendEvent appends the line of e, in UTC, with Seq seq to the batch's
// buffer. s.mu is held.
func (s *FileSink) appendEvent(e *Event, seq uint64) error {
	if line, ok := appendJSON(s.buf.AvailableBuffer(), e, seq); ok {
		s.buf.Write(line)
	} else {
		// What appendJSON leaves to encoding/json: its error.
		c := *e
		c.Seq = seq
		enc := json.NewEncoder(&s.buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&c); err != nil { // Encode appends '\n'
			return fmt.Errorf("audit: encoding event: %w", err)
		}
	}
	s.ends = append(s.ends, s.buf.Len())
	return nil
}

// commit writes the batch's buffer, of events events, to the file,
// rotating it first if it must. s.mu is held.
func (s *FileSink) commit(events int) error {
	data := s.buf.Bytes()

	if s.cfg.MaxBytes > 0 && s.size > 0 && s.size+int64(len(data)) > s.cfg.MaxBytes {
		if err := s.rotate(); err != nil {
			return fmt.Errorf("audit: rotating %s: %w", s.cfg.Path, err)
		}
	}

	start := s.size
	var err error
	if s.cfg.Sync == SyncAlways {
		from := 0
		for _, end := range s.ends {
			var n int
			n, err = s.f.Write(data[from:end])
			s.size += int64(n)
			if err == nil {
				err = s.f.Sync()
			}
			if err != nil {
				break
			}
			from = end
		}
	} else {
		var n int
		n, err = s.f.Write(data)
		s.size += int64(n)
		if err == nil && s.cfg.Sync == SyncEveryBatch {
			err = s.f.Sync()
		}
	}
	if err != nil {
		if s.size != start && s.f.Truncate(start) == nil {
			s.size = start
		}
		return fmt.Errorf("audit: writing %s: %w", s.cfg.Path, err)
	}
	s.seq += uint64(events)
	return nil
}

// rotate renames Path.i to Path.i+1 (dropping the oldest), Path to Path.1,
// and opens a fresh Path.
func (s *FileSink) rotate() error {
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return err
	}
	if err := os.Remove(s.backup(s.cfg.MaxBackups)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := s.cfg.MaxBackups - 1; i >= 1; i-- {
		if err := os.Rename(s.backup(i), s.backup(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(s.cfg.Path, s.backup(1)); err != nil {
		return err
	}
	return s.open()
}

// Close closes the file. Further writes fail; Close is idempotent.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Query returns the events matching q, newest first, scanning the current
// file and then the backups. Lines that do not parse (a line torn by a
// crash) are skipped. The cursor encodes the last Seq returned; the next
// page holds older events only, so pages neither repeat nor skip events,
// also when the file rotates between them.
func (s *FileSink) Query(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	before := uint64(math.MaxUint64)
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) != 8 {
			return Page{}, errFileCursor
		}
		before = binary.BigEndian.Uint64(b)
	}

	// Open every file and note the current file's size under the lock:
	// the handles stay valid across a rotation, and reading no further
	// than size never sees a batch being written.
	type source struct {
		f    *os.File
		size int64
	}
	var sources []source
	defer func() {
		for _, src := range sources {
			src.f.Close()
		}
	}()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Page{}, fmt.Errorf("audit: file sink: %w", fs.ErrClosed)
	}
	for i := 0; i <= s.cfg.MaxBackups; i++ {
		name := s.cfg.Path
		if i > 0 {
			name = s.backup(i)
		}
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.mu.Unlock()
			return Page{}, err
		}
		size := int64(-1)
		if i == 0 && s.f != nil {
			size = s.size
		}
		sources = append(sources, source{f, size})
	}
	s.mu.Unlock()

	want := limit + 1 // one more tells whether there is a next page
	var out []Event
	for _, src := range sources {
		if err := ctx.Err(); err != nil {
			return Page{}, err
		}
		var r io.Reader = src.f
		if src.size >= 0 {
			r = io.LimitReader(src.f, src.size)
		}
		got, err := fileScan(ctx, r, &q, before, want-len(out))
		if err != nil {
			return Page{}, err
		}
		out = append(out, got...)
		if len(out) == want {
			break
		}
	}
	var p Page
	if len(out) > limit {
		out = out[:limit]
		b := binary.BigEndian.AppendUint64(nil, out[limit-1].Seq)
		p.Next = base64.RawURLEncoding.EncodeToString(b)
	}
	p.Events = out
	return p, nil
}

// fileScan returns, newest first, the last n events in r that match q and
// have Seq below before.
func fileScan(ctx context.Context, r io.Reader, q *Query, before uint64, n int) ([]Event, error) {
	ring := make([]Event, 0, n)
	next := 0 // where the next match goes once ring is full
	br := bufio.NewReaderSize(r, 64<<10)
	for lines := 0; ; lines++ {
		if lines%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var e Event
			if json.Unmarshal(line, &e) == nil {
				if e.Seq >= before {
					break // Seq only grows within a file
				}
				if fileMatch(q, &e) {
					if len(ring) < n {
						ring = append(ring, e)
					} else {
						ring[next] = e
						next = (next + 1) % n
					}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]Event, 0, len(ring))
	for i := len(ring) - 1; i >= 0; i-- {
		out = append(out, ring[(next+i)%len(ring)])
	}
	return out, nil
}

func fileMatch(q *Query, e *Event) bool {
	eq := func(want, got string) bool { return want == "" || want == got }
	return eq(q.KeyID, e.KeyID) && eq(q.Account, e.Account) && eq(q.Mode, e.Mode) &&
		eq(q.Store, e.Store) && eq(q.IP, e.IP) && eq(q.Reason, e.Reason) &&
		eq(string(q.Decision), string(e.Decision)) && eq(q.Action, e.Action) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
		(q.Until.IsZero() || e.Time.Before(q.Until))
}

// fileLastSeq returns the Seq of the last parseable line of the file name,
// reading it backwards; 0 if it holds none.
func fileLastSeq(name string) (uint64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	const block = 64 << 10
	end := fi.Size()
	var tail []byte // the unfinished (leftmost) line read so far
	for end > 0 {
		start := max(end-block, 0)
		chunk := make([]byte, end-start, int(end-start)+len(tail))
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		data := append(chunk, tail...)
		// Complete lines are those after a newline in data (or all of
		// data at the start of the file); try them from the last.
		for {
			i := bytes.LastIndexByte(bytes.TrimRight(data, "\n"), '\n')
			if i < 0 && start > 0 {
				break
			}
			line := data[i+1:]
			var e struct {
				Seq uint64 `json:"seq"`
			}
			if len(bytes.TrimSpace(line)) > 0 && json.Unmarshal(line, &e) == nil && e.Seq > 0 {
				return e.Seq, nil
			}
			if i < 0 {
				break
			}
			data = data[:i+1]
		}
		tail = data
		end = start
	}
	return 0, nil
}

// fileSyncDir fsyncs the directory holding name, so that a file created
// or renamed in it survives a crash. Best effort.
func fileSyncDir(name string) {
	d, err := os.Open(filepath.Dir(name))
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
