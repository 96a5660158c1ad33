// Package audit records what happens at keygate's gates: one event per
// request that passes through the middleware, allowed or denied, and one
// per management action. Events go through an asynchronous [Writer] to
// [Sink]s; a [Sink] that also implements [History] answers queries.
//
// Secrets never enter an event: the middleware records key IDs, never
// keys, and [Redactor] replaces the values of secret-bearing headers and
// query parameters before an event is built.
package audit

import (
	"context"
	"time"
)

// Decision is the outcome of a request.
type Decision string

// The decisions.
const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// Event is one audit record. Its JSON form has stable field names (the
// schema in the README); empty fields are omitted.
//
// In a request event, AuthMethod, KeyID, TokenID, Account, Mode and Store
// name the caller once its credential verified, also when a later step
// refused the request: AuthMethod set with Decision Deny means
// "authenticated, then refused" (a permission, an IP or country rule, a
// rate limit); empty with Deny, "not authenticated". In a management event
// they name what was acted on.
type Event struct {
	// Seq is the sequence number the sink gave the event: consecutive per
	// sink, so that a reader can prove there are no gaps. Zero until
	// written.
	Seq uint64 `json:"seq,omitempty"`
	// Time is when the request arrived or the action happened (UTC).
	Time time.Time `json:"time"`

	// Request events.
	RequestID  string            `json:"request_id,omitempty"`
	IP         string            `json:"ip,omitempty"`
	Country    string            `json:"country,omitempty"`
	Method     string            `json:"method,omitempty"`
	Path       string            `json:"path,omitempty"`
	Route      string            `json:"route,omitempty"`
	Status     int               `json:"status,omitempty"`
	LatencyMS  float64           `json:"latency_ms,omitempty"`
	Bytes      int64             `json:"bytes,omitempty"`
	UserAgent  string            `json:"user_agent,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	AuthMethod string            `json:"auth_method,omitempty"`
	KeyID      string            `json:"key_id,omitempty"`
	TokenID    string            `json:"token_id,omitempty"`
	Subject    string            `json:"subject,omitempty"`
	Account    string            `json:"account,omitempty"`
	Mode       string            `json:"mode,omitempty"`
	Store      string            `json:"store,omitempty"`
	Decision   Decision          `json:"decision,omitempty"`
	Reason     string            `json:"reason,omitempty"`

	// Management events.
	Action string `json:"action,omitempty"` // key.created, key.rotated, key.revoked, refresh.reuse_detected, ...
	Actor  string `json:"actor,omitempty"`

	// Gap marks a gap record a Writer writes when it dropped events: Gap
	// events were lost before this one.
	Gap uint64 `json:"gap,omitempty"`
}

// Sink stores events. Write receives a batch, in order, and either stores
// all of it or returns an error (the Writer retries the batch).
// Implementations must be safe for concurrent use, assign Seq, and honour
// ctx. Write may modify the events of batch but must not retain the slice
// once it returns (it may keep copies of the events): a [Writer] reuses it
// for the next batch.
type Sink interface {
	Write(ctx context.Context, batch []Event) error
}

// Query selects events from a [History]. Empty fields match everything.
type Query struct {
	KeyID, Account, Mode, Store, IP, Reason string
	Decision                                Decision
	Action                                  string
	// Since and Until bound Time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Limit caps the page (default 100, at most 1000).
	Limit int
	// Cursor continues a previous page (from Page.Next).
	Cursor string
}

// Page is one page of query results, newest first.
type Page struct {
	Events []Event
	// Next is the cursor of the following (older) page; empty at the end.
	Next string
}

// History answers queries over stored events, newest first.
type History interface {
	Query(ctx context.Context, q Query) (Page, error)
}
