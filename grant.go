package keygate

// Grant is what a credential is allowed: the account it acts for, its mode,
// its package and permissions, the stores it may act for, and where it may
// be used from. Every credential carries one: an API key (apikey.Record),
// an HMAC credential (httpsig.Credential) and an access token, which copies
// its client key's (jwt.Claims). The jwt claims keep their wire names
// (kg_account, kg_permissions, ...).
//
// The mechanism packages only keep and carry a Grant; the access-control
// layer (package middleware) enforces it, and its
// Authenticator.CheckOrigin applies the origin rules (AllowedIPs,
// DeniedIPs, AllowedCountries, DeniedCountries) in one place for every
// credential. The managers (apikey, httpsig) refuse a grant without an
// account or a valid mode, or with a list that does not parse.
//
// Its slices may be shared with a store's records: treat them as
// read-only, and use [CloneGrant] for a copy to modify.
type Grant struct {
	// Account owns the credential: its requests act for this account.
	Account string
	// Mode is test or live: the credential reaches only routes of its
	// mode.
	Mode Mode
	// Package is the account's commercial plan, for example "GO": the
	// middleware's packages (AccessConfig.Packages, see package access)
	// say what it includes.
	Package string
	// Permissions are the rights granted to the credential, such as
	// "products:read", or roles ("@name"). The middleware bounds them by
	// the Package; a credential without permissions of its own holds its
	// whole package.
	Permissions []string
	// Stores are the stores the credential may act for. A request selects
	// one of them with the store header (X-Store-Id), or gets the only one
	// when there is one; the middleware refuses any other store.
	Stores []string
	// AllowedIPs are addresses or CIDR prefixes the credential may be used
	// from; empty means any address.
	AllowedIPs []string
	// DeniedIPs are addresses or CIDR prefixes the credential may never be
	// used from; they win over AllowedIPs.
	DeniedIPs []string
	// AllowedCountries are ISO 3166-1 alpha-2 codes (upper case) of the
	// countries the credential may be used from; empty means any country.
	// The middleware resolves a client's country with its geo lookup.
	AllowedCountries []string
	// DeniedCountries are ISO 3166-1 alpha-2 codes of the countries the
	// credential may never be used from; they win over AllowedCountries.
	DeniedCountries []string
}

// CloneGrant returns a copy of g that shares no memory with it, not even
// spare capacity: appending to a slice of the copy never writes into g's
// arrays. The copies of its slices share one new backing array, each
// capped so that appending to one cannot overwrite the next; nil slices
// stay nil, and empty ones stay empty (and non-nil).
//
// It is a function rather than a method so that the types embedding a
// Grant (apikey.Record, httpsig.Credential, jwt.Claims, ...) do not gain a
// Clone that would copy only their Grant.
func CloneGrant(g Grant) Grant {
	ps := [...]*[]string{&g.Permissions, &g.Stores, &g.AllowedIPs, &g.DeniedIPs, &g.AllowedCountries, &g.DeniedCountries}
	n := 0
	for _, p := range ps {
		n += len(*p)
	}
	buf := make([]string, 0, n)
	for _, p := range ps {
		if *p == nil {
			continue
		}
		start := len(buf)
		buf = append(buf, *p...)
		*p = buf[start:len(buf):len(buf)]
	}
	return g
}
