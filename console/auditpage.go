package console

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console/consolestore"
)

// auditRoutes registers the audit pages.
func (h *Handler) auditRoutes() {
	h.page("GET /audit", anyone, h.auditList)
	h.page("GET /audit/event", anyone, h.auditEvent)
	h.page("GET /audit/export", anyone, h.auditExport)
}

// auditPageSize is the number of events on one page of the audit list,
// and of each admin API call of an export.
const auditPageSize = admin.MaxLimit

// auditFilterNames are the filters of the audit page, in the order of its
// form; each is the admin API's query parameter of the same name.
var auditFilterNames = []string{"since", "until", "account", "key_id", "decision", "reason", "ip", "action"}

// auditFilter is the audit page's filter form, as the query string holds
// it.
type auditFilter struct {
	Since, Until, Account, KeyID, Decision, Reason, IP, Action string
	// Cursor continues from a previous page.
	Cursor string
}

// auditData is the Data of the audit page.
type auditData struct {
	Enabled bool
	// Owner says that the account filter is the owner's account, fixed.
	Owner  bool
	Filter auditFilter
	Events []auditRow
	// Next is the link to the next (older) page; empty on the last.
	Next string
	// Newest is the link to the first page, when this is another.
	Newest string
	// ExportJSONL and ExportCSV are the links to the exports of the
	// filtered range.
	ExportJSONL, ExportCSV string
	Errors                 map[string]string
}

// auditRow is one event of the list, with the link to its details.
type auditRow struct {
	audit.Event
	// Request names a request event: its route (such as
	// "GET /v1/things/{id}"), else its method and path.
	Request string
	Link    string
}

// requestName is what the list shows of request event e.
func requestName(e audit.Event) string {
	switch {
	case e.Route == "":
		return strings.TrimSpace(e.Method + " " + e.Path)
	case strings.Contains(e.Route, " "):
		return e.Route // a method pattern already
	}
	return strings.TrimSpace(e.Method + " " + e.Route)
}

// readAuditFilter reads the filters from r's query.
func readAuditFilter(r *http.Request) auditFilter {
	q := r.URL.Query()
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return auditFilter{Since: g("since"), Until: g("until"), Account: g("account"), KeyID: g("key_id"),
		Decision: g("decision"), Reason: g("reason"), IP: g("ip"), Action: g("action"), Cursor: q.Get("cursor")}
}

// values returns f's filters as they appear in the page's links (without
// the cursor).
func (f auditFilter) values() url.Values {
	v := url.Values{}
	for _, p := range []struct{ k, v string }{{"since", f.Since}, {"until", f.Until}, {"account", f.Account},
		{"key_id", f.KeyID}, {"decision", f.Decision}, {"reason", f.Reason}, {"ip", f.IP}, {"action", f.Action}} {
		if p.v != "" {
			v.Set(p.k, p.v)
		}
	}
	return v
}

// apiQuery returns the admin API's query for f: the times in RFC 3339,
// the account left to the admin API's confinement for an owner. A time
// that does not parse is a field error.
func (f auditFilter) apiQuery(owner bool, limit int, cursor string) (url.Values, map[string]string) {
	v := f.values()
	if owner {
		v.Del("account")
	}
	errs := map[string]string{}
	for _, k := range []string{"since", "until"} {
		s := v.Get(k)
		if s == "" {
			continue
		}
		t, ok := parseFormTime(s)
		if !ok {
			errs[k] = "Enter a time as YYYY-MM-DD HH:MM (UTC) or in RFC 3339."
			continue
		}
		v.Set(k, t.Format(time.RFC3339))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	v.Set("limit", strconv.Itoa(limit))
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return v, nil
}

// parseFormTime reads a time of the filter form: the value of a
// datetime-local input (taken as UTC), a date, or RFC 3339.
func parseFormTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// auditErrors maps an admin API failure of GET /audit to the filter
// form's errors: a description that names a filter goes to its field.
func (h *Handler) auditErrors(resp admin.Response) map[string]string {
	errs := h.formErrors(resp)
	if errs == nil {
		return nil
	}
	for _, k := range append(auditFilterNames, "cursor") {
		if strings.HasPrefix(errs[""], k+" ") {
			errs[k] = errs[""]
		}
	}
	return errs
}

// queryAudit fetches one page of events for f through the admin API.
func (h *Handler) queryAudit(r *http.Request, s *signedIn, f auditFilter, limit int, cursor string) (admin.List[audit.Event], admin.Response, map[string]string) {
	q, errs := f.apiQuery(s.User.Role != consolestore.RoleOperator, limit, cursor)
	if errs != nil {
		return admin.List[audit.Event]{}, admin.Response{Status: http.StatusBadRequest}, errs
	}
	resp := h.call(r, s, http.MethodGet, "/audit?"+q.Encode(), nil)
	if resp.Err != nil {
		return admin.List[audit.Event]{}, resp, h.auditErrors(resp)
	}
	list, _ := resp.Body.(admin.List[audit.Event])
	return list, resp, nil
}

// auditEnabled reports whether the audit history is on, and if not answers
// with the audit page saying so.
func (h *Handler) auditEnabled(w http.ResponseWriter, r *http.Request, s *signedIn) bool {
	if h.cfg.History != nil {
		return true
	}
	h.render(w, r, s, http.StatusOK, "audit.html", auditData{Owner: s.User.Role != consolestore.RoleOperator})
	return false
}

// auditList shows one page of the audit history, newest first.
func (h *Handler) auditList(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if !h.auditEnabled(w, r, s) {
		return
	}
	f := readAuditFilter(r)
	d := auditData{Enabled: true, Owner: s.User.Role != consolestore.RoleOperator, Filter: f}
	if d.Owner {
		d.Filter.Account = s.User.Account
	}
	vals := f.values()
	if d.Owner {
		vals.Del("account")
	}
	base := h.cfg.Prefix + "/audit"
	link := func(path string, extra ...string) string {
		v := url.Values{}
		for k, vs := range vals {
			v[k] = vs
		}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		if enc := v.Encode(); enc != "" {
			return path + "?" + enc
		}
		return path
	}
	d.ExportJSONL = link(base+"/export", "format", "jsonl")
	d.ExportCSV = link(base+"/export", "format", "csv")
	if f.Cursor != "" {
		d.Newest = link(base)
	}
	list, resp, errs := h.queryAudit(r, s, f, auditPageSize, f.Cursor)
	if errs != nil {
		d.Errors = errs
		h.render(w, r, s, errorStatus(resp), "audit.html", d)
		return
	}
	for _, e := range list.Data {
		row := auditRow{Event: e, Request: requestName(e)}
		if e.Seq != 0 {
			if f.Cursor != "" {
				row.Link = link(base+"/event", "seq", strconv.FormatUint(e.Seq, 10), "cursor", f.Cursor)
			} else {
				row.Link = link(base+"/event", "seq", strconv.FormatUint(e.Seq, 10))
			}
		}
		d.Events = append(d.Events, row)
	}
	if list.NextCursor != "" {
		d.Next = link(base, "cursor", list.NextCursor)
	}
	h.render(w, r, s, http.StatusOK, "audit.html", d)
}

// auditEventData is the Data of the event page.
type auditEventData struct {
	Event audit.Event
	// Headers are the event's recorded headers, by name.
	Headers []headerField
	// Back is the link to the list page the event was on.
	Back string
}

// headerField is one recorded header.
type headerField struct{ Name, Value string }

// auditEvent shows one event in full: the one numbered seq on the page
// that the filters and cursor select (the history has no lookup by
// number, and the page is what the list showed).
func (h *Handler) auditEvent(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if !h.auditEnabled(w, r, s) {
		return
	}
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if err != nil || seq == 0 {
		h.notFound(w, r, s)
		return
	}
	f := readAuditFilter(r)
	list, _, errs := h.queryAudit(r, s, f, auditPageSize, f.Cursor)
	if errs != nil {
		h.notFound(w, r, s)
		return
	}
	for _, e := range list.Data {
		if e.Seq != seq {
			continue
		}
		back := f.values()
		if s.User.Role != consolestore.RoleOperator {
			back.Del("account")
		}
		if f.Cursor != "" {
			back.Set("cursor", f.Cursor)
		}
		d := auditEventData{Event: e, Back: h.cfg.Prefix + "/audit"}
		if enc := back.Encode(); enc != "" {
			d.Back += "?" + enc
		}
		for k, v := range e.Headers {
			d.Headers = append(d.Headers, headerField{k, v})
		}
		slices.SortFunc(d.Headers, func(a, b headerField) int { return strings.Compare(a.Name, b.Name) })
		h.render(w, r, s, http.StatusOK, "auditevent.html", d)
		return
	}
	h.notFound(w, r, s)
}

// csvColumns are the columns of the CSV export: the members of an event's
// JSON form, headers as one JSON object.
var csvColumns = []string{"seq", "time", "action", "actor", "decision", "reason", "status", "method", "path", "route",
	"ip", "country", "auth_method", "key_id", "token_id", "subject", "account", "mode", "store", "request_id",
	"latency_ms", "bytes", "user_agent", "headers", "gap"}

// csvRow is e as a row of csvColumns. A cell that a spreadsheet would take
// for a formula (one starting with = + - @, tab or CR) is prefixed with
// an apostrophe.
func csvRow(e audit.Event) []string {
	var hdr string
	if len(e.Headers) > 0 {
		b, _ := json.Marshal(e.Headers)
		hdr = string(b)
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	lat := ""
	if e.LatencyMS != 0 {
		lat = strconv.FormatFloat(e.LatencyMS, 'f', -1, 64)
	}
	row := []string{num(int64(e.Seq)), e.Time.UTC().Format(time.RFC3339Nano), e.Action, e.Actor, string(e.Decision), e.Reason,
		num(int64(e.Status)), e.Method, e.Path, e.Route, e.IP, e.Country, e.AuthMethod, e.KeyID, e.TokenID, e.Subject,
		e.Account, e.Mode, e.Store, e.RequestID, lat, num(e.Bytes), e.UserAgent, hdr, num(int64(e.Gap))}
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}

// auditExport streams the events the filters select, newest first, as
// JSON Lines (format=jsonl) or CSV (format=csv): page by page through the
// admin API, each page written and flushed before the next is read, so
// that an export of any size holds one page in memory. A failure before
// the first byte answers with the audit page's error; a failure later
// aborts the response, so that a truncated file never looks complete.
func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if !h.auditEnabled(w, r, s) {
		return
	}
	format := r.URL.Query().Get("format")
	if format != "jsonl" && format != "csv" {
		h.refuse(w, r, s, http.StatusBadRequest, `The export format must be "jsonl" or "csv".`)
		return
	}
	f := readAuditFilter(r)
	list, resp, errs := h.queryAudit(r, s, f, auditPageSize, "")
	if errs != nil {
		d := auditData{Enabled: true, Owner: s.User.Role != consolestore.RoleOperator, Filter: f, Errors: errs}
		h.render(w, r, s, errorStatus(resp), "audit.html", d)
		return
	}
	name := "keygate-audit-" + h.cfg.Now().UTC().Format("20060102T150405Z")
	hd := w.Header()
	if format == "jsonl" {
		hd.Set("Content-Type", "application/x-ndjson; charset=utf-8")
		hd.Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
	} else {
		hd.Set("Content-Type", "text/csv; charset=utf-8")
		hd.Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var write func([]audit.Event) error
	if format == "jsonl" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(es []audit.Event) error {
			for i := range es {
				if err := enc.Encode(&es[i]); err != nil {
					return err
				}
			}
			return nil
		}
	} else {
		cw := csv.NewWriter(w)
		if err := cw.Write(csvColumns); err != nil {
			panic(http.ErrAbortHandler)
		}
		write = func(es []audit.Event) error {
			for _, e := range es {
				if err := cw.Write(csvRow(e)); err != nil {
					return err
				}
			}
			cw.Flush()
			return cw.Error()
		}
	}
	for {
		if err := write(list.Data); err != nil {
			panic(http.ErrAbortHandler) // the client went away
		}
		_ = rc.Flush()
		if list.NextCursor == "" {
			return
		}
		if r.Context().Err() != nil {
			panic(http.ErrAbortHandler)
		}
		var errs map[string]string
		if list, _, errs = h.queryAudit(r, s, f, auditPageSize, list.NextCursor); errs != nil {
			panic(http.ErrAbortHandler) // never a truncated file that looks whole
		}
	}
}
