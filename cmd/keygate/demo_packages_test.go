package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/internal/testpackages"
)

// TestRetailPackagesMatchFixture: the library's tests run against
// testpackages.Retail, a copy of the demo's packages (the library ships no
// product's packages); the two must not drift apart. Names, their order
// and what each package includes, in order, are the same.
func TestRetailPackagesMatchFixture(t *testing.T) {
	demo, fixture := retailPackages(), testpackages.Retail()
	assert.Equal(t, fixture.Names(), demo.Names(), "the packages and their order")
	for _, name := range fixture.Names() {
		assert.Equal(t, fixture.Permissions(name), demo.Permissions(name), "the permissions of %s", name)
	}
	assert.Equal(t,
		[]string{testpackages.Discover, testpackages.Assist, testpackages.Go, testpackages.Grow, testpackages.Prime},
		[]string{packageDiscover, packageAssist, packageGo, packageGrow, packagePrime},
		"the names' constants")
}
