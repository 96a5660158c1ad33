package main

import "github.com/keygate/keygate/access"

// The packages of the retail demo, the reference server's packages,
// lowest first.
const (
	packageDiscover = "DISCOVER"
	packageAssist   = "ASSIST"
	packageGo       = "GO"
	packageGrow     = "GROW"
	packagePrime    = "PRIME"
)

// retailPackages returns the packages of the retail demo, each including
// everything below it:
//
//	DISCOVER  stores:read, products:read, products:write, catalog:read,
//	          catalog:write, products:import (stores, products, catalog,
//	          bulk import)
//	ASSIST    + chat:read, chat:write (in-store chat)
//	GO        + offers:read, offers:write, clickcollect:write (offers,
//	          click & collect)
//	GROW      + checkout:start, checkout:confirm (scan & go checkout),
//	          sync:write (POS/ERP/PSP sync)
//	PRIME     + analytics:export (everything above and analytics export)
//
// PRIME adds analytics:export to the permissions of the packages below it
// rather than "*:*", so that a permission the service adds later belongs
// to no package until it is placed in one.
func retailPackages() *access.Packages {
	ps, err := access.NewPackages([]access.Package{
		{Name: packageDiscover, Permissions: []string{
			"stores:read", "products:read", "products:write",
			"catalog:read", "catalog:write", "products:import",
		}},
		{Name: packageAssist, Permissions: []string{"chat:write", "chat:read"}},
		{Name: packageGo, Permissions: []string{"offers:write", "offers:read", "clickcollect:write"}},
		{Name: packageGrow, Permissions: []string{"checkout:start", "checkout:confirm", "sync:write"}},
		{Name: packagePrime, Permissions: []string{"analytics:export"}},
	})
	if err != nil {
		panic(err) // a constant configuration
	}
	return ps
}
