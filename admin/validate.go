package admin

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/internal/validate"
)

// The field rules, as the validation_failed messages state them. Each
// message is a fixed sentence: the input is never repeated.
const (
	msgRequired = "is required"
	msgIdent    = "must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"
	msgName     = "must be at most 200 bytes of text without control characters"
	msgMode     = `must be "test" or "live"`
	msgKind     = `must be "pk" or "sk" (or absent, for a pair)`
	msgExpires  = "must be an RFC 3339 time in the future, or null"
	msgIP       = "must be an IP address or a CIDR prefix, without host bits or a zone"
	msgCountry  = "must be an ISO 3166-1 alpha-2 code in upper case"
	msgPerm     = "must be a permission: module:action or module:action:entity, in lower case"
	msgRole     = "must name a role the service defines"
	msgGrace    = "must be an integer from 0 to 2592000 (30 days)"
)

// item prefixes msg with the position of the item in a list.
func item(i int, msg string) string { return "item " + strconv.Itoa(i) + " " + msg }

func checkIdent(fe fieldErrors, field, s string, required bool) {
	switch {
	case s == "" && required:
		fe.add(field, msgRequired)
	case s != "" && !validate.Ident(s):
		fe.add(field, msgIdent)
	}
}

func checkName(fe fieldErrors, field, s string) {
	if !validate.Text(s, 200) {
		fe.add(field, msgName)
	}
}

func checkMode(fe fieldErrors, s string) keygate.Mode {
	m := keygate.Mode(s)
	switch {
	case s == "":
		fe.add("mode", msgRequired)
	case !m.Valid():
		fe.add("mode", msgMode)
	}
	return m
}

func checkIdents(fe fieldErrors, field string, list []string) {
	for i, s := range list {
		if !validate.Ident(s) {
			fe.add(field, item(i, msgIdent))
			return
		}
	}
}

func checkIPs(fe fieldErrors, field string, list []string) {
	for i, s := range list {
		if !validate.IPRule(s) {
			fe.add(field, item(i, msgIP))
			return
		}
	}
}

func checkCountries(fe fieldErrors, field string, list []string) {
	for i, s := range list {
		if !validate.CountryCode(s) {
			fe.add(field, item(i, msgCountry))
			return
		}
	}
}

func checkPermissions(fe fieldErrors, list []string) {
	for i, s := range list {
		if _, err := access.ParsePermission(s); err != nil || !validate.PrintableNoSpace(s) {
			fe.add("permissions", item(i, msgPerm))
			return
		}
	}
}

// expandRoles returns perms with the permissions of roles added (in the
// order access.NewGrants gives), or perms itself when there are no roles.
func (h *Handler) expandRoles(fe fieldErrors, perms, roles []string) []string {
	for i, r := range roles {
		if _, ok := h.cfg.Roles[r]; !ok {
			fe.add("roles", item(i, msgRole))
			return perms
		}
	}
	if len(roles) == 0 || len(fe) > 0 {
		return perms
	}
	g, err := access.NewGrants(perms, roles, h.cfg.Roles)
	if err != nil {
		fe.add("roles", msgRole)
		return perms
	}
	return g.Permissions()
}

// parseExpires parses an expires member: absent (nil), null, or an RFC 3339
// time in the future. It returns the time (zero for null) and whether the
// member was present.
func (h *Handler) parseExpires(fe fieldErrors, raw json.RawMessage) (time.Time, bool) {
	if raw == nil {
		return time.Time{}, false
	}
	if string(raw) == "null" {
		return time.Time{}, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		fe.add("expires", msgExpires)
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || !t.After(h.cfg.Now()) {
		fe.add("expires", msgExpires)
		return time.Time{}, true
	}
	return t, true
}

// checkGrace converts grace_seconds to a duration.
func checkGrace(fe fieldErrors, secs *int64) time.Duration {
	if secs == nil {
		return 0
	}
	if *secs < 0 || *secs > int64(MaxGrace/time.Second) {
		fe.add("grace_seconds", msgGrace)
		return 0
	}
	return time.Duration(*secs) * time.Second
}

// validID reports whether id could name a resource: the handler answers
// 404 for anything else without asking a store.
func validID(id string) bool { return validate.Ident(id) }

// checkText validates a free-form filter or token identifier: 1 to max
// printable ASCII characters without spaces.
func checkText(s string, max int) bool {
	return s != "" && len(s) <= max && validate.PrintableNoSpace(s)
}
