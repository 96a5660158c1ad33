package admin

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/validate"
)

// maxAuditCursorLen bounds the audit cursor passed through to the
// history.
const maxAuditCursorLen = 512

// queryAudit answers GET /audit: one page of the history, newest first,
// with the history's own cursor.
func (h *Handler) queryAudit(r *http.Request, _ []byte) (result, error) {
	if h.cfg.Audit == nil {
		return result{}, notFound("the audit history is not enabled on this server")
	}
	q, err := parseQuery(r, "key_id", "account", "mode", "store", "ip", "decision", "reason", "action",
		"since", "until", "limit", "cursor")
	if err != nil {
		return result{}, err
	}
	s, ok := q["limit"]
	limit, err := parseLimit(s, ok)
	if err != nil {
		return result{}, err
	}
	aq := audit.Query{Limit: limit}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"key_id", &aq.KeyID}, {"account", &aq.Account}, {"store", &aq.Store}, {"reason", &aq.Reason}, {"action", &aq.Action}} {
		if v, ok := q[p.name]; ok {
			if !checkText(v, 256) {
				return result{}, invalidRequest(p.name + " must be 1 to 256 printable ASCII characters without spaces")
			}
			*p.dst = v
		}
	}
	if v, ok := q["mode"]; ok {
		if !keygate.Mode(v).Valid() {
			return result{}, invalidRequest("mode " + msgMode)
		}
		aq.Mode = v
	}
	if v, ok := q["decision"]; ok {
		if v != string(audit.Allow) && v != string(audit.Deny) {
			return result{}, invalidRequest(`decision must be "allow" or "deny"`)
		}
		aq.Decision = audit.Decision(v)
	}
	if v, ok := q["ip"]; ok {
		ip, err := netip.ParseAddr(v)
		if err != nil || ip.Zone() != "" {
			return result{}, invalidRequest("ip must be an IP address")
		}
		aq.IP = ip.String()
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		if v, ok := q[p.name]; ok {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return result{}, invalidRequest(p.name + " must be an RFC 3339 time")
			}
			*p.dst = t
		}
	}
	if v, ok := q["cursor"]; ok {
		if v == "" || len(v) > maxAuditCursorLen || !validate.PrintableNoSpace(v) {
			return result{}, errBadCursor
		}
		aq.Cursor = v
	}
	page, err := h.cfg.Audit.Query(r.Context(), aq)
	if errors.Is(err, audit.ErrBadCursor) {
		return result{}, errBadCursor
	}
	if err != nil {
		return result{}, err
	}
	out := List[audit.Event]{Data: page.Events, NextCursor: page.Next}
	if out.Data == nil {
		out.Data = []audit.Event{}
	}
	return result{status: http.StatusOK, body: out}, nil
}
