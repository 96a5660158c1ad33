package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/keygate/keygate/audit"
)

// A Writer batches events to its sinks in the background; Close writes what
// is queued before it returns.
func ExampleWriter() {
	mem := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}})

	ctx := context.Background()
	err := w.Emit(ctx, audit.Event{
		Time:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Method:   http.MethodGet,
		Path:     "/v1/orders",
		Status:   http.StatusOK,
		KeyID:    "key_123",
		Decision: audit.Allow,
	}, audit.Block)
	if err != nil {
		panic(err)
	}
	if err := w.Close(ctx); err != nil {
		panic(err)
	}

	for _, e := range mem.Events() {
		fmt.Println(e.Seq, e.Method, e.Path, e.Status, e.KeyID, e.Decision)
	}
	fmt.Println(w.Emit(ctx, audit.Event{}, audit.Drop))
	// Output:
	// 1 GET /v1/orders 200 key_123 allow
	// audit: writer closed
}

// A Redactor keeps credentials out of what is recorded: secret query
// parameters, secret-bearing headers and anything that starts like a
// credential.
func ExampleRedactor() {
	r := audit.NewRedactor(audit.RedactorConfig{
		// Record the Authorization header too: its value is redacted.
		RecordHeaders:  append([]string{"Authorization"}, audit.DefaultRecordHeaders...),
		SecretPrefixes: []string{"kg_live_sk_"},
	})

	u, _ := url.Parse("/v1/orders?page=2&access_token=abc123")
	fmt.Println(r.Path(u))

	h := http.Header{}
	h.Set("Authorization", "Bearer kg_live_sk_abcdef")
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", "req kg_live_sk_abcdef")
	hs := r.Headers(h)
	fmt.Println(hs["Authorization"])
	fmt.Println(hs["Content-Type"])
	fmt.Println(hs["X-Request-Id"])

	fmt.Println(r.Field("key kg_live_sk_abcdef was used"))
	// Output:
	// /v1/orders?page=2&access_token=REDACTED
	// [REDACTED]
	// application/json
	// req [REDACTED]
	// key [REDACTED] was used
}
