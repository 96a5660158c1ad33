package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// The error codes of the admin API: the "error" member of every error
// response the handler writes itself. (401, 403 insufficient_scope without
// "fields", and 429, come from the middleware, with its RFC 6750 codes.)
const (
	// CodeInvalidRequest (400): malformed JSON, a body that is not one JSON
	// object, an unknown or repeated member, a bad query parameter or
	// cursor, or a bad Idempotency-Key header.
	CodeInvalidRequest = middleware.CodeInvalidRequest
	// CodeValidationFailed (400): well-formed, but some fields are not
	// acceptable; the response's "fields" names each.
	CodeValidationFailed = "validation_failed"
	// CodeSeparationOfDuties (403): with Config.SeparateReview, the caller
	// tried to approve a key it created or whose permissions or package it
	// last set.
	CodeSeparationOfDuties = "separation_of_duties"
	// CodeInsufficientScope (403): the call would give a credential a
	// permission the caller does not hold itself (at creation, update or
	// rotation, or through an account's package); the response's "fields"
	// names the member and the permission. (The middleware's 403
	// insufficient_scope, for a caller without the route's permission,
	// has no "fields".)
	CodeInsufficientScope = middleware.CodeInsufficientScope
	// CodeSelfModification (403): a credential tried to update, rotate,
	// disable, enable or approve itself (revoking itself is allowed). An
	// access token counts as the client key that obtained it.
	CodeSelfModification = "self_modification"
	// CodeNotFound (404): no such route, no such resource, or a feature
	// the service did not configure (HMAC credentials, token revocation,
	// the audit history).
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405): the route exists, not with this method;
	// the Allow header lists the methods it has.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeConflict (409): the resource's state does not allow the call
	// (approve a key that is not pending review; rotate, disable, enable
	// or update a revoked key; rotate a revoked HMAC credential; create an
	// account whose ID exists).
	CodeConflict = "conflict"
	// CodeIdempotencyKeyInUse (409): a call with the same Idempotency-Key
	// is still being processed; retry later.
	CodeIdempotencyKeyInUse = "idempotency_key_in_use"
	// CodeRequestTooLarge (413): the body is over [MaxBodyBytes].
	CodeRequestTooLarge = "request_too_large"
	// CodeUnsupportedMediaType (415): a body that is not
	// application/json.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeIdempotencyKeyReused (422): the Idempotency-Key was used for
	// another method, path or body.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeServerError (500): an unexpected internal error; the message is
	// fixed.
	CodeServerError = "server_error"
	// CodeTemporarilyUnavailable (503): a store failed; nothing is known
	// to have changed unless the description says otherwise. Retry later
	// (with the same Idempotency-Key for a POST).
	CodeTemporarilyUnavailable = middleware.CodeTemporarilyUnavailable
)

// Error is an error response of the admin API. Its JSON form is the body
// of every error the handler writes itself:
//
//	{"error": "validation_failed", "error_description": "...", "fields": {"mode": "..."}}
//
// Descriptions and field messages are fixed sentences: they never repeat a
// request's input, and never hold a secret.
type Error struct {
	// Status is the HTTP status.
	Status int `json:"-"`
	// Code is the machine-readable code, one of the Code constants.
	Code string `json:"error"`
	// Description is a sentence for people.
	Description string `json:"error_description"`
	// Fields maps a request's JSON member (or query parameter, or "id" for
	// the credential a route names) to what is wrong with it; only for
	// [CodeValidationFailed] and [CodeInsufficientScope].
	Fields map[string]string `json:"fields,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return "admin: " + e.Code + ": " + e.Description }

func newError(status int, code, desc string) *Error {
	return &Error{Status: status, Code: code, Description: desc}
}

func invalidRequest(desc string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRequest, desc)
}

func notFound(desc string) *Error { return newError(http.StatusNotFound, CodeNotFound, desc) }

func conflict(desc string) *Error { return newError(http.StatusConflict, CodeConflict, desc) }

var (
	errUnavailable = newError(http.StatusServiceUnavailable, CodeTemporarilyUnavailable,
		"a store cannot be reached right now; retry later")
	errServer = newError(http.StatusInternalServerError, CodeServerError,
		"an unexpected error occurred")
	errTooLarge = newError(http.StatusRequestEntityTooLarge, CodeRequestTooLarge,
		"the request body is larger than 64 KiB")
	errMediaType = newError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
		"the request body must be application/json")
	errInUse = newError(http.StatusConflict, CodeIdempotencyKeyInUse,
		"a request with this Idempotency-Key is still being processed; retry later")
	errReused = newError(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused,
		"this Idempotency-Key was used for a different request (method, path or body)")
	errSeparation = newError(http.StatusForbidden, CodeSeparationOfDuties,
		"a key cannot be approved by the admin credential that created it or last set its permissions or package")
)

// fieldErrors collects validation failures by JSON member name, the first
// one per member.
type fieldErrors map[string]string

func (f fieldErrors) add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// err returns the validation_failed error for f, or nil if f is empty.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return validationFailed(f)
}

func validationFailed(f map[string]string) *Error {
	e := newError(http.StatusBadRequest, CodeValidationFailed, "some fields are not valid; see fields")
	e.Fields = f
	return e
}

func fieldError(field, msg string) *Error { return validationFailed(map[string]string{field: msg}) }

// classify maps an error from a manager or store to the response for it,
// with errors.Is. Unknown errors are store failures: 503, fail closed. The
// error's text is never sent: it may quote input.
func classify(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, apikey.ErrNotFound):
		return notFound("no API key has this ID")
	case errors.Is(err, httpsig.ErrNotFound):
		return notFound("no HMAC credential has this key ID")
	case errors.Is(err, account.ErrNotFound):
		return notFound("no account has this ID")
	case errors.Is(err, jwt.ErrNotFound):
		return notFound("no refresh-token family has this ID")
	case errors.Is(err, iprule.ErrNotFound):
		return notFound("no IP rule has this ID")
	case errors.Is(err, iprule.ErrExists):
		return conflict("an IP rule with this account, action and prefix already exists")
	case errors.Is(err, account.ErrExists):
		return conflict("an account with this ID already exists")
	case errors.Is(err, apikey.ErrSameActor):
		return errSeparation
	case errors.Is(err, apikey.ErrRevoked), errors.Is(err, httpsig.ErrRevoked):
		return conflict("the credential is revoked")
	case errors.Is(err, apikey.ErrInvalidState), errors.Is(err, httpsig.ErrInvalidState):
		return conflict("the operation does not apply to the credential in its current state")
	case errors.Is(err, apikey.ErrConflict), errors.Is(err, httpsig.ErrConflict), errors.Is(err, account.ErrConflict):
		return conflict("the resource was changed concurrently; read it again and retry")
	case errors.Is(err, apikey.ErrInvalidParams), errors.Is(err, httpsig.ErrInvalidParams),
		errors.Is(err, account.ErrInvalidParams), errors.Is(err, jwt.ErrInvalidParams):
		return paramsError(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errUnavailable
	}
	return errUnavailable
}

// paramMessages maps the sentences of the managers' ErrInvalidParams
// errors to the request field they are about. The handler validates every
// field itself first, so this is a fallback for rules it does not know.
var paramMessages = []struct{ contains, field string }{
	{"account must", "account"},
	{"ID must", "id"},
	{"name must", "name"},
	{"package must", "package"},
	{"store", "stores"},
	{"permission", "permissions"},
	{"allowed or denied IP", "allowed_ips"},
	{"country", "allowed_countries"},
	{"expiry", "expires"},
	{"mode", "mode"},
	{"kind", "kind"},
	{"grace", "grace_seconds"},
	{"limit", "limit"},
}

// paramsError turns a manager's ErrInvalidParams into validation_failed,
// naming the field when the message says which. The message itself is not
// sent.
func paramsError(err error) *Error {
	msg := err.Error()
	for _, m := range paramMessages {
		if strings.Contains(msg, m.contains) {
			return fieldError(m.field, "is not valid")
		}
	}
	return invalidRequest("the request is not valid")
}
