package audit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// SlogSink is a [Sink] that logs each event as one [slog.Record] through a
// handler, so that audit events go wherever a service's logs already go.
//
// The record's message is "audit", its level Info, or Warn for a denied
// request, and its time the event's Time. Its attributes carry the event's
// fields under their JSON names ("seq", "request_id", "ip", ..., with
// "headers" as a group); empty fields are left out, as in the JSON form.
// Escaping CR, LF and control characters is the handler's job: the
// standard JSON and text handlers do it.
//
// Events get consecutive Seq numbers in the order they are handled. An
// event whose level the handler does not enable is not logged and gets no
// Seq.
type SlogSink struct {
	h slog.Handler

	mu  sync.Mutex
	seq uint64
}

var _ Sink = (*SlogSink)(nil)

// NewSlogSink returns a sink logging to h.
func NewSlogSink(h slog.Handler) *SlogSink { return &SlogSink{h: h} }

// Write logs the batch in order. It stops at the first error the handler
// returns.
func (s *SlogSink) Write(ctx context.Context, batch []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	attrs := make([]slog.Attr, 0, 24)
	for i := range batch {
		e := &batch[i]
		level := slog.LevelInfo
		if e.Decision == Deny {
			level = slog.LevelWarn
		}
		if !s.h.Enabled(ctx, level) {
			continue
		}
		t := e.Time
		if t.IsZero() {
			t = time.Now()
		}
		r := slog.NewRecord(t.UTC(), level, "audit", 0)
		r.AddAttrs(slogAttrs(attrs[:0], e, s.seq+1)...)
		if err := s.h.Handle(ctx, r); err != nil {
			return err
		}
		s.seq++
	}
	return nil
}

// slogAttrs appends e's non-empty fields, except Time (the record's time),
// to attrs.
func slogAttrs(attrs []slog.Attr, e *Event, seq uint64) []slog.Attr {
	attrs = append(attrs, slog.Uint64("seq", seq))
	str := func(key, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(key, v))
		}
	}
	str("request_id", e.RequestID)
	str("ip", e.IP)
	str("country", e.Country)
	str("method", e.Method)
	str("path", e.Path)
	str("route", e.Route)
	if e.Status != 0 {
		attrs = append(attrs, slog.Int("status", e.Status))
	}
	if e.LatencyMS != 0 {
		attrs = append(attrs, slog.Float64("latency_ms", e.LatencyMS))
	}
	if e.Bytes != 0 {
		attrs = append(attrs, slog.Int64("bytes", e.Bytes))
	}
	str("user_agent", e.UserAgent)
	if len(e.Headers) > 0 {
		names := make([]string, 0, len(e.Headers))
		for name := range e.Headers {
			names = append(names, name)
		}
		slices.Sort(names)
		hs := make([]slog.Attr, len(names))
		for i, name := range names {
			hs[i] = slog.String(name, e.Headers[name])
		}
		attrs = append(attrs, slog.Attr{Key: "headers", Value: slog.GroupValue(hs...)})
	}
	str("auth_method", e.AuthMethod)
	str("key_id", e.KeyID)
	str("token_id", e.TokenID)
	str("subject", e.Subject)
	str("account", e.Account)
	str("mode", e.Mode)
	str("store", e.Store)
	str("decision", string(e.Decision))
	str("reason", e.Reason)
	str("action", e.Action)
	str("actor", e.Actor)
	if e.Gap != 0 {
		attrs = append(attrs, slog.Uint64("gap", e.Gap))
	}
	return attrs
}
