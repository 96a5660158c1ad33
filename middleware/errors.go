package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
)

// Errors the Authenticator returns from [Authenticator.Check], besides
// those of package apikey and the store. Test for them with [errors.Is].
var (
	// ErrNoCredentials is returned when the request carries no credentials the
	// Authenticator understands (no Authorization header, or another scheme
	// than Bearer). 401 with a bare challenge, as RFC 6750 §3.1 asks.
	ErrNoCredentials = errors.New("middleware: no credentials")
	// ErrInvalidRequest is returned when the request is malformed (RFC 6750
	// "invalid_request"): 400.
	ErrInvalidRequest = errors.New("middleware: invalid request")
	// ErrInvalidToken is returned when the credential is malformed, unknown,
	// revoked, expired, disabled or not yet approved (RFC 6750
	// "invalid_token"): 401. The errors of packages apikey and jwt map to it
	// too.
	ErrInvalidToken = errors.New("middleware: invalid token")
	// ErrInsufficientScope is returned when the credential is valid but may not
	// use this route (RFC 6750 "insufficient_scope"): 403.
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
)

// The specific failures. Each wraps one of the sentinels above and has its
// own fixed description in the failure table.
var (
	errMultipleAuthorization = fmt.Errorf("%w: more than one Authorization header", ErrInvalidRequest)
	errAuthorizationTooLarge = fmt.Errorf("%w: Authorization header too large", ErrInvalidRequest)
	errEmptyBearer           = fmt.Errorf("%w: empty bearer token", ErrInvalidRequest)
	errCredentialsInQuery    = fmt.Errorf("%w: credentials in the query string", ErrInvalidRequest)
	errStoreHeader           = fmt.Errorf("%w: malformed store header", ErrInvalidRequest)
	errPublishable           = fmt.Errorf("%w: publishable key on a secret route", ErrInsufficientScope)
	errLiveRequired          = fmt.Errorf("%w: live mode required", ErrInsufficientScope)
	errTestRequired          = fmt.Errorf("%w: test mode required", ErrInsufficientScope)
	errStoreForbidden        = fmt.Errorf("%w: store not allowed", ErrInsufficientScope)
	errNotConfigured         = errors.New("middleware: Authenticator not created with New")
	errOneTimeRequired       = fmt.Errorf("%w: this route needs a one-time token", ErrInvalidToken)
	errOneTimeElsewhere      = fmt.Errorf("%w: a one-time token on another route", ErrInvalidToken)
	errBodyTooLarge          = fmt.Errorf("%w: body too large for a one-time token", ErrInvalidRequest)
	errBodyUnreadable        = fmt.Errorf("%w: body unreadable", ErrInvalidRequest)
	errSignaturesOff         = fmt.Errorf("%w: signed requests are not accepted", ErrInvalidToken)
	errTwoCredentials        = fmt.Errorf("%w: a signature and an Authorization header", ErrInvalidRequest)
)

// The codes of the failures: the "error" member of every response body the
// middleware writes, and the reason of the audit events of refused
// requests. The token endpoint (package oauth), the admin API and the
// console use the same constants where they mean the same.
const (
	// CodeUnauthorized (401) is the code when the request carries no
	// credentials: the challenge then names no error, as RFC 6750 §3.1 asks.
	CodeUnauthorized = "unauthorized"
	// CodeInvalidRequest (400) is RFC 6750's code for a malformed request.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken (401) is RFC 6750's code for a credential that is
	// malformed, unknown, revoked, expired, disabled or not yet approved.
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope (403) is RFC 6750's code for a valid
	// credential that may not use the route.
	CodeInsufficientScope = "insufficient_scope"
	// CodeIPForbidden (403) is the code for a credential used from an
	// address its IP rules refuse.
	CodeIPForbidden = "ip_forbidden"
	// CodeGeoForbidden (403) is the code for a credential used from a
	// country the rules refuse.
	CodeGeoForbidden = "geo_forbidden"
	// CodeRateLimited (429) is the code for a caller over its rate limit
	// ([ErrRateLimited]).
	CodeRateLimited = "rate_limited"
	// CodeTooManyFailures (429) is the code for a client address (or, at
	// the token endpoint and the console, a user name) that failed to
	// authenticate too often ([ErrTooManyFailures]).
	CodeTooManyFailures = "too_many_failures"
	// CodeTooManyRequests (429) is the code for a credential that holds too
	// many outstanding one-time tokens or signed requests.
	CodeTooManyRequests = "too_many_requests"
	// CodeTemporarilyUnavailable (503) is the code when the credential
	// could not be checked: a store failed.
	CodeTemporarilyUnavailable = "temporarily_unavailable"

	// CodeBodyTooLarge (413) is the code for a signed request whose body is
	// over the limit.
	CodeBodyTooLarge = "body_too_large"
	// CodeMalformedSignature (401) is the code for signature fields that
	// are malformed.
	CodeMalformedSignature = "malformed_signature"
	// CodeWrongAuthority (401) is the code for a request signed for
	// another host.
	CodeWrongAuthority = "wrong_authority"
	// CodeNonCanonical (401) is the code for a signed request whose path is
	// not in canonical form.
	CodeNonCanonical = "non_canonical"
	// CodeMissingComponent (401) is the code for a signature that does not
	// cover every required component.
	CodeMissingComponent = "missing_component"
	// CodeExpired (401) is the code for a signature outside its time
	// window.
	CodeExpired = "expired"
	// CodeInvalidSignature (401) is the code for a signature that does not
	// verify, or whose key ID may not sign.
	CodeInvalidSignature = "invalid_signature"
	// CodeUnknownKey is the audit reason (never a response code) for a
	// signature whose key ID is unknown, revoked, expired or disabled: the
	// client sees [CodeInvalidSignature].
	CodeUnknownKey = "unknown_key"
	// CodeInsecureTransport is the audit reason (never a response code)
	// for a credential sent over plain HTTP under Config.HTTPSOnly
	// ([ErrInsecureTransport]): the client sees [CodeInvalidRequest].
	CodeInsecureTransport = "insecure_transport"
	// CodeInvalidDigest (401) is the code for a body that does not match
	// its Content-Digest.
	CodeInvalidDigest = "invalid_digest"
	// CodeReplayed (401) is the code for a signed request that was already
	// accepted.
	CodeReplayed = "replayed"
)

// Failure is the HTTP meaning of an error: what [Classify] maps it to and
// what the default error handler writes.
type Failure struct {
	// Status is the HTTP status code.
	Status int
	// Code is one of the codes above: an RFC 6750 error code
	// ([CodeInvalidRequest], [CodeInvalidToken], [CodeInsufficientScope]),
	// [CodeUnauthorized] when no credentials were sent (the challenge then
	// carries no code), [CodeTemporarilyUnavailable] when the credential
	// could not be checked, or another of the middleware's own.
	Code string
	// Description is a fixed, human-readable sentence. It never contains
	// request data.
	Description string
}

// failures maps errors to responses, most specific first. Descriptions are
// fixed strings: no error's text ever reaches the client.
var failures = []struct {
	err error
	Failure
}{
	{ErrNoCredentials, Failure{http.StatusUnauthorized, CodeUnauthorized, "authentication required: send Authorization: Bearer <API key or access token>"}},
	{errMultipleAuthorization, Failure{http.StatusBadRequest, CodeInvalidRequest, "send exactly one Authorization header"}},
	{errAuthorizationTooLarge, Failure{http.StatusBadRequest, CodeInvalidRequest, "the Authorization header is too large"}},
	{errEmptyBearer, Failure{http.StatusBadRequest, CodeInvalidRequest, "the bearer token is empty"}},
	{errCredentialsInQuery, Failure{http.StatusBadRequest, CodeInvalidRequest, "credentials are not accepted in the URL query; send Authorization: Bearer <key>"}},
	{errStoreHeader, Failure{http.StatusBadRequest, CodeInvalidRequest, "the store header must appear once and hold a valid store ID"}},
	{errBodyTooLarge, Failure{http.StatusBadRequest, CodeInvalidRequest, "the body is too large for a one-time token route"}},
	{errBodyUnreadable, Failure{http.StatusBadRequest, CodeInvalidRequest, "the body could not be read"}},
	{ErrInsecureTransport, Failure{http.StatusBadRequest, CodeInvalidRequest, "HTTPS is required"}},
	{errTwoCredentials, Failure{http.StatusBadRequest, CodeInvalidRequest, "send either a signature or an Authorization header, not both"}},
	{ErrInvalidRequest, Failure{http.StatusBadRequest, CodeInvalidRequest, "the request is malformed"}},
	{httpsig.ErrBodyTooLarge, Failure{http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is over the limit for signed requests"}},
	{httpsig.ErrMalformed, Failure{http.StatusUnauthorized, CodeMalformedSignature, "the signature fields are malformed"}},
	{httpsig.ErrMisdirected, Failure{http.StatusUnauthorized, CodeWrongAuthority, "the request was signed for another host"}},
	{httpsig.ErrNonCanonical, Failure{http.StatusUnauthorized, CodeNonCanonical, "the request path is not in canonical form"}},
	{httpsig.ErrMissingComponent, Failure{http.StatusUnauthorized, CodeMissingComponent, "the signature does not cover every required component"}},
	{httpsig.ErrStale, Failure{http.StatusUnauthorized, CodeExpired, "the signature is outside its time window"}},
	{httpsig.ErrInvalidSignature, Failure{http.StatusUnauthorized, CodeInvalidSignature, "the signature is invalid"}},
	{httpsig.ErrDigest, Failure{http.StatusUnauthorized, CodeInvalidDigest, "the body does not match its Content-Digest"}},
	{httpsig.ErrReplayed, Failure{http.StatusUnauthorized, CodeReplayed, "this request was already accepted"}},
	{httpsig.ErrNonceQuota, Failure{http.StatusTooManyRequests, CodeTooManyRequests, "this credential has too many signed requests within the replay window; retry later"}},
	{ErrRateLimited, Failure{http.StatusTooManyRequests, CodeRateLimited, "too many requests; retry after the time in Retry-After"}},
	{ErrTooManyFailures, Failure{http.StatusTooManyRequests, CodeTooManyFailures, "too many failed authentications from this address; retry after the time in Retry-After"}},
	{errIPForbidden, Failure{http.StatusForbidden, CodeIPForbidden, "the credential may not be used from this address"}},
	{errGeoForbidden, Failure{http.StatusForbidden, CodeGeoForbidden, "the credential may not be used from this country"}},
	{errRuleForbidden, Failure{http.StatusForbidden, CodeInsufficientScope, "the credential's package or permissions do not include this route"}},
	{errSignaturesOff, Failure{http.StatusUnauthorized, CodeInvalidSignature, "signed requests are not accepted here"}},
	{apikey.ErrRevoked, Failure{http.StatusUnauthorized, CodeInvalidToken, "the API key has been revoked"}},
	{apikey.ErrExpired, Failure{http.StatusUnauthorized, CodeInvalidToken, "the API key has expired"}},
	{apikey.ErrDisabled, Failure{http.StatusUnauthorized, CodeInvalidToken, "the API key is disabled"}},
	{apikey.ErrPendingReview, Failure{http.StatusUnauthorized, CodeInvalidToken, "the API key is awaiting review"}},
	{apikey.ErrKeyInvalid, Failure{http.StatusUnauthorized, CodeInvalidToken, "the API key is invalid"}},
	{errAccountDisabled, Failure{http.StatusUnauthorized, CodeInvalidToken, "the account is disabled"}},
	{errAccountUnknown, Failure{http.StatusUnauthorized, CodeInvalidToken, "the credential's account does not exist"}},
	{errAccountCutOff, Failure{http.StatusUnauthorized, CodeInvalidToken, "the token was issued before its account was disabled"}},
	{jwt.ErrOneTimeQuota, Failure{http.StatusTooManyRequests, CodeTooManyRequests, "this credential holds too many unredeemed one-time tokens; redeem them or wait for them to expire"}},
	{ErrClientInvalid, Failure{http.StatusUnauthorized, CodeInvalidToken, "the key that obtained this token is no longer valid"}},
	{errOneTimeRequired, Failure{http.StatusUnauthorized, CodeInvalidToken, "this route accepts only a one-time token of its purpose"}},
	{errOneTimeElsewhere, Failure{http.StatusUnauthorized, CodeInvalidToken, "a one-time token is accepted only by the route of its purpose"}},
	{jwt.ErrOneTimeExpired, Failure{http.StatusUnauthorized, CodeInvalidToken, "the one-time token has expired"}},
	{jwt.ErrOneTimeInvalid, Failure{http.StatusUnauthorized, CodeInvalidToken, "the one-time token is invalid, used, or not for this request"}},
	{jwt.ErrExpired, Failure{http.StatusUnauthorized, CodeInvalidToken, "the access token has expired"}},
	{jwt.ErrRevoked, Failure{http.StatusUnauthorized, CodeInvalidToken, "the access token has been revoked"}},
	{jwt.ErrNotYetValid, Failure{http.StatusUnauthorized, CodeInvalidToken, "the access token is not valid yet"}},
	{jwt.ErrTokenInvalid, Failure{http.StatusUnauthorized, CodeInvalidToken, "the access token is invalid"}},
	{ErrInvalidToken, Failure{http.StatusUnauthorized, CodeInvalidToken, "the credential is invalid"}},
	{errPublishable, Failure{http.StatusForbidden, CodeInsufficientScope, "this route does not accept publishable keys or tokens of public clients"}},
	{errLiveRequired, Failure{http.StatusForbidden, CodeInsufficientScope, "this route requires a live-mode key"}},
	{errTestRequired, Failure{http.StatusForbidden, CodeInsufficientScope, "this route requires a test-mode key"}},
	{errStoreForbidden, Failure{http.StatusForbidden, CodeInsufficientScope, "the selected store is not allowed for this key"}},
	{ErrInsufficientScope, Failure{http.StatusForbidden, CodeInsufficientScope, "the key may not use this route"}},
}

// unavailable is the failure for every error the table does not know: a
// store that is down, a cancelled context. It fails closed, without
// revealing the cause.
var unavailable = Failure{http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "credentials cannot be checked right now; retry later"}

// Classify maps an error from [Authenticator.Check] to its HTTP failure,
// using [errors.Is]. Unknown errors (a store that is down, say) map to 503
// "temporarily_unavailable": the request fails closed.
func Classify(err error) Failure {
	for _, f := range failures {
		if errors.Is(err, f.err) {
			return f.Failure
		}
	}
	return unavailable
}

// auditReason is the reason code of a failure for the audit log: the
// response's code, except that a signature from an unknown key is told
// apart from a bad MAC (the client sees both as invalid_signature), and a
// credential over plain HTTP from other malformed requests.
func auditReason(err error) string {
	if errors.Is(err, ErrInsecureTransport) {
		return CodeInsecureTransport
	}
	if errors.Is(err, httpsig.ErrInvalidSignature) && errors.Is(err, httpsig.ErrCredentialInvalid) {
		return CodeUnknownKey
	}
	return Classify(err).Code
}

// errorBody is the JSON body of every failure.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Write sends f as an RFC 6750 response: the WWW-Authenticate challenge for
// realm (on 400, 401 and 403), Cache-Control: no-store, and the JSON body
// {"error": ..., "error_description": ...}.
func (f Failure) Write(w http.ResponseWriter, realm string) {
	h := w.Header()
	switch {
	case f.Status == http.StatusUnauthorized && f.Code == CodeUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	case f.Status == http.StatusUnauthorized && !rfc6750Code(f.Code):
		// A signed request's failure: the code is in the body; the
		// challenge names the realm only.
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	case !rfc6750Code(f.Code):
		// 403 ip_forbidden, 429 and the like: the code is in the body.
	case f.Status == http.StatusBadRequest || f.Status == http.StatusUnauthorized || f.Status == http.StatusForbidden:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="`+f.Code+`", error_description="`+f.Description+`"`)
	case f.Status == http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(f.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<key>" stays readable
	enc.Encode(errorBody{f.Code, f.Description})
}

// ErrorHandler writes the response for a request that failed
// authentication or authorization. err is what [Authenticator.Check]
// returned; map it with [Classify] and never write err.Error() to the
// client.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// rfc6750Code reports whether code is one of RFC 6750's error codes.
func rfc6750Code(code string) bool {
	return code == CodeInvalidRequest || code == CodeInvalidToken || code == CodeInsufficientScope
}
