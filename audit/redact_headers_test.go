package audit

import (
	"maps"
	"net/http"
	"strings"
	"testing"
)

// FuzzRedactorHeaders checks that Headers records the same headers, with
// the same values, whichever side it looks up: the recorded headers in the
// request's, or the request's among the recorded, and that Headers itself
// agrees with both.
func FuzzRedactorHeaders(f *testing.F) {
	f.Add("Content-Type:application/json\nAuthorization:Bearer x\nx-store-id:eu", "X-Store-Id,Content-Type,X-Api-Key")
	f.Add("X-Request-Id:a\nX-Request-Id:b\r\nc\nCookie:s", "")
	f.Add("X-Forwarded-For:\nForwarded:for=1", "forwarded,X-FORWARDED-FOR")
	f.Add("Authorization:Bearer x", "")
	f.Add("Authorization:Bearer x", "authorization,X-Store-Id")
	f.Add("Authorization:", "Authorization")
	f.Fuzz(func(t *testing.T, header, record string) {
		h := http.Header{}
		for line := range strings.SplitSeq(header, "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				h[name] = nil // present without values
				continue
			}
			h[name] = append(h[name], value) // as given: canonical or not
		}
		var rec []string
		if record != "" {
			rec = strings.Split(record, ",")
		}
		r := NewRedactor(RedactorConfig{RecordHeaders: rec, Headers: []string{"X-Store-Id"}})
		want, got := r.headersOfRecord(h), r.headersOfRequest(h)
		if !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("headers %q recording %q: headersOfRecord %q, headersOfRequest %q", header, record, want, got)
		}
		if got := r.Headers(h); !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("headers %q recording %q: headersOfRecord %q, Headers %q", header, record, want, got)
		}
	})
}
