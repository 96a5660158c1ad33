package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
)

type keyCreateRequest struct {
	Account          string          `json:"account"`
	Mode             string          `json:"mode"`
	Kind             string          `json:"kind"`
	Name             string          `json:"name"`
	Stores           []string        `json:"stores"`
	Permissions      []string        `json:"permissions"`
	Roles            []string        `json:"roles"`
	AllowedIPs       []string        `json:"allowed_ips"`
	DeniedIPs        []string        `json:"denied_ips"`
	AllowedCountries []string        `json:"allowed_countries"`
	DeniedCountries  []string        `json:"denied_countries"`
	Expires          json.RawMessage `json:"expires"`
}

// checkedGrant is what create requests of keys and HMAC credentials
// share, validated: the new credential's grant (with the account's ID and
// package), its name, and its account.
type checkedGrant struct {
	grant   keygate.Grant
	name    string
	account account.Account
}

// checkGrant validates the members of a create request that keys and HMAC
// credentials share, and looks the account up: an unknown account is a
// field error (the request names it; the route exists).
func (h *Handler) checkGrant(r *http.Request, fe fieldErrors, req *keyCreateRequest) (checkedGrant, error) {
	checkIdent(fe, "account", req.Account, true)
	g := checkedGrant{name: req.Name, grant: keygate.Grant{Mode: checkMode(fe, req.Mode), Stores: req.Stores,
		AllowedIPs: req.AllowedIPs, DeniedIPs: req.DeniedIPs, AllowedCountries: req.AllowedCountries, DeniedCountries: req.DeniedCountries}}
	checkName(fe, "name", req.Name)
	checkIdents(fe, "stores", req.Stores)
	checkPermissions(fe, req.Permissions)
	checkIPs(fe, "allowed_ips", req.AllowedIPs)
	checkIPs(fe, "denied_ips", req.DeniedIPs)
	checkCountries(fe, "allowed_countries", req.AllowedCountries)
	checkCountries(fe, "denied_countries", req.DeniedCountries)
	g.grant.Permissions = h.expandRoles(fe, req.Permissions, req.Roles)
	if acct, ok := confinedTo(r.Context()); ok && req.Account != acct {
		// Another account, for a caller confined to one, does not exist.
		if _, bad := fe["account"]; !bad {
			fe.add("account", "no account has this ID")
		}
	}
	if _, ok := fe["account"]; !ok {
		a, err := h.cfg.Accounts.Get(r.Context(), req.Account)
		switch {
		case errors.Is(err, account.ErrNotFound):
			fe.add("account", "no account has this ID")
		case err != nil:
			return checkedGrant{}, err
		}
		g.account = a
		g.grant.Account, g.grant.Package = a.ID, a.Package
	}
	return g, nil
}

// createKeys creates a publishable/secret pair, or one key of the kind
// asked for, with the account's package.
func (h *Handler) createKeys(r *http.Request, body []byte) (result, error) {
	var req keyCreateRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	kind := keygate.Kind(req.Kind)
	if req.Kind != "" && !kind.Valid() {
		fe.add("kind", msgKind)
	}
	expires, _ := h.parseExpires(fe, req.Expires)
	g, err := h.checkGrant(r, fe, &req)
	if err != nil {
		return result{}, err
	}
	if err := fe.err(); err != nil {
		return result{}, err
	}
	if err := h.checkGives(r.Context(), req.Permissions, g.grant.Permissions, g.account.Package); err != nil {
		return result{}, err
	}
	p := apikey.CreateParams{
		Grant: g.grant, Name: g.name, Expires: expires,
	}
	ctx := r.Context()
	prefix := h.cfg.Keys.Prefix()
	var out, replay KeyPair
	create := func(k keygate.Kind) (*Key, error) {
		p.Kind = k
		key, rec, err := h.cfg.Keys.Create(ctx, p)
		if err != nil {
			return nil, err
		}
		j := h.keyJSON(ctx, rec, prefix)
		j.Key = key.Reveal()
		return j, nil
	}
	switch kind {
	case keygate.KindPublishable:
		out.Publishable, err = create(kind)
	case keygate.KindSecret:
		out.Secret, err = create(kind)
	default:
		if out.Publishable, err = create(keygate.KindPublishable); err != nil {
			break
		}
		if out.Secret, err = create(keygate.KindSecret); err != nil {
			// Do not leave half a pair behind.
			_, _ = h.cfg.Keys.Revoke(ctx, out.Publishable.ID)
		}
	}
	if err != nil {
		return result{}, err
	}
	replay.Publishable, replay.Secret = out.Publishable.withoutKey(), out.Secret.withoutKey()
	return result{status: http.StatusCreated, body: out, replay: replay}, nil
}

func (h *Handler) listKeys(r *http.Request, _ []byte) (result, error) {
	q, err := parseQuery(r, "account", "mode", "status", "kind", "expires_before", "limit", "cursor")
	if err != nil {
		return result{}, err
	}
	limit, after, err := pageParams(q, cursorKeys)
	if err != nil {
		return result{}, err
	}
	f := apikey.ListFilter{AfterCreated: after.created, AfterID: after.id, Limit: limit + 1}
	if s, ok := q["account"]; ok {
		if !validID(s) {
			return result{}, invalidRequest("account " + msgIdent)
		}
		f.Account = s
	}
	if s, ok := q["mode"]; ok {
		if f.Mode = keygate.Mode(s); !f.Mode.Valid() {
			return result{}, invalidRequest("mode " + msgMode)
		}
	}
	if s, ok := q["status"]; ok {
		switch f.Status = apikey.Status(s); f.Status {
		case apikey.StatusActive, apikey.StatusPendingReview, apikey.StatusRevoked:
		default:
			return result{}, invalidRequest(`status must be "active", "pending_review" or "revoked"`)
		}
	}
	if s, ok := q["kind"]; ok {
		if f.Kind = keygate.Kind(s); !f.Kind.Valid() {
			return result{}, invalidRequest(`kind must be "pk" or "sk"`)
		}
	}
	if s, ok := q["expires_before"]; ok {
		if f.ExpiresBefore, err = time.Parse(time.RFC3339, s); err != nil {
			return result{}, invalidRequest("expires_before must be an RFC 3339 time")
		}
	}
	recs, err := h.cfg.Keys.List(r.Context(), f)
	if err != nil {
		return result{}, err
	}
	prefix := h.cfg.Keys.Prefix()
	out := List[*Key]{Data: make([]*Key, 0, min(len(recs), limit))}
	for i, rec := range recs {
		if i == limit {
			out.NextCursor = encodeCursor(cursor{kind: cursorKeys, created: recs[i-1].Created, id: recs[i-1].ID})
			break
		}
		out.Data = append(out.Data, h.keyJSON(r.Context(), rec, prefix))
	}
	return result{status: http.StatusOK, body: out}, nil
}

// keyID returns the {id} of a key route, or 404 for one that no key could
// have.
func keyID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return "", notFound("no API key has this ID")
	}
	return id, nil
}

func (h *Handler) getKey(r *http.Request, _ []byte) (result, error) {
	id, err := keyID(r)
	if err != nil {
		return result{}, err
	}
	if _, err := parseQuery(r); err != nil {
		return result{}, err
	}
	rec, err := h.cfg.Keys.Get(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return h.key(r.Context(), rec, http.StatusOK), nil
}

func (h *Handler) key(ctx context.Context, rec apikey.Record, status int) result {
	return result{status: status, body: h.keyJSON(ctx, rec, h.cfg.Keys.Prefix())}
}

type keyUpdateRequest struct {
	Name             *string         `json:"name"`
	Stores           *[]string       `json:"stores"`
	Permissions      *[]string       `json:"permissions"`
	AllowedIPs       *[]string       `json:"allowed_ips"`
	DeniedIPs        *[]string       `json:"denied_ips"`
	AllowedCountries *[]string       `json:"allowed_countries"`
	DeniedCountries  *[]string       `json:"denied_countries"`
	Expires          json.RawMessage `json:"expires"`
}

// updateKey changes a key's metadata. Absent members (and null ones, but
// for expires, where null removes the expiry) are left as they are; an
// empty list clears one.
func (h *Handler) updateKey(r *http.Request, body []byte) (result, error) {
	id, err := keyID(r)
	if err != nil {
		return result{}, err
	}
	var req keyUpdateRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	c := apikey.Changes{Name: req.Name, Stores: req.Stores, Permissions: req.Permissions, AllowedIPs: req.AllowedIPs,
		DeniedIPs: req.DeniedIPs, AllowedCountries: req.AllowedCountries, DeniedCountries: req.DeniedCountries}
	if req.Name != nil {
		checkName(fe, "name", *req.Name)
	}
	if req.Stores != nil {
		checkIdents(fe, "stores", *req.Stores)
	}
	if req.Permissions != nil {
		checkPermissions(fe, *req.Permissions)
	}
	if req.AllowedIPs != nil {
		checkIPs(fe, "allowed_ips", *req.AllowedIPs)
	}
	if req.DeniedIPs != nil {
		checkIPs(fe, "denied_ips", *req.DeniedIPs)
	}
	if req.AllowedCountries != nil {
		checkCountries(fe, "allowed_countries", *req.AllowedCountries)
	}
	if req.DeniedCountries != nil {
		checkCountries(fe, "denied_countries", *req.DeniedCountries)
	}
	if t, ok := h.parseExpires(fe, req.Expires); ok {
		c.Expires = &t
	}
	if err := fe.err(); err != nil {
		return result{}, err
	}
	ctx := r.Context()
	if isSelf(ctx, id) {
		return result{}, errSelf
	}
	// The caller must hold what the key may do, and what it will.
	rec, err := h.cfg.Keys.Get(ctx, id)
	if err != nil {
		return result{}, err
	}
	if err := h.checkHolds(ctx, keyPrincipal(rec)); err != nil {
		return result{}, err
	}
	if req.Permissions != nil {
		pkg, err := h.currentPackage(ctx, rec.Account, rec.Package)
		if err != nil {
			return result{}, err
		}
		if err := h.checkGives(ctx, *req.Permissions, *req.Permissions, pkg); err != nil {
			return result{}, err
		}
	}
	if c == (apikey.Changes{}) {
		// Nothing to change: no update, no event.
		if rec.Status == apikey.StatusRevoked {
			return result{}, apikey.ErrRevoked
		}
	} else if rec, err = h.cfg.Keys.Update(ctx, id, c); err != nil {
		return result{}, err
	}
	return h.key(r.Context(), rec, http.StatusOK), nil
}

type rotateRequest struct {
	GraceSeconds *int64 `json:"grace_seconds"`
}

func (h *Handler) rotateKey(r *http.Request, body []byte) (result, error) {
	id, err := keyID(r)
	if err != nil {
		return result{}, err
	}
	var req rotateRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	grace := checkGrace(fe, req.GraceSeconds)
	if err := fe.err(); err != nil {
		return result{}, err
	}
	// A rotation reveals a new secret: only to a caller that holds
	// everything the key may do, and never to the key itself.
	ctx := r.Context()
	if isSelf(ctx, id) {
		return result{}, errSelf
	}
	cur, err := h.cfg.Keys.Get(ctx, id)
	if err != nil {
		return result{}, err
	}
	if err := h.checkHolds(ctx, keyPrincipal(cur)); err != nil {
		return result{}, err
	}
	key, rec, err := h.cfg.Keys.Rotate(ctx, id, grace)
	if err != nil {
		return result{}, err
	}
	// The plaintext is in the response only, never in the replay.
	j := h.keyJSON(ctx, rec, h.cfg.Keys.Prefix())
	shown := *j
	shown.Key = key.Reveal()
	return result{status: http.StatusOK, body: &shown, replay: j}, nil
}

type emptyRequest struct{}

// keyAction serves the routes that take no parameters: the body is empty
// or {}.
func (h *Handler) keyAction(r *http.Request, body []byte, do func(*http.Request, string) (apikey.Record, error)) (result, error) {
	id, err := keyID(r)
	if err != nil {
		return result{}, err
	}
	if err := decodeJSON(body, &emptyRequest{}); err != nil {
		return result{}, err
	}
	rec, err := do(r, id)
	if err != nil {
		return result{}, err
	}
	return h.key(r.Context(), rec, http.StatusOK), nil
}

func (h *Handler) revokeKey(r *http.Request, body []byte) (result, error) {
	return h.keyAction(r, body, func(r *http.Request, id string) (apikey.Record, error) {
		return h.cfg.Keys.Revoke(r.Context(), id)
	})
}

func (h *Handler) disableKey(r *http.Request, body []byte) (result, error) {
	return h.keyAction(r, body, func(r *http.Request, id string) (apikey.Record, error) {
		if isSelf(r.Context(), id) {
			return apikey.Record{}, errSelf
		}
		return h.cfg.Keys.Disable(r.Context(), id)
	})
}

func (h *Handler) enableKey(r *http.Request, body []byte) (result, error) {
	return h.keyAction(r, body, func(r *http.Request, id string) (apikey.Record, error) {
		ctx := r.Context()
		if isSelf(ctx, id) {
			return apikey.Record{}, errSelf
		}
		// Enabling gives a key its rights back: the caller must hold
		// them, or a disabled (say, compromised) key of a more powerful
		// caller could be restored. Disabling and revoking need no such
		// check: anyone who may write may stop a key.
		rec, err := h.cfg.Keys.Get(ctx, id)
		if err != nil {
			return apikey.Record{}, err
		}
		if err := h.checkHolds(ctx, keyPrincipal(rec)); err != nil {
			return apikey.Record{}, err
		}
		return h.cfg.Keys.Enable(ctx, id)
	})
}

// approveKey activates a live key pending review, recording the caller
// (its key ID, or subject) as the approver. With Config.SeparateReview,
// the caller that created the key, or last set its permissions or
// package, may not approve it.
func (h *Handler) approveKey(r *http.Request, body []byte) (result, error) {
	return h.keyAction(r, body, func(r *http.Request, id string) (apikey.Record, error) {
		ctx := r.Context()
		who := caller(ctx)
		if isSelf(ctx, id) {
			return apikey.Record{}, errSelf
		}
		if who == "" {
			return apikey.Record{}, errServer // Require always names the caller
		}
		if h.cfg.SeparateReview {
			// Checked atomically with the approval.
			return h.cfg.Keys.ApproveSeparately(ctx, id, who)
		}
		return h.cfg.Keys.Approve(ctx, id, who)
	})
}
