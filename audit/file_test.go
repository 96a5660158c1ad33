package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func fileTestEvent(i int) Event {
	d, reason := Allow, "ok"
	if i%3 == 0 {
		d, reason = Deny, "invalid_token"
	}
	return Event{
		Time:       time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC).Add(time.Duration(i) * time.Second),
		RequestID:  fmt.Sprintf("req-%d", i),
		IP:         fmt.Sprintf("10.0.0.%d", i%4),
		Method:     "GET",
		Path:       "/v1/things",
		Route:      "/v1/things",
		Status:     200,
		LatencyMS:  1.5,
		Bytes:      42,
		UserAgent:  "test/1.0",
		Headers:    map[string]string{"Authorization": "[redacted]"},
		AuthMethod: "api_key",
		KeyID:      fmt.Sprintf("key%d", i%2),
		Account:    "acct",
		Mode:       "live",
		Store:      "main",
		Decision:   d,
		Reason:     reason,
	}
}

// fileLines reads every line of the file name, failing on a line that is
// not one valid JSON event.
func fileLines(t *testing.T, name string) []Event {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end in a newline", name)
	}
	var out []Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Event
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s: line %q: %v", name, sc.Text(), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func fileOpen(t *testing.T, cfg FileConfig) *FileSink {
	t.Helper()
	s, err := OpenFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := fileOpen(t, FileConfig{Path: path})
	var want []Event
	for i := range 10 {
		want = append(want, fileTestEvent(i))
	}
	want[1].Action, want[1].Actor = "key.created", "admin"
	want[2].Gap = 7
	want[3].Path = "/v1/<a>&b" // no HTML escaping
	if err := s.Write(context.Background(), want[:4]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), want[4:]); err != nil {
		t.Fatal(err)
	}
	if want[0].Seq != 0 {
		t.Fatal("Write modified the caller's batch")
	}
	got := fileLines(t, path)
	for i := range want {
		want[i].Seq = uint64(i + 1)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines parse back to\n%+v\nwant\n%+v", got, want)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte(`"/v1/<a>&b"`)) {
		t.Error("HTML characters are escaped")
	}
	if !bytes.Contains(data, []byte(`"time":"2026-01-02T03:04:05.123456789Z"`)) {
		t.Errorf("time not RFC 3339 UTC with fraction: %s", data)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("file mode %v, want 0600", m)
	}
}

func TestFileEscapesCRLF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := fileOpen(t, FileConfig{Path: path})
	e := fileTestEvent(1)
	e.Path = "/v1/x\r\nX-Injected: 1\n{\"seq\":999}"
	e.UserAgent = "a\x00b\x1bc\u2028d"
	e.Headers = map[string]string{"X-Foo\r\n": "v\r\nw"}
	if err := s.Write(context.Background(), []Event{e, fileTestEvent(2)}); err != nil {
		t.Fatal(err)
	}
	got := fileLines(t, path)
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2", len(got))
	}
	if got[0].Path != e.Path || got[0].UserAgent != e.UserAgent || got[0].Headers["X-Foo\r\n"] != "v\r\nw" {
		t.Errorf("values did not survive: %+v", got[0])
	}
	data, _ := os.ReadFile(path)
	if bytes.ContainsAny(bytes.TrimSuffix(data, []byte("\n")), "\r\x00\x1b") || bytes.Count(data, []byte("\n")) != 2 {
		t.Errorf("raw control characters in the file: %q", data)
	}
}

func TestFileConcurrentWritersDoNotInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := fileOpen(t, FileConfig{Path: path, Sync: SyncNever})
	const writers, batches, size = 8, 50, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]Event, size)
				for i := range batch {
					batch[i] = fileTestEvent(i)
					batch[i].RequestID = fmt.Sprintf("w%d-b%d-i%d", w, b, i)
					batch[i].UserAgent = strings.Repeat("x", 100*w) // lines of different lengths
				}
				if err := s.Write(context.Background(), batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := fileLines(t, path)
	if len(got) != writers*batches*size {
		t.Fatalf("%d lines, want %d", len(got), writers*batches*size)
	}
	seen := map[string]bool{}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("line %d has seq %d", i, e.Seq)
		}
		if seen[e.RequestID] {
			t.Fatalf("duplicate %s", e.RequestID)
		}
		seen[e.RequestID] = true
		// A batch's events stay together and in order.
		var w, b, n int
		fmt.Sscanf(e.RequestID, "w%d-b%d-i%d", &w, &b, &n)
		if n != i%size {
			t.Fatalf("line %d: %s out of batch order", i, e.RequestID)
		}
	}
}

func TestFileSeqContinuesAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for round := range 3 {
		s, err := OpenFile(FileConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), []Event{fileTestEvent(1), fileTestEvent(2)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), []Event{fileTestEvent(1)}); err == nil {
			t.Error("Write after Close succeeded")
		}
		if round == 1 {
			// A crash tore the last line.
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(`{"seq":99,"time":"2026-`)
			f.Close()
		}
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var seqs []uint64
	for _, l := range lines {
		var e Event
		if json.Unmarshal([]byte(l), &e) == nil {
			seqs = append(seqs, e.Seq)
		}
	}
	if want := []uint64{1, 2, 3, 4, 5, 6}; !reflect.DeepEqual(seqs, want) || len(lines) != 7 {
		t.Fatalf("seqs %v in %d lines, want %v in 7 (one torn)", seqs, len(lines), want)
	}

	// A long last line (bigger than the backward read block).
	s := fileOpen(t, FileConfig{Path: path})
	e := fileTestEvent(1)
	e.UserAgent = strings.Repeat("u", 200<<10)
	if err := s.Write(context.Background(), []Event{e}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = fileOpen(t, FileConfig{Path: path})
	if err := s.Write(context.Background(), []Event{fileTestEvent(2)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, _ = os.ReadFile(path)
	lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var last Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Seq != 8 || len(lines) != 9 {
		t.Fatalf("after a long line: seq %d, %d lines, %v", last.Seq, len(lines), err)
	}
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	line := func() int64 {
		var b bytes.Buffer
		e := fileTestEvent(1)
		e.Seq = 100
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(e)
		return int64(b.Len())
	}()
	// About 5 events per file; 3 backups.
	cfg := FileConfig{Path: path, MaxBytes: 5*line + 10, MaxBackups: 3}
	s := fileOpen(t, cfg)
	write := func(n int) {
		for i := range n {
			if err := s.Write(context.Background(), []Event{fileTestEvent(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() (files int, seqs []uint64) {
		for _, name := range []string{path + ".4", path + ".3", path + ".2", path + ".1", path} {
			if _, err := os.Stat(name); err != nil {
				continue
			}
			files++
			for _, e := range fileLines(t, name) {
				seqs = append(seqs, e.Seq)
			}
			fi, _ := os.Stat(name)
			if fi.Size() > cfg.MaxBytes {
				t.Errorf("%s has %d bytes, over %d", name, fi.Size(), cfg.MaxBytes)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v", name, fi.Mode().Perm())
			}
		}
		return
	}
	write(12) // 3 files, nothing pruned
	files, seqs := count()
	if files != 3 || len(seqs) != 12 {
		t.Fatalf("%d files, %d lines; want 3, 12", files, len(seqs))
	}
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Fatalf("seqs across files %v", seqs)
		}
	}
	write(100)
	files, seqs = count()
	if files != 4 {
		t.Fatalf("%d files, want 4 (current + MaxBackups)", files)
	}
	if _, err := os.Stat(path + ".4"); err == nil {
		t.Fatal("more than MaxBackups backups")
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("seqs across files %v", seqs)
		}
	}
	if seqs[len(seqs)-1] != 112 {
		t.Fatalf("last seq %d, want 112", seqs[len(seqs)-1])
	}

	// Reopening right after a rotation (empty current file) continues
	// from the backup.
	s.Close()
	os.Remove(path + ".3")
	os.Rename(path+".2", path+".3")
	os.Rename(path+".1", path+".2")
	os.Rename(path, path+".1")
	os.WriteFile(path, nil, 0o600)
	s = fileOpen(t, cfg)
	write(1)
	if got := fileLines(t, path); len(got) != 1 || got[0].Seq != 113 {
		t.Fatalf("after reopen on an empty file: %+v", got)
	}
}

func TestFileQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := fileOpen(t, FileConfig{Path: path, MaxBytes: 4 << 10, MaxBackups: 100})
	const n = 300
	for i := 0; i < n; i += 7 {
		var batch []Event
		for j := i; j < min(i+7, n); j++ {
			batch = append(batch, fileTestEvent(j))
		}
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatal("expected several rotated files:", err)
	}
	ctx := context.Background()

	// Everything, page by page: newest first, no gaps or repeats.
	for _, limit := range []int{1, 7, 50, 1000} {
		var seqs []uint64
		q := Query{Limit: limit}
		for {
			p, err := s.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) > limit {
				t.Fatalf("page of %d, limit %d", len(p.Events), limit)
			}
			for _, e := range p.Events {
				seqs = append(seqs, e.Seq)
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
			if limit == 7 && len(seqs) == 14 {
				// Writes and rotations between pages do not disturb it.
				for range 40 {
					s.Write(ctx, []Event{{Time: time.Now(), Action: "key.created"}})
				}
			}
		}
		if len(seqs) < n {
			t.Fatalf("limit %d: %d events, want %d", limit, len(seqs), n)
		}
		for i := range seqs {
			if i > 0 && seqs[i] != seqs[i-1]-1 {
				t.Fatalf("limit %d: seqs not consecutive newest first at %d: %v", limit, i, seqs[max(i-3, 0):i+1])
			}
		}
		if seqs[len(seqs)-1] != 1 {
			t.Fatalf("limit %d: last seq %d", limit, seqs[len(seqs)-1])
		}
	}

	// Default limit.
	p, err := s.Query(ctx, Query{})
	if err != nil || len(p.Events) != 100 || p.Next == "" {
		t.Fatalf("default limit: %d events, next %q, %v", len(p.Events), p.Next, err)
	}

	// Filters.
	base := fileTestEvent(0).Time
	check := func(q Query, want func(e Event) bool) {
		t.Helper()
		q.Limit = 1000
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		wantN := 0
		for i := range n {
			e := fileTestEvent(i)
			if want(e) {
				wantN++
			}
		}
		if len(p.Events) != wantN {
			t.Fatalf("%+v: %d events, want %d", q, len(p.Events), wantN)
		}
		for i, e := range p.Events {
			if !want(e) {
				t.Fatalf("%+v: unwanted %+v", q, e)
			}
			if i > 0 && e.Seq >= p.Events[i-1].Seq {
				t.Fatalf("not newest first")
			}
		}
	}
	check(Query{KeyID: "key1"}, func(e Event) bool { return e.KeyID == "key1" && e.Action == "" })
	check(Query{IP: "10.0.0.2", Decision: Deny}, func(e Event) bool { return e.IP == "10.0.0.2" && e.Decision == Deny })
	check(Query{Reason: "invalid_token", Account: "acct", Mode: "live", Store: "main"}, func(e Event) bool { return e.Reason == "invalid_token" })
	since, until := base.Add(10*time.Second), base.Add(50*time.Second)
	check(Query{Since: since, Until: until}, func(e Event) bool { return !e.Time.Before(since) && e.Time.Before(until) })
	check(Query{Store: "other"}, func(Event) bool { return false })
	p, err = s.Query(ctx, Query{Action: "key.created"})
	if err != nil || len(p.Events) != 40 {
		t.Fatalf("action filter: %d events, %v", len(p.Events), err)
	}

	if _, err := s.Query(ctx, Query{Cursor: "not a cursor"}); err == nil {
		t.Error("bad cursor accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Query(cctx, Query{}); err == nil {
		t.Error("cancelled context ignored by Query")
	}
	if err := s.Write(cctx, []Event{fileTestEvent(1)}); err == nil {
		t.Error("cancelled context ignored by Write")
	}
}

func TestFileSyncPolicies(t *testing.T) {
	for _, pol := range []SyncPolicy{SyncNever, SyncEveryBatch, SyncAlways} {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		s := fileOpen(t, FileConfig{Path: path, Sync: pol, MaxBytes: 4 << 10})
		for range 10 {
			if err := s.Write(context.Background(), []Event{fileTestEvent(1), fileTestEvent(2), fileTestEvent(3)}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		total := 0
		for _, name := range []string{path + ".5", path + ".4", path + ".3", path + ".2", path + ".1", path} {
			if _, err := os.Stat(name); err == nil {
				total += len(fileLines(t, name))
			}
		}
		if total != 30 {
			t.Errorf("policy %d: %d lines, want 30", pol, total)
		}
	}
	if _, err := OpenFile(FileConfig{Path: filepath.Join(t.TempDir(), "x"), Sync: 9}); err == nil {
		t.Error("unknown sync policy accepted")
	}
	if _, err := OpenFile(FileConfig{}); err == nil {
		t.Error("empty path accepted")
	}
}

func TestFileQueryWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := fileOpen(t, FileConfig{Path: path, MaxBytes: 8 << 10, MaxBackups: 1000, Sync: SyncNever})
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 200 {
			if err := s.Write(ctx, []Event{fileTestEvent(i), fileTestEvent(i + 1)}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for {
		select {
		case <-done:
			wg.Wait()
			p, err := s.Query(ctx, Query{Limit: 1000})
			if err != nil || len(p.Events) != 400 {
				t.Fatalf("%d events, %v", len(p.Events), err)
			}
			return
		default:
		}
		p, err := s.Query(ctx, Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// A snapshot: consecutive from its newest down to 1.
		for i, e := range p.Events {
			if e.Seq != uint64(len(p.Events)-i) {
				t.Fatalf("snapshot of %d events has seq %d at %d", len(p.Events), e.Seq, i)
			}
		}
	}
}
