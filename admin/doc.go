// Package admin serves keygate's key-management API: an [http.Handler]
// for accounts, API keys, HMAC credentials, token revocation and the audit
// history, composed from the managers of packages account, apikey, httpsig,
// jwt and audit, behind the middleware's authentication. A service mounts
// it under a prefix of its choice (the reference server uses "/admin/v1"):
//
//	h, err := admin.New(admin.Config{Prefix: "/admin/v1", Auth: auth, Accounts: accounts, Keys: keys})
//	...
//	mux.Handle("/admin/v1/", h) // no http.StripPrefix: the audit log records the admin routes
//	srv.Handler = auth.Audit(mux)
//
// # Routes
//
// Relative to the prefix; JSON in and out (request bodies at most 64 KiB,
// one JSON object, unknown members refused); times in RFC 3339, UTC;
// empty members omitted. GET routes require the permission admin:read,
// POST and PATCH routes admin:write, and approval admin:review, of a
// secret API key or an access token (401 and 403 are the middleware's
// RFC 6750 answers).
//
//	POST  /accounts                {"id"?, "name", "package"?}                  201 Account
//	GET   /accounts                ?q&limit&cursor                              200 {"data": [Account], "next_cursor"?}
//	GET   /accounts/{id}                                                        200 Account
//	PATCH /accounts/{id}           {"name"?, "package"?}                        200 Account
//	POST  /accounts/{id}/disable   (every credential of it is then refused)     200 Account
//	POST  /accounts/{id}/enable                                                 200 Account
//	POST  /keys                    {"account", "mode", "kind"?, "name"?, "stores"?, "permissions"?, "roles"?,
//	                                "allowed_ips"?, "denied_ips"?, "allowed_countries"?, "denied_countries"?, "expires"?}
//	                                                                            201 {"publishable"?: Key, "secret"?: Key}
//	GET   /keys                    ?account&mode&status&kind&expires_before&limit&cursor
//	                                                                            200 {"data": [Key], "next_cursor"?}
//	GET   /keys/{id}                                                            200 Key
//	PATCH /keys/{id}               {"name"?, "stores"?, "permissions"?, "allowed_ips"?, ..., "expires"? (null removes)}
//	                                                                            200 Key
//	POST  /keys/{id}/rotate        {"grace_seconds"?}                           200 Key with "key"
//	POST  /keys/{id}/revoke                                                     200 Key
//	POST  /keys/{id}/disable                                                    200 Key
//	POST  /keys/{id}/enable                                                     200 Key
//	POST  /keys/{id}/approve       (admin:review)                               200 Key
//	POST  /hmac-keys               {"account", "mode", "name"?, ...}            201 HMACKey with "secret"
//	GET   /hmac-keys               ?account&mode&limit&cursor                   200 {"data": [HMACKey], "next_cursor"?}
//	GET   /hmac-keys/{id}                                                       200 HMACKey
//	POST  /hmac-keys/{id}/rotate   {"grace_seconds"?}                           200 HMACKey with "secret"
//	POST  /hmac-keys/{id}/revoke                                                200 HMACKey
//	POST  /tokens/revoke           exactly one of {"jti"}, {"subject"}, {"family"}  200 {"revoked", "id"}
//	GET   /audit                   ?key_id&account&mode&store&ip&decision&reason&action&since&until&limit&cursor
//	                                                                            200 {"data": [audit.Event], "next_cursor"?}
//	POST  /ip-rules                {"account"?, "action", "cidr", "note"?}      201 IPRule
//	GET   /ip-rules                ?account | ?scope=service                    200 {"data": [IPRule]}
//	DELETE /ip-rules/{id}                                                       200 IPRule (as it was)
//	GET   /openapi.json            (no authentication)                          200 the OpenAPI 3.1 document
//
// The document served at /openapi.json, kept in this package as
// openapi.json, describes every route with its schemas and statuses, and
// the reference server's OAuth 2.0 endpoints.
//
// Secrets: the plaintext of an API key ("key") or HMAC secret ("secret")
// is in the response of the call that creates or rotates it, and nowhere
// else: not in any other response, not in a replay, not in an error, not in
// the audit log.
//
// A caller grants only what it holds. Its effective permissions are what
// the middleware enforces for it ([middleware.Authenticator.Grants]: for
// an access token, the token's). Then:
//   - the permissions given to a key or HMAC credential at creation or by
//     PATCH, "roles" expanded, must each be included in them, with the
//     wildcard rules of [access.Permission.Includes]: a wildcard such as
//     "orders:*" or "*:*" is given only by a caller holding the same
//     wildcard or a wider one. A credential created (or PATCHed) without
//     permissions is a standard key, which may do what its package grants
//     (the Authenticator's AccessConfig.Packages): the caller must hold the package's permissions, and
//     so must a caller moving an account to a package (PATCH
//     /accounts/{id}). Otherwise 403 insufficient_scope, whose "fields"
//     names the member ("permissions", "roles" or "package") and the
//     permission the caller lacks.
//   - Rotating a key or HMAC credential reveals a new secret, and PATCH
//     changes what a key may do: both require the caller to hold every
//     permission the credential has (for a standard key, its package's);
//     otherwise 403 insufficient_scope naming "id". Revoking, disabling
//     and enabling do not.
//   - No credential changes itself: a key or HMAC credential (or an access
//     token, which counts as the client key that obtained it) may not
//     update, rotate, disable, enable or approve itself: 403
//     self_modification. Revoking itself is allowed.
//   - Each such refusal is recorded by an enclosing
//     [middleware.Authenticator.Audit] as a denial with the error code as
//     reason, naming the caller ([middleware.RefuseRequest]).
//
// Semantics worth knowing:
//   - POST /keys: the account must exist (else 400 validation_failed, field
//     "account"); the keys get its package. "roles" are expanded with
//     Config.Roles into permissions when the key is created. Live keys
//     start pending review: approve them with POST /keys/{id}/approve,
//     which records the caller's key ID as the approver. With
//     Config.SeparateReview neither the admin key that created a key nor
//     the one that last set its permissions or package (the key's
//     permissions_set_by) can approve it (403 separation_of_duties).
//   - PATCH /accounts/{id} with a package also gives it to every key of
//     the account that is not revoked, one key at a time (not atomically:
//     on a store failure half-way it answers 503, and the same request,
//     repeated, finishes the job). HMAC credentials keep their package:
//     package httpsig has no update call yet, and what applies to them is
//     their account's package. A package the account manager does not
//     allow (account.Config.Packages) is refused (400 validation_failed,
//     field "package", naming the allowed ones), on create too.
//   - Keys and HMAC credentials show effective_permissions: what they
//     hold with their package, as the Authenticator enforces it (its
//     packages and roles):
//     without permissions of their own, the package's; with permissions,
//     those bounded by the package, plus the ones no package includes.
//   - POST /tokens/revoke by jti denies the token for Config.AccessTokenTTL
//     (it cannot be valid longer); by subject, every access token of the
//     subject issued until now; by family, the refresh-token family (and,
//     through rotation, every token issued from it).
//   - /ip-rules keep the gateway's IP allow and deny lists (package
//     iprule): service-wide rules (no "account") and rules of one
//     account, addresses and CIDR prefixes, IPv4 and IPv6, stored in
//     canonical form. A deny rule wins; a non-empty allow list (the
//     service's, or the account's) admits only the addresses it matches;
//     a credential's own rules apply on top. Each change is reported
//     through Config.OnChange (ip_rule.created, ip_rule.deleted), so that
//     every instance applies it on the next request. A caller confined
//     to one account sees and manages its account's rules alone.
//   - Lists are ordered oldest first by (created, id), so a walk with
//     next_cursor returns each item exactly once even while items are
//     added; limit is 1 to 100 (default 20). The audit history is newest
//     first, with the history's own cursor. GET /accounts?q= keeps the
//     accounts whose ID or name contains q (ASCII letters without case);
//     GET /keys?kind=pk|sk keeps one kind, and ?expires_before=T the keys
//     with an expiry before T (expired ones too; never-expiring ones not).
//
// # Errors
//
// Every error the handler writes itself is JSON:
// {"error": code, "error_description": sentence, "fields": {member: problem}}
// ("fields" only with validation_failed and insufficient_scope).
// Descriptions are fixed sentences: no request input is echoed (but for the
// name of an unknown member or query parameter, when it is a short plain
// identifier, and a permission the caller does not hold, once parsed), and
// no secret ever appears.
//
//	400 invalid_request           malformed JSON, not one JSON object, an unknown or repeated member, a bad query
//	                              parameter (unknown, repeated or invalid), a bad cursor, a bad Idempotency-Key
//	400 validation_failed         a member is missing, of the wrong type or invalid; "fields" names each
//	403 insufficient_scope        with "fields": the call would give (or rotate or update a credential holding) a
//	                              permission the caller does not hold; without: the middleware's, for a caller
//	                              without the route's admin permission
//	403 self_modification         a credential updating, rotating, disabling, enabling or approving itself
//	403 separation_of_duties      approving a key the caller created or last widened, with Config.SeparateReview
//	404 not_found                 no such route or resource; a feature that is not configured (HMAC, token
//	                              revocation, audit)
//	405 method_not_allowed        the path exists with other methods (Allow header)
//	409 conflict                  the state forbids it: approve a key that is not pending review; rotate, disable,
//	                              enable or update a revoked key; rotate a revoked HMAC credential; create an
//	                              account whose ID exists
//	409 idempotency_key_in_use    a call with this Idempotency-Key is still running
//	413 request_too_large         a body over 64 KiB
//	415 unsupported_media_type    a body that is not application/json
//	422 idempotency_key_reused    the Idempotency-Key was used with another method, path or body
//	500 server_error              an unexpected internal error (fixed message)
//	503 temporarily_unavailable   a store failed (fail closed); Retry-After: 1
//
// # Idempotency
//
// Every POST honours an Idempotency-Key header (1 to 255 printable ASCII
// characters), scoped to the caller's key ID (or token subject); POST and
// PATCH routes take no query parameters, and GET routes only their own. A retry
// with the same key, method, path and body within 24 hours gets the first
// response's status and body again, with the header Idempotent-Replayed:
// true, and creates nothing; the one-time "key" or "secret" is absent from
// the replay (it is never stored). Only 2xx responses are remembered.
// While the first call runs, a retry gets 409 idempotency_key_in_use; with
// another method, path or body, 422 idempotency_key_reused. The responses
// are kept by an [idempotency.Store]: [idempotency.MemoryStore] for a single
// process; run idempotencytest.TestStore against others.
//
// # Audit
//
// With the service's mux wrapped in [middleware.Authenticator.Audit], every
// admin call yields one request event naming the caller (key_id) and the
// admin route. Every state-changing call also yields management events
// naming the actor (the caller's key ID, which the middleware put in the
// request context; see [keygate.ActorFromContext]) and the target: the
// managers report theirs through their own Config.OnChange (key.*,
// hmac.*, account.*, refresh.family_revoked), and the handler reports
// token.revoked and token.subject_revoked through [Config].OnChange. Wire
// each to audit.Writer.RecordChange.
//
// # Calls in process
//
// [Handler.Do] makes a call of the admin API without HTTP, for a [Caller]
// the service has authenticated itself (a user of package console, the
// administration console): the same endpoint runs, with the same
// validation, permission checks, separation of duties, idempotency and
// change events, the caller's Grants standing in for the credential's.
// A Caller with Account set is confined to that account, as its owner:
// another account's resources do not exist for it, and it may not create
// or change accounts or revoke tokens.
package admin
