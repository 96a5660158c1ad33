// Package testpackages is a test fixture: the packages of a retail
// product, DISCOVER < ASSIST < GO < GROW < PRIME, the same as the
// reference server's demo (cmd/keygate), so that the library's tests
// exercise a realistic set of plans. Only tests import it: the library
// ships mechanisms, never a product's packages.
package testpackages

import "github.com/keygate/keygate/access"

// The names of the packages of [Retail], lowest first.
const (
	Discover = "DISCOVER"
	Assist   = "ASSIST"
	Go       = "GO"
	Grow     = "GROW"
	Prime    = "PRIME"
)

// Retail returns the packages of a retail product, each including
// everything below it:
//
//	DISCOVER  stores:read, products:read, products:write, catalog:read,
//	          catalog:write, products:import
//	ASSIST    + chat:write, chat:read
//	GO        + offers:write, offers:read, clickcollect:write
//	GROW      + checkout:start, checkout:confirm, sync:write
//	PRIME     + analytics:export
//
// Each call returns a new *access.Packages.
func Retail() *access.Packages {
	ps, err := access.NewPackages([]access.Package{
		{Name: Discover, Permissions: []string{
			"stores:read", "products:read", "products:write",
			"catalog:read", "catalog:write", "products:import",
		}},
		{Name: Assist, Permissions: []string{"chat:write", "chat:read"}},
		{Name: Go, Permissions: []string{"offers:write", "offers:read", "clickcollect:write"}},
		{Name: Grow, Permissions: []string{"checkout:start", "checkout:confirm", "sync:write"}},
		{Name: Prime, Permissions: []string{"analytics:export"}},
	})
	if err != nil {
		panic(err) // a constant configuration
	}
	return ps
}
