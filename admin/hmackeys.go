package admin

import (
	"encoding/json"
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// errNoHMAC answers the /hmac-keys routes of a handler without
// Config.HMAC.
var errNoHMAC = notFound("HMAC credentials are not enabled on this server")

func (h *Handler) createHMAC(r *http.Request, body []byte) (result, error) {
	if h.cfg.HMAC == nil {
		return result{}, errNoHMAC
	}
	var req hmacCreateRequestJSON
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	fe := fieldErrors{}
	expires, _ := h.parseExpires(fe, req.Expires)
	kr := keyCreateRequest{Account: req.Account, Mode: req.Mode, Name: req.Name, Stores: req.Stores,
		Permissions: req.Permissions, Roles: req.Roles, AllowedIPs: req.AllowedIPs, DeniedIPs: req.DeniedIPs,
		AllowedCountries: req.AllowedCountries, DeniedCountries: req.DeniedCountries}
	g, err := h.checkGrant(r, fe, &kr)
	if err != nil {
		return result{}, err
	}
	if err := fe.err(); err != nil {
		return result{}, err
	}
	if err := h.checkGives(r.Context(), req.Permissions, g.grant.Permissions, g.account.Package); err != nil {
		return result{}, err
	}
	secret, c, err := h.cfg.HMAC.Create(r.Context(), httpsig.CreateParams{
		Grant: g.grant, Name: g.name, Expires: expires,
	})
	if err != nil {
		return result{}, err
	}
	return withSecret(h.hmacJSON(r.Context(), c), secret, http.StatusCreated), nil
}

// hmacCreateRequestJSON is the body of POST /hmac-keys: a key's, without
// kind.
type hmacCreateRequestJSON struct {
	Account          string          `json:"account"`
	Mode             string          `json:"mode"`
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

// withSecret is the response of create and rotate: the credential with its
// plaintext secret, and for replays without it.
func withSecret(c *HMACKey, secret httpsig.Secret, status int) result {
	shown := *c
	shown.Secret = secret.Base64()
	return result{status: status, body: &shown, replay: c.withoutSecret()}
}

func (h *Handler) listHMAC(r *http.Request, _ []byte) (result, error) {
	if h.cfg.HMAC == nil {
		return result{}, errNoHMAC
	}
	q, err := parseQuery(r, "account", "mode", "limit", "cursor")
	if err != nil {
		return result{}, err
	}
	limit, after, err := pageParams(q, cursorHMAC)
	if err != nil {
		return result{}, err
	}
	f := httpsig.ListFilter{AfterCreated: after.created, AfterID: after.id, Limit: limit + 1}
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
	cs, err := h.cfg.HMAC.List(r.Context(), f)
	if err != nil {
		return result{}, err
	}
	out := List[*HMACKey]{Data: make([]*HMACKey, 0, min(len(cs), limit))}
	for i, c := range cs {
		if i == limit {
			out.NextCursor = encodeCursor(cursor{kind: cursorHMAC, created: cs[i-1].Created, id: cs[i-1].KeyID})
			break
		}
		out.Data = append(out.Data, h.hmacJSON(r.Context(), c))
	}
	return result{status: http.StatusOK, body: out}, nil
}

// hmacID returns the {id} of an HMAC route, or 404 for one that no
// credential could have.
func (h *Handler) hmacID(r *http.Request) (string, error) {
	if h.cfg.HMAC == nil {
		return "", errNoHMAC
	}
	id := r.PathValue("id")
	if !validID(id) || len(id) > httpsig.MaxKeyIDLen {
		return "", notFound("no HMAC credential has this key ID")
	}
	return id, nil
}

func (h *Handler) getHMAC(r *http.Request, _ []byte) (result, error) {
	id, err := h.hmacID(r)
	if err != nil {
		return result{}, err
	}
	if _, err := parseQuery(r); err != nil {
		return result{}, err
	}
	c, err := h.cfg.HMAC.Get(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: h.hmacJSON(r.Context(), c)}, nil
}

func (h *Handler) rotateHMAC(r *http.Request, body []byte) (result, error) {
	id, err := h.hmacID(r)
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
	// everything the credential may do, and never to the credential
	// itself.
	ctx := r.Context()
	if isSelf(ctx, id) {
		return result{}, errSelf
	}
	cur, err := h.cfg.HMAC.Get(ctx, id)
	if err != nil {
		return result{}, err
	}
	if err := h.checkHolds(ctx, hmacPrincipal(cur)); err != nil {
		return result{}, err
	}
	secret, c, err := h.cfg.HMAC.Rotate(ctx, id, grace)
	if err != nil {
		return result{}, err
	}
	return withSecret(h.hmacJSON(ctx, c), secret, http.StatusOK), nil
}

func (h *Handler) revokeHMAC(r *http.Request, body []byte) (result, error) {
	id, err := h.hmacID(r)
	if err != nil {
		return result{}, err
	}
	if err := decodeJSON(body, &emptyRequest{}); err != nil {
		return result{}, err
	}
	c, err := h.cfg.HMAC.Revoke(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: h.hmacJSON(r.Context(), c)}, nil
}
