package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/iprule"
)

// IPRule is a service-wide or account IP rule as the API shows it.
type IPRule struct {
	ID string `json:"id"`
	// Account is the account whose credentials the rule applies to;
	// absent for a service-wide rule.
	Account   string    `json:"account,omitempty"`
	Action    string    `json:"action"`
	CIDR      string    `json:"cidr"`
	Note      string    `json:"note,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
}

func ipRuleJSON(r iprule.Rule) IPRule {
	return IPRule{ID: r.ID, Account: r.Account, Action: string(r.Action), CIDR: r.CIDR, Note: r.Note,
		Created: utc(r.Created), CreatedBy: r.CreatedBy}
}

// MaxIPRules is the most IP rules of one scope (the service, or one
// account): POST /ip-rules beyond it answers 409 conflict.
const MaxIPRules = 1000

// errNoIPRules answers the /ip-rules routes when Config.IPRules is nil.
var errNoIPRules = notFound("this service keeps no IP rules")

// Messages of the IP rules' field errors.
const (
	msgAction   = `must be "allow" or "deny"`
	msgConfined = "must be the caller's own account: a caller confined to one account manages only its rules"
)

type ipRuleCreateRequest struct {
	Account string `json:"account"`
	Action  string `json:"action"`
	CIDR    string `json:"cidr"`
	Note    string `json:"note"`
}

// createIPRule adds a service-wide rule (no account) or a rule of an
// account. The prefix is stored in its canonical form.
func (h *Handler) createIPRule(r *http.Request, body []byte) (result, error) {
	if h.cfg.IPRules == nil {
		return result{}, errNoIPRules
	}
	var req ipRuleCreateRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	checkIdent(fe, "account", req.Account, false)
	switch a := iprule.Action(req.Action); {
	case req.Action == "":
		fe.add("action", msgRequired)
	case !a.Valid():
		fe.add("action", msgAction)
	}
	cidr, err := iprule.Canonical(req.CIDR)
	switch {
	case req.CIDR == "":
		fe.add("cidr", msgRequired)
	case err != nil:
		fe.add("cidr", msgIP)
	}
	checkName(fe, "note", req.Note)
	ctx := r.Context()
	if acct, ok := confinedTo(ctx); ok && req.Account != acct {
		fe.add("account", msgConfined)
	}
	if _, bad := fe["account"]; !bad && req.Account != "" {
		_, err := h.cfg.Accounts.Get(ctx, req.Account)
		switch {
		case errors.Is(err, account.ErrNotFound):
			fe.add("account", "no account has this ID")
		case err != nil:
			return result{}, err
		}
	}
	if err := fe.err(); err != nil {
		return result{}, err
	}
	if err := h.checkIPRuleRoom(ctx, req.Account); err != nil {
		return result{}, err
	}
	rule, err := h.cfg.IPRules.Create(ctx, iprule.Rule{ID: iprule.NewID(), Account: req.Account, Action: iprule.Action(req.Action),
		CIDR: cidr, Note: req.Note, Created: h.cfg.Now(), CreatedBy: caller(ctx)})
	if err != nil {
		return result{}, err
	}
	h.report(r, keygate.Change{Action: keygate.ActionIPRuleCreated, Time: h.cfg.Now(), Account: rule.Account})
	return result{status: http.StatusCreated, body: ipRuleJSON(rule)}, nil
}

// checkIPRuleRoom refuses a new rule of the scope acct (empty: the
// service) when it has MaxIPRules already.
func (h *Handler) checkIPRuleRoom(ctx context.Context, acct string) error {
	rules, err := h.cfg.IPRules.List(ctx, iprule.Filter{Account: acct, ServiceWide: acct == ""})
	if err != nil {
		return err
	}
	if len(rules) >= MaxIPRules {
		return conflict("the scope has the most IP rules allowed (1000); delete some first")
	}
	return nil
}

// listIPRules lists the rules, oldest first: all of them, those of one
// account ("account"), or the service-wide ones ("scope=service"). A
// caller confined to one account gets its account's rules alone.
func (h *Handler) listIPRules(r *http.Request, _ []byte) (result, error) {
	if h.cfg.IPRules == nil {
		return result{}, errNoIPRules
	}
	q, err := parseQuery(r, "account", "scope")
	if err != nil {
		return result{}, err
	}
	var f iprule.Filter
	if s, ok := q["scope"]; ok {
		if s != "service" {
			return result{}, invalidRequest(`the scope parameter must be "service"`)
		}
		f.ServiceWide = true
	}
	if s, ok := q["account"]; ok {
		if !validID(s) {
			return result{}, invalidRequest("the account parameter " + msgIdent)
		}
		if f.ServiceWide {
			return result{}, invalidRequest("the account and scope parameters exclude each other")
		}
		f.Account = s
	}
	rules, err := h.cfg.IPRules.List(r.Context(), f)
	if err != nil {
		return result{}, err
	}
	out := List[IPRule]{Data: make([]IPRule, 0, len(rules))}
	for _, rule := range rules {
		out.Data = append(out.Data, ipRuleJSON(rule))
	}
	return result{status: http.StatusOK, body: out}, nil
}

// ipRuleID returns the {id} of an /ip-rules/{id} route.
func (h *Handler) ipRuleID(r *http.Request) (string, error) {
	if h.cfg.IPRules == nil {
		return "", errNoIPRules
	}
	id := r.PathValue("id")
	if !validID(id) {
		return "", notFound("no IP rule has this ID")
	}
	return id, nil
}

// deleteIPRule removes a rule and answers it as it was.
func (h *Handler) deleteIPRule(r *http.Request, _ []byte) (result, error) {
	id, err := h.ipRuleID(r)
	if err != nil {
		return result{}, err
	}
	if _, err := parseQuery(r); err != nil {
		return result{}, err
	}
	rule, err := h.cfg.IPRules.Delete(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	h.report(r, keygate.Change{Action: keygate.ActionIPRuleDeleted, Time: h.cfg.Now(), Account: rule.Account})
	return result{status: http.StatusOK, body: ipRuleJSON(rule)}, nil
}

// confineIPRule answers a call on the rule {id} by a caller confined to
// acct: a rule of another account, or a service-wide one, does not exist
// for it.
func (h *Handler) confineIPRule(r *http.Request, acct string) (outcome, bool) {
	id, err := h.ipRuleID(r)
	if err != nil {
		return outcome{}, false // the route answers itself
	}
	rule, err := h.cfg.IPRules.Get(r.Context(), id)
	switch {
	case errors.Is(err, iprule.ErrNotFound):
		return outcome{}, false
	case err != nil:
		return outcome{err: classify(err)}, true
	case rule.Account != acct:
		return outcome{err: notFound("no IP rule has this ID")}, true
	}
	return outcome{}, false
}
