package geo_test

import (
	"errors"
	"fmt"

	"github.com/keygate/keygate/geo"
)

func ExampleRules_Check() {
	rules, err := geo.ParseRules(geo.RulesConfig{
		Allow: []string{"DE", "FR", "RU"},
		Deny:  []string{"RU"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(rules.Check("DE", true))
	fmt.Println(errors.Is(rules.Check("RU", true), geo.ErrGeoForbidden))
	fmt.Println(rules.Check("US", true))
	fmt.Println(rules.Check("", false))
	// Output:
	// <nil>
	// true
	// geo: country not allowed: US is not allowed
	// geo: country not allowed: unknown country
}
