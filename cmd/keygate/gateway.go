package main

import (
	"net/http"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/middleware"
)

// envoyPrefix is where the forward-auth endpoint answers: /auth/verify
// for nginx, Traefik and Caddy, and /auth/verify/<original path> for
// Envoy's ext_authz (path_prefix: /auth/verify).
const envoyPrefix = "/auth/verify"

// clientIPResolver returns the one list of trusted proxies, as the
// resolver of the middleware's client addresses (AccessConfig.ClientIP,
// which Config.HTTPSOnly also trusts for X-Forwarded-Proto) and, through
// its TrustedProxies, the gateway's: trusted_proxies, or, when it is
// empty and there are routes, the loopback addresses (the front proxy on
// the same machine, as gateway.NewClientIPResolver has it). Without
// routes and trusted_proxies it is nil: the client is the TCP peer.
func clientIPResolver(cfg serveConfig) (*ipbind.Resolver, error) {
	if len(cfg.trustedProxies) == 0 && len(cfg.routes) == 0 {
		return nil, nil
	}
	r, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: cfg.trustedProxies})
	if err != nil || len(cfg.routes) == 0 {
		return r, err
	}
	return gateway.NewClientIPResolver(r.TrustedProxies())
}

// gatewayRoutes turns the configuration file's routes into the
// gateway's: a route's minimum package is its rule's Package.
func gatewayRoutes(routes []serveRoute) []gateway.Route {
	out := make([]gateway.Route, len(routes))
	for i, r := range routes {
		out[i] = gateway.Route{
			Pattern:            r.pattern,
			Rule:               middleware.Rule{Permission: r.permission, Package: r.minPackage, Publishable: r.publishable},
			Upstream:           r.upstream,
			ForwardCredentials: r.forwardCredentials,
		}
	}
	return out
}

// buildGateway makes the gateway (a.gateway) of cfg's routes on a.auth,
// trusting clientIP's proxies; without routes, none.
func (a *app) buildGateway(cfg serveConfig, clientIP *ipbind.Resolver) (err error) {
	if len(cfg.routes) == 0 {
		return nil
	}
	for _, r := range cfg.routes {
		a.proxying = a.proxying || r.upstream != nil
	}
	a.gateway, err = gateway.New(gateway.Config{
		Auth:           a.auth,
		Routes:         gatewayRoutes(cfg.routes),
		TrustedProxies: clientIP.TrustedProxies(),
		EnvoyPrefix:    envoyPrefix,
	})
	return err
}

// serverOrProxy serves a request that one of the server's own routes
// (mux's: the admin API, /v1/whoami, the OAuth endpoints …) matches with
// api, mux inside its Audit, and any other with the gateway's proxy,
// which refuses what no route with an upstream matches (403, default
// deny).
func serverOrProxy(mux *http.ServeMux, api, proxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			api.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}
