package audit

import (
	"testing"
	"time"
)

// BenchmarkAppendMemEvent encodes a typical request event (an API key's
// allowed request, as the middleware records it) in its memory form, as
// an encoding Writer's Emit does.
func BenchmarkAppendMemEvent(b *testing.B) {
	e := Event{Time: time.Now().UTC(), RequestID: "K7GQ2XHRTLNM3WZPA5BCDEFJUV", IP: "127.0.0.1",
		Method: "GET", Path: "/protected", Route: "/protected", Status: 200, LatencyMS: 0.012, Bytes: 3,
		AuthMethod: "api_key", KeyID: "bk_test_pk_0123456789", Account: "acct_1", Mode: "test",
		Store: "store_1", Decision: Allow, Reason: "ok"}
	var buf [memInline]byte
	for b.Loop() {
		_ = appendMemEvent(buf[:0], &e, nil)
	}
}
