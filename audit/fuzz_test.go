package audit_test

import (
	"context"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// FuzzQueryCursor feeds arbitrary cursors to both history sinks: an error
// or a page, never a panic, and never an event newer than the cursor
// allows.
func FuzzQueryCursor(f *testing.F) {
	mem := audit.NewMemorySink(100)
	file, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(f.TempDir(), "a.jsonl"), Sync: audit.SyncNever})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = file.Close() })
	batch := make([]audit.Event, 30)
	for i := range batch {
		batch[i] = audit.Event{Time: time.Unix(int64(1_700_000_000+i), 0), Account: "acct_1", Decision: audit.Allow}
	}
	ctx := context.Background()
	for _, s := range []audit.Sink{mem, file} {
		if err := s.Write(ctx, batch); err != nil {
			f.Fatal(err)
		}
	}
	page, _ := mem.Query(ctx, audit.Query{Limit: 5})
	f.Add(page.Next)
	page, _ = file.Query(ctx, audit.Query{Limit: 5})
	f.Add(page.Next)
	f.Add("")
	f.Add("not a cursor")
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, h := range []audit.History{mem, file} {
			page, err := h.Query(ctx, audit.Query{Cursor: cursor, Limit: 10})
			if err != nil {
				continue
			}
			for i := 1; i < len(page.Events); i++ {
				if page.Events[i].Seq >= page.Events[i-1].Seq {
					t.Fatalf("cursor %q: not newest first: %d then %d", cursor, page.Events[i-1].Seq, page.Events[i].Seq)
				}
			}
		}
	})
}

// FuzzRedactor feeds arbitrary URLs and text to a Redactor: Path and Field
// never let a credential with a secret prefix through, even
// percent-encoded, and Field's result is escaped and capped.
func FuzzRedactor(f *testing.F) {
	for _, s := range []string{
		"/v1/things?page=2",
		"/v1/x?access_token=eyJhbGciOiJIUzI1NiJ9.e30.sig&page=2",
		"/v1/x?%65yJhbGci=1&a=%65yJ",
		"/%65yJhbGci/x?eyJ",
		"/bk_live_sk_abc/x?q=bk%5Flive%5Fsk%5Fdef",
		"curl/8.5.0 eyJx\r\nbad\xff\u2028",
	} {
		f.Add(s)
	}
	const prefix = "bk_live_sk_"
	r := audit.NewRedactor(audit.RedactorConfig{SecretPrefixes: []string{prefix}, MaxField: 64})
	// An escape sequence ("\u000e" before "yJ", say) is not a credential.
	escape := regexp.MustCompile(`\\(u[0-9a-f]{4}|[\\nrt])`)
	leaks := func(s string) bool {
		s = escape.ReplaceAllString(s, "#")
		return strings.Contains(s, "eyJ") || strings.Contains(s, prefix)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := r.Field(s)
		if len(got) > 64 || leaks(got) || strings.ContainsAny(got, "\r\n\x00\u2028") {
			t.Fatalf("Field(%q) = %q", s, got)
		}
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		got = r.Path(u)
		if len(got) > 64 {
			t.Fatalf("Path(%q) = %d bytes", s, len(got))
		}
		// Each part, decoded as the reader of the log would decode it.
		path, query, _ := strings.Cut(got, "?")
		if p, err := url.PathUnescape(path); err == nil && leaks(p) || leaks(path) {
			t.Fatalf("Path(%q) = %q: a credential in the path", s, got)
		}
		for _, part := range strings.FieldsFunc(query, func(c rune) bool { return c == '&' || c == '=' }) {
			if v, err := url.QueryUnescape(part); err == nil && leaks(v) || leaks(part) {
				t.Fatalf("Path(%q) = %q: a credential in the query", s, got)
			}
		}
	})
}
