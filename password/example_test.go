package password_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/keygate/keygate/password"
)

// Small costs keep the examples fast; a service uses password.DefaultParams.
var exampleParams = password.Params{Memory: 64, Time: 1, Threads: 1}

// Hash makes a PHC string to store; Verify checks a password against it.
func ExampleHash() {
	encoded, err := password.Hash("correct horse battery staple", exampleParams)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(encoded, "$argon2id$"))

	fmt.Println(password.Verify("correct horse battery staple", encoded))
	err = password.Verify("Tr0ub4dor&3", encoded)
	fmt.Println(errors.Is(err, password.ErrMismatch))
	// Output:
	// true
	// <nil>
	// true
}

// A Checker bounds the costly checks of a sign-in open to anyone, and checks
// an unknown name against a dummy hash so that timing does not tell which
// names exist.
func ExampleChecker() {
	stored, err := password.Hash("s3cret-passphrase", exampleParams)
	if err != nil {
		panic(err)
	}
	users := map[string]string{"ada": stored}

	checker, err := password.NewChecker(password.CheckerConfig{Params: exampleParams})
	if err != nil {
		panic(err)
	}
	signIn := func(name, pw string) error {
		client := netip.MustParseAddr("192.0.2.7")
		return checker.Check(context.Background(), client, pw, func(context.Context) (string, bool, error) {
			encoded, known := users[name]
			return encoded, known, nil
		})
	}

	fmt.Println(signIn("ada", "s3cret-passphrase"))
	fmt.Println(errors.Is(signIn("ada", "guess"), password.ErrMismatch))
	fmt.Println(errors.Is(signIn("bob", "s3cret-passphrase"), password.ErrMismatch))
	// Output:
	// <nil>
	// true
	// true
}
