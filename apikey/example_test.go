package apikey_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// Mint a secret test key. The plaintext exists only in the returned Key:
// show it to its owner once; the store keeps its hash.
func ExampleManager_Create() {
	keys, err := apikey.NewManager(apikey.Config{}) // in memory, prefix "bk"
	if err != nil {
		panic(err)
	}
	key, rec, err := keys.Create(context.Background(), apikey.CreateParams{
		Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest, Stores: []string{"store_1"}},
		Kind:  keygate.KindSecret,
		Name:  "POS terminal 7",
	})
	if err != nil {
		panic(err)
	}
	plaintext := key.Reveal() // hand this to the owner, once
	fmt.Println(strings.HasPrefix(plaintext, "bk_test_sk_"), len(plaintext))
	fmt.Println(rec.Status, rec.ID == key.ID())
	fmt.Println(strings.Contains(fmt.Sprint(key), plaintext)) // a Key redacts itself
	// Output:
	// true 76
	// active true
	// false
}

// Verify a presented key; errors say why it was refused.
func ExampleManager_Verify() {
	keys, _ := apikey.NewManager(apikey.Config{})
	ctx := context.Background()
	key, _, _ := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})

	rec, err := keys.Verify(ctx, key.Reveal())
	fmt.Println(rec.Account, rec.Mode, err)

	_, err = keys.Verify(ctx, "bk_test_sk_not-a-key")
	fmt.Println(errors.Is(err, apikey.ErrMalformed))

	keys.Revoke(ctx, key.ID())
	_, err = keys.Verify(ctx, key.Reveal())
	fmt.Println(errors.Is(err, apikey.ErrRevoked))
	// Output:
	// acct_42 test <nil>
	// true
	// true
}

// Roll a key: the new secret works at once and the old one keeps working
// for the grace period.
func ExampleManager_Rotate() {
	keys, _ := apikey.NewManager(apikey.Config{})
	ctx := context.Background()
	old, _, _ := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})

	fresh, _, err := keys.Rotate(ctx, old.ID(), 0) // no grace: the old secret stops now
	if err != nil {
		panic(err)
	}
	_, errOld := keys.Verify(ctx, old.Reveal())
	_, errNew := keys.Verify(ctx, fresh.Reveal())
	fmt.Println(fresh.ID() == old.ID(), errors.Is(errOld, apikey.ErrUnknownKey), errNew)
	// Output: true true <nil>
}

func ExampleParse_documented() {
	info, err := apikey.Parse("bk_test_sk_0jPS8MolTrPGFJpht2Hj6l5maTZnG4HvpzqJgmrnOwgpGQ312ywnRYwDjET3hnoEm")
	fmt.Println(info.Prefix, info.Mode, info.Kind, info.ID, err)
	// Output: bk test sk 0jPS8MolTrPGFJph <nil>
}

func ExampleParse() {
	info, err := apikey.Parse("bk_live_pk_" + strings.Repeat("0", apikey.BodyLen))
	fmt.Println(info == apikey.Info{}, errors.Is(err, apikey.ErrMalformed)) // all zeros: bad checksum
	// Output: true true
}
