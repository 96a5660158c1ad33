package admin

import (
	"errors"
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

type tokenRevokeRequest struct {
	JTI     *string `json:"jti"`
	Subject *string `json:"subject"`
	Family  *string `json:"family"`
}

// maxTokenIDLen bounds a jti, subject or family ID.
const maxTokenIDLen = 256

const msgTokenID = "must be 1 to 256 printable ASCII characters without spaces"

// revokeToken revokes an access token by jti (denied for
// Config.AccessTokenTTL, the longest an access token lives), every access
// token of a subject issued until now, or a refresh-token family.
func (h *Handler) revokeToken(r *http.Request, body []byte) (result, error) {
	var req tokenRevokeRequest
	if err := decodeJSON(body, &req); err != nil {
		return result{}, err
	}
	n := 0
	for _, p := range []*string{req.JTI, req.Subject, req.Family} {
		if p != nil {
			n++
		}
	}
	if n != 1 {
		const msg = `send exactly one of "jti", "subject" and "family"`
		return result{}, validationFailed(map[string]string{"jti": msg, "subject": msg, "family": msg})
	}
	ctx := r.Context()
	now := h.cfg.Now()
	switch {
	case req.JTI != nil:
		jti := *req.JTI
		if !checkText(jti, maxTokenIDLen) {
			return result{}, fieldError("jti", msgTokenID)
		}
		if h.cfg.Denylist == nil {
			return result{}, notFound("access-token revocation is not enabled on this server")
		}
		if err := h.cfg.Denylist.RevokeToken(ctx, jti, now.Add(h.cfg.AccessTokenTTL)); err != nil {
			return result{}, err
		}
		h.report(r, keygate.Change{Action: keygate.ActionTokenRevoked, Time: now, TokenID: jti})
		return result{status: http.StatusOK, body: TokenRevocation{Revoked: "jti", ID: jti}}, nil
	case req.Subject != nil:
		sub := *req.Subject
		if !checkText(sub, maxTokenIDLen) {
			return result{}, fieldError("subject", msgTokenID)
		}
		if h.cfg.Denylist == nil {
			return result{}, notFound("access-token revocation is not enabled on this server")
		}
		if err := h.cfg.Denylist.RevokeSubject(ctx, sub, now); err != nil {
			return result{}, err
		}
		h.report(r, keygate.Change{Action: keygate.ActionSubjectRevoked, Time: now, Subject: sub})
		return result{status: http.StatusOK, body: TokenRevocation{Revoked: "subject", ID: sub}}, nil
	default:
		fam := *req.Family
		if !checkText(fam, maxTokenIDLen) {
			return result{}, fieldError("family", msgTokenID)
		}
		if h.cfg.Refresh == nil {
			return result{}, notFound("refresh-token revocation is not enabled on this server")
		}
		err := h.cfg.Refresh.RevokeFamily(ctx, fam)
		if errors.Is(err, jwt.ErrInvalidParams) {
			return result{}, fieldError("family", "must be a refresh-token family ID: 1 to 64 characters of A-Z and 2-7")
		}
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusOK, body: TokenRevocation{Revoked: "family", ID: fam}}, nil
	}
}

// report tells Config.OnChange about a change the handler made, with the
// caller as actor.
func (h *Handler) report(r *http.Request, c keygate.Change) {
	if h.cfg.OnChange == nil {
		return
	}
	c.Actor = keygate.ActorFromContext(r.Context())
	h.cfg.OnChange(r.Context(), c)
}
