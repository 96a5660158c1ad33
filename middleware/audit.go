package middleware

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/strbytes"
	"github.com/keygate/keygate/internal/validate"
	"github.com/keygate/keygate/ipbind"
)

// AuditConfig configures the request events of [Authenticator.Audit].
type AuditConfig struct {
	// Writer receives one event per request. Nil records no events.
	Writer *audit.Writer
	// Metrics observes every request's outcome and latency, with or
	// without a Writer. Nil (also a nil pointer) observes nothing. With
	// neither Writer nor Metrics, [Authenticator.Audit] does nothing.
	Metrics audit.Metrics
	// Redactor decides which headers are recorded and redacts secrets
	// from headers and query parameters. Nil means audit's defaults plus
	// this Authenticator's API key prefixes and the refresh and one-time
	// token prefixes as SecretPrefixes; a Redactor of your own should list
	// them too.
	Redactor *audit.Redactor
	// Policy is how request events wait for room in the writer: Block
	// (the default: never lost) or Drop (counted, with a gap marker).
	Policy audit.Policy
	// TrustRequestID honours an incoming X-Request-Id (1 to 128
	// printable characters); otherwise one is generated. Either way the
	// response carries it.
	TrustRequestID bool
}

// auditSlot is where Require leaves its outcome for Audit to record.
type auditSlot struct {
	caller  auditCaller // when authed
	authed  bool
	reason  string
	ip      netip.Addr // formatted only for an event, not for metrics alone
	country string     // the client's country, when a country rule looked it up
}

// auditCaller is what a request event records of its caller: the
// Principal's public identifiers, without the rest of it (its lists, its
// scope) that the event does not hold.
type auditCaller struct {
	method, keyID, tokenID, account, mode, store string
}

// setCaller records p as the request's authenticated caller.
func (s *auditSlot) setCaller(p *keygate.Principal) {
	s.authed = true
	s.caller = auditCaller{
		method: string(p.Method), keyID: p.KeyID, tokenID: p.TokenID,
		account: p.Account, mode: string(p.Mode), store: p.Store,
	}
}

type auditSlotKey struct{}

// auditState is Audit's per-request state, in one allocation: the
// response's recorder, the slot Require leaves its outcome in, and the
// context that lets Require (and RefuseRequest, RecordCaller) find the
// slot, holding it without another allocation. (With the request's copy,
// in auditedRequest, it fits in 512 bytes, the largest size class whose
// objects carry no malloc header: TestAuditedRequestSize. The
// X-Request-Id response header's value slice is a slot of the request
// ID's chunk, not a field here: see newRequestID.)
type auditState struct {
	// Context is the request's.
	context.Context
	rec  statusRecorder
	slot auditSlot
}

// Value returns the slot for auditSlotKey, else the parent's value.
func (st *auditState) Value(key any) any {
	if key == (auditSlotKey{}) {
		return &st.slot
	}
	return st.Context.Value(key)
}

// auditedRequest is the state of [Authenticator.Audit] around any
// handler, which gets a copy of the request whose context is the state:
// both in one allocation.
type auditedRequest struct {
	auditState
	req http.Request
}

// auditing reports whether Audit records anything (events, metrics or
// both), and so whether Require must leave its outcome for it.
func (a *Authenticator) auditing() bool {
	return a.auditCfg.Writer != nil || a.auditCfg.Metrics != nil
}

// checkedFunc is Require's handler: st is the request's audit state when
// Require audits the request itself (see auditOutside), else nil.
type checkedFunc func(w http.ResponseWriter, r *http.Request, st *auditState)

// auditOutside returns checked as a handler that, when auditing is on and
// the request is not audited yet (Require outside Audit, or without it),
// audits it itself, so that Require's outcome reaches an audit slot
// whichever order a service wraps them in: an inner Audit finds the slot
// and records nothing more. checked gets the audit state it fills (and
// the request as it came: it hands next a request whose context is the
// state's, so that what next runs finds the slot too); a request already
// audited, or every request when auditing is off, gets nil and finds the
// slot, if any, in its context.
func (a *Authenticator) auditOutside(checked checkedFunc) http.Handler {
	if !a.auditing() {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { checked(w, r, nil) })
	}
	h := &auditHandler{a: a, cfg: a.auditCfg}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if alreadyAudited(r) {
			checked(w, r, nil)
			return
		}
		st := &auditState{}
		start, id := h.begin(st, w, r)
		checked(&st.rec, r, st)
		// Require runs after the mux that routed the request: r has
		// its pattern.
		h.end(st, r, r.Pattern, start, id)
	})
}

// alreadyAudited reports whether r is inside Audit already.
func alreadyAudited(r *http.Request) bool {
	_, ok := r.Context().Value(auditSlotKey{}).(*auditSlot)
	return ok
}

// Audit wraps a whole handler (a mux, say) so that every request through
// it is recorded: request ID (also set as the X-Request-Id response
// header), time, client IP, method, redacted path, matched route, status,
// latency, response bytes, user agent, recorded headers (redacted), and,
// for routes behind [Authenticator.Require], the caller's public
// identifiers and the decision and reason. The caller is named whenever
// its credential verified, also when the rule, an IP or country rule or
// the rate limit then refused it (decision deny with an auth method).
// Routes without authentication (an OAuth endpoint, say) are recorded as
// allowed below status 400 and denied with reason "http_<status>"
// otherwise. When a country rule looked
// the client's address up, the event also holds its country.
//
// Audit may wrap [Authenticator.Require] or be wrapped by it, and may be
// nested: a request already inside an Audit (of any Authenticator) is
// recorded once, by the outermost.
//
// With [AuditConfig.Metrics] set, every request's auth method, decision,
// reason, route, status and latency are also passed to it, once the
// response is written and before the event is emitted. With Metrics alone
// (no Writer) no event is built and no request ID is set. With neither,
// Audit returns next unchanged.
func (a *Authenticator) Audit(next http.Handler) http.Handler {
	if a.auditCfg.Writer == nil && a.auditCfg.Metrics == nil {
		return next
	}
	return &auditHandler{a: a, cfg: a.auditCfg, next: next}
}

// auditHandler is [Authenticator.Audit]'s handler. (A method rather than
// a closure, so that it is compiled here, where the request's copy for
// next stays in auditedRequest, whatever inlines Audit.)
type auditHandler struct {
	a       *Authenticator
	cfg     AuditConfig
	next    http.Handler
	ipNames ipNameCache // the client addresses of recent events, formatted
}

// ServeHTTP serves r through next and records it.
func (h *auditHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if alreadyAudited(r) {
		h.next.ServeHTTP(w, r) // the outer Audit records the request
		return
	}
	ar := &auditedRequest{}
	start, id := h.begin(&ar.auditState, w, r)
	ar.req = *r.WithContext(&ar.auditState) // WithContext's copy is inlined, on the stack: the request is copied once, into ar
	h.next.ServeHTTP(&ar.rec, &ar.req)
	// A mux inside next routed the copy: its pattern is the route.
	h.end(&ar.auditState, r, ar.req.Pattern, start, id)
}

// begin starts auditing r, answered through w, in st: it returns the
// request's start time and ID (the ID also set as the X-Request-Id
// response header), the ID empty without a Writer.
func (h *auditHandler) begin(st *auditState, w http.ResponseWriter, r *http.Request) (start time.Time, id string) {
	start = h.a.now()
	st.Context = r.Context()
	st.rec = statusRecorder{ResponseWriter: w, status: unwritten}
	if h.cfg.Writer != nil {
		idHeader := newRequestID()
		if h.cfg.TrustRequestID {
			if in := r.Header.Get("X-Request-Id"); validRequestID(in) && h.cfg.Redactor.Field(in) == in { // never a credential as the ID
				idHeader[0] = in
			}
		}
		// As Header.Set does, without its allocation ("X-Request-Id" is
		// in canonical form).
		w.Header()["X-Request-Id"] = idHeader
		id = idHeader[0]
	}
	return start, id
}

// end records the request r audited in st, served under route, once its
// response is written: the metrics, then the event.
func (h *auditHandler) end(st *auditState, r *http.Request, route string, start time.Time, id string) {
	var latency time.Duration
	if h.a.systemClock { // time.Since reads the monotonic clock alone
		latency = time.Since(start)
	} else {
		latency = h.a.now().Sub(start)
	}

	slot, rec := &st.slot, &st.rec
	status := rec.code()
	method, decision, reason := slot.outcome(status)
	if h.cfg.Metrics != nil {
		h.cfg.Metrics.ObserveRequest(audit.RequestMetric{
			AuthMethod: method,
			Decision:   decision,
			Reason:     reason,
			Route:      route,
			Status:     status,
			Latency:    latency,
		})
	}
	if h.cfg.Writer == nil {
		return
	}

	e := audit.Event{
		Time:      start.UTC(),
		RequestID: id,
		Method:    h.cfg.Redactor.Field(r.Method),
		Path:      h.cfg.Redactor.Path(r.URL),
		Route:     h.cfg.Redactor.Field(route),
		Status:    status,
		LatencyMS: float64(latency.Microseconds()) / 1000,
		Bytes:     rec.bytes,
		UserAgent: h.cfg.Redactor.Field(userAgent(r)),
		Headers:   h.cfg.Redactor.Headers(r.Header),
		Country:   slot.country,
		Decision:  decision,
		Reason:    reason,
	}
	if slot.ip.IsValid() {
		e.IP = h.ipNames.String(slot.ip)
	} else if ip, ok := h.a.access.clientIP(r); ok {
		e.IP = h.ipNames.String(ip)
	} else if peer, ok := ipbind.RemoteIP(r); ok {
		e.IP = h.ipNames.String(peer)
	}
	if slot.authed {
		c := &slot.caller
		e.AuthMethod, e.KeyID, e.TokenID = method, c.keyID, c.tokenID
		e.Account, e.Mode, e.Store = c.account, c.mode, c.store
	}
	// Drop counts its loss. Block waits for room even when the client
	// has gone: the request happened and is recorded (Emit uses its
	// context for cancellation only).
	_ = h.cfg.Writer.Emit(context.Background(), e, h.cfg.Policy)
}

// outcome is the auth method, decision and reason of a request that got
// status, after Require (if it ran) left its outcome in s.
func (s *auditSlot) outcome(status int) (method string, d audit.Decision, reason string) {
	if s.authed {
		method = s.caller.method
	}
	switch {
	case s.reason != "": // refused, or authenticated then rate limited
		return method, audit.Deny, s.reason
	case s.authed:
		return method, audit.Allow, "ok"
	case status < 400:
		return "", audit.Allow, "ok"
	default:
		return "", audit.Deny, "http_" + strconv.Itoa(status)
	}
}

// recordOutcome leaves Require's outcome for Audit, when the request is
// audited: in st when Require audits it itself, else in the slot of r's
// context, if any. country is the client's country if a country rule
// looked it up, else empty.
func recordOutcome(st *auditState, r *http.Request, p *keygate.Principal, authed bool, country string, err error) {
	var slot *auditSlot
	if st != nil {
		slot = &st.slot
	} else if s, ok := r.Context().Value(auditSlotKey{}).(*auditSlot); ok {
		slot = s
	} else {
		return
	}
	if authed {
		slot.setCaller(p)
	} else {
		slot.caller, slot.authed = auditCaller{}, false
	}
	slot.country = country
	if err != nil {
		slot.reason = auditReason(err)
	}
	if p.ClientIP.IsValid() {
		slot.ip = p.ClientIP
	}
}

// statusRecorder remembers the status and the body size of a response.
type statusRecorder struct {
	http.ResponseWriter
	// status is the code of the first WriteHeader but an informational
	// one, 200 if the header went out without one (a Write, a Flush
	// first), or unwritten before either: one word, where a flag beside
	// it would take another (see auditState).
	status int
	bytes  int64
}

// unwritten is statusRecorder.status before the header is written: no
// status code (net/http's writers panic on a code outside 100 to 999);
// only a WriteHeader(math.MinInt) would be taken for it.
const unwritten = math.MinInt

// code returns the response's status: the recorded one, or 200 if the
// header has not been written (as net/http will then send it).
func (s *statusRecorder) code() int {
	if s.status == unwritten {
		return http.StatusOK
	}
	return s.status
}

// wrote records that the header went out, with status 200 unless
// WriteHeader gave another.
func (s *statusRecorder) wrote() {
	if s.status == unwritten {
		s.status = http.StatusOK
	}
}

// WriteHeader records code, unless the header went out already or code
// is informational (1xx but 101 Switching Protocols): net/http sends
// those at once and lets the handler write its final header after.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == unwritten && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote()
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// WriteString implements io.StringWriter, so that io.WriteString to the
// response keeps the underlying writer's own (net/http's writes the
// string without converting it to a new []byte), and counts the bytes.
func (s *statusRecorder) WriteString(str string) (int, error) {
	s.wrote()
	n, err := io.WriteString(s.ResponseWriter, str)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush implements http.Flusher for handlers that assert it (streaming
// responses): it flushes the underlying writer, when that can.
func (s *statusRecorder) Flush() {
	s.wrote() // a flush sends the header, with the status so far
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker for handlers that assert it: it hijacks
// the underlying connection, or fails with http.ErrNotSupported.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// ReadFrom implements io.ReaderFrom, so that io.Copy to the response keeps
// the underlying writer's fast path, and counts the bytes.
func (s *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	s.wrote()
	n, err := io.Copy(s.ResponseWriter, src)
	s.bytes += n
	return n, err
}

// validRequestID reports whether an incoming X-Request-Id may be kept: 1
// to 128 printable ASCII characters without spaces.
func validRequestID(id string) bool {
	return id != "" && len(id) <= 128 && validate.PrintableNoSpace(id)
}

// Request IDs: 26 characters of base32 (the shape of rand.Text), 130
// random bits each. A request ID only has to be unique, not unpredictable,
// so the bits come from the runtime's fast generator rather than
// crypto/rand. The IDs are made requestIDChunk at a time, in one array
// that each is a view of, with the X-Request-Id header's value slice of
// each: one allocation, not one or two per request (an ID held, in a
// response header or an event, keeps its chunk's 1.3 KB).
const (
	requestIDLen   = 26
	requestIDChunk = 32
)

// requestIDs is the chunk that newRequestID hands out IDs from.
var requestIDs atomic.Pointer[idChunk]

// idChunk is requestIDChunk request IDs, of which the first next are
// handed out (next may run past the end, when the chunk is spent). ids
// is never written once the chunk is published: the IDs are string views
// of it (strbytes.String), and the chunk is all they keep alive.
// values[i] is the i-th ID's header value slice's element, set when it is
// handed out, and from then on the i-th request's alone.
type idChunk struct {
	ids    [requestIDChunk * requestIDLen]byte
	values [requestIDChunk]string
	next   atomic.Uint32
}

// newRequestID returns a request ID never returned before, as the value
// slice of an X-Request-Id header (one element, at full capacity): a
// slot of the ID's chunk that the caller alone holds, which it may set to
// another ID (an incoming one it trusts).
func newRequestID() []string {
	for {
		c := requestIDs.Load()
		if c != nil {
			if i := c.next.Add(1) - 1; i < requestIDChunk {
				c.values[i] = strbytes.String(c.ids[i*requestIDLen : (i+1)*requestIDLen])
				return c.values[i : i+1 : i+1]
			}
		}
		// Spent (or none yet): replace it, unless another request has.
		requestIDs.CompareAndSwap(c, newIDChunk())
	}
}

// newIDChunk returns a chunk of fresh request IDs.
func newIDChunk() *idChunk {
	c := &idChunk{}
	// Each character takes 5 bits of a random word, 12 from each (60 of
	// its 64 bits), so that each is any of the 32 with equal chance.
	b := c.ids[:]
	for len(b) >= 12 {
		x := rand.Uint64()
		b = b[:len(b):len(b)]
		_ = b[11]
		b[0], b[1], b[2], b[3] = idChar(x), idChar(x>>5), idChar(x>>10), idChar(x>>15)
		b[4], b[5], b[6], b[7] = idChar(x>>20), idChar(x>>25), idChar(x>>30), idChar(x>>35)
		b[8], b[9], b[10], b[11] = idChar(x>>40), idChar(x>>45), idChar(x>>50), idChar(x>>55)
		b = b[12:]
	}
	x := rand.Uint64()
	for i := range b {
		b[i] = idChar(x)
		x >>= 5
	}
	return c
}

// idChar is the request ID character of the low 5 bits of x: base32.
func idChar(x uint64) byte {
	return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[x&31]
}

// ipNameCache holds the formatted form of recently seen client addresses,
// so that an event for a client seen shortly before reuses it rather than
// formatting (and allocating) it again: one slot per hash of the address,
// the newest address of that hash in it. Safe for concurrent use.
type ipNameCache struct {
	slots [64]atomic.Pointer[ipName]
}

type ipName struct {
	ip   netip.Addr
	name string
}

// String returns ip.String().
func (c *ipNameCache) String(ip netip.Addr) string {
	a := ip.As16()
	h := binary.LittleEndian.Uint64(a[:8]) ^ binary.LittleEndian.Uint64(a[8:])
	slot := &c.slots[(h*0x9e3779b97f4a7c15)>>58]
	if n := slot.Load(); n != nil && n.ip == ip {
		return n.name
	}
	n := &ipName{ip: ip, name: ip.String()}
	slot.Store(n)
	return n.name
}

// userAgent returns r.UserAgent(), looking the header up by its canonical
// name without Header.Get's check of the name.
func userAgent(r *http.Request) string {
	if v := r.Header["User-Agent"]; len(v) > 0 {
		return v[0]
	}
	return ""
}
