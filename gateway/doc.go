// Package gateway puts keygate in front of services that do not import it:
// a forward-auth endpoint for nginx auth_request, Traefik ForwardAuth,
// Caddy forward_auth and Envoy's HTTP ext_authz ([Gateway.ForwardAuth]),
// and a reverse proxy ([Gateway.Proxy]).
//
// Both answer from one route table: a [Route] is a net/http ServeMux
// pattern ("GET /orders/{id}"), the [middleware.Rule] its callers must
// satisfy, and optionally the upstream service it is proxied to. A request
// runs through exactly the chain the route would get in a Go service,
// [middleware.Authenticator.Audit] around [middleware.Authenticator.Require]:
// the same credential checks, failure limit, rate limit and audit event,
// and, when refused, the very status, JSON body, WWW-Authenticate and
// Retry-After headers that the middleware writes. A request that no route
// matches is refused with 403 insufficient_scope (default deny).
//
// Once allowed, the caller is described to the service by the identity
// headers ([HeaderAccount], [HeaderKeyID], [HeaderMode], [HeaderAuthMethod],
// [HeaderSubject], [HeaderStore], [HeaderScope]; empty ones are omitted):
// in the forward-auth response, for the front proxy to copy onto the
// request it forwards, or on the proxied request itself.
//
// # Forward-auth
//
// The front proxy asks /auth/verify about each request it receives. The
// original request is read from the headers of the question, and only
// when it comes from a trusted proxy (Config.TrustedProxies):
//
//   - X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host and
//     X-Forwarded-Proto, as Traefik and Caddy send them;
//   - X-Original-Method and X-Original-URI, as nginx is configured to send
//     them (proxy_set_header X-Original-URI $request_uri; and
//     X-Original-Method $request_method), with X-Forwarded-Host (else the
//     Host header) and X-Forwarded-Proto;
//   - for Envoy's ext_authz, which sends the original method, headers and
//     (with with_request_body) body to its path_prefix followed by the
//     original path, the path after Config.EnvoyPrefix, with the
//     question's own method and Host: a question under the prefix is
//     always read this way, and the X-Forwarded-Method, -Uri, -Host and
//     X-Original-* headers Envoy passes on from the client are ignored.
//
// A missing method header means the method of the question itself. Any
// other credential-bearing header (Authorization, Signature,
// Signature-Input, Content-Digest, the store header) is read from the
// question as the proxy copied it from the original request.
//
// The answers: 200 with the identity headers when the request is allowed;
// the middleware's refusal (401, 403, 429, 400 or 503) otherwise; 403
// "untrusted_proxy" when the question does not come from a trusted proxy
// (its forwarded headers are never read); 400 invalid_request when the
// original request cannot be read from them, when its path would match
// another route once decoded or read as Tomcat or IIS read it
// (%2e%2e, %2F, ;parameters, backslashes: audit reason ambiguous_path),
// or when it has a method or URL override header (X-HTTP-Method-Override,
// X-Original-URL …) naming another method or target (method_override).
// The reverse proxy refuses the same requests.
//
// The front proxy must not let a client's own X-Keygate-* headers through
// when keygate leaves one out (an empty one is omitted). With nginx, set
// each from the answer, which also clears it when the answer has none:
//
//	location = /auth/verify {
//		internal;
//		proxy_pass http://127.0.0.1:8443;
//		proxy_pass_request_body off;
//		proxy_set_header Content-Length "";
//		proxy_set_header X-Original-Method $request_method;
//		proxy_set_header X-Original-URI $request_uri;
//		proxy_set_header X-Forwarded-Host $http_host;
//		proxy_set_header X-Forwarded-Proto $scheme;
//		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
//	}
//	location / {
//		auth_request /auth/verify;
//		auth_request_set $kg_account $upstream_http_x_keygate_account;
//		proxy_set_header X-Keygate-Account $kg_account;
//		# ... likewise for the other identity headers
//		proxy_pass http://upstream;
//	}
//
// ($http_host keeps the port, which a signed request's authority has;
// $host drops it.) Nginx drops headers with "_" in their names; Caddy
// and Traefik pass them on, and CGI, PHP and WSGI upstreams read
// X-Keygate_Subject as X-Keygate-Subject, so remove those forms too.
// With Traefik, use authResponseHeadersRegex: (?i)^X[-_]Keygate[-_]
// (Traefik then removes the matching request headers before copying the
// answer's); with Caddy, forward_auth's copy_headers X-Keygate-Account
// X-Keygate-Key-Id ..., inside a route that first removes each of them
// with request_header -X-Keygate-Account and so on, and
// request_header -X-Keygate_*, -X_keygate-* and -X_keygate_* (depending
// on its version, Caddy sets a listed header that the answer does not
// have to its literal placeholder, or leaves the client's); with
// Envoy, remove x-keygate-* from the request before ext_authz, list them
// in allowed_upstream_headers, and list authorization, signature,
// signature-input, content-digest, content-type and the store header in
// allowed_headers so that they reach keygate.
//
// Traefik, Caddy and Envoy pass a refusal on to the client as keygate
// wrote it. Nginx does not: it answers 401 and 403 with keygate's status
// and WWW-Authenticate but its own error page as the body, and any other
// status (the middleware's 400 and 429) as 500.
//
// # Signed requests through forward-auth
//
// An HTTP Message Signature is checked over the original method, path,
// query and authority, which the reconstructed request carries. Front
// proxies do not send the request body to the forward-auth endpoint, so
// the Content-Digest of a signed request with a body cannot be checked:
// such a request is refused with 401 invalid_digest and an
// error_description that says so. Send it through [Gateway.Proxy], or
// have the proxy forward the body (Envoy's with_request_body), in which
// case it is checked in full. Likewise a one-time token bound to a body
// cannot be redeemed through forward-auth without the body.
//
// # Decision cache
//
// There is none, on purpose: every question runs the full check, so that
// a revoked key, a disabled account or a changed package is refused on the
// next request on every instance, each request counts against its rate
// limit, each signature nonce is claimed once, and each decision is one
// audit event. The credential stores keep their own caches, which the
// change broadcast invalidates (see [keygate.ChangeFunc]).
package gateway
