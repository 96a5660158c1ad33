package apikey_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// plainStore is a Store that is neither a MemoryStore nor a CachedStore,
// so that the Manager reads it through Store.Get.
type plainStore struct{ apikey.Store }

// dirtyRecord returns a Record each of whose fields (embedded Grant's
// included) holds a value no key of these tests has.
func dirtyRecord() apikey.Record {
	var rec apikey.Record
	fill(reflect.ValueOf(&rec).Elem())
	return rec
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("junk")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(99)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i))
		}
	case reflect.Uint8:
		v.SetUint(0xAA)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(12345, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// TestAttackLookupIntoOverwritesEveryField: LookupInto is documented as
// Lookup writing into the caller's record, so a record the caller reuses
// (here one whose every field holds junk) must come out equal to what
// Lookup returns, from each kind of store the Manager reads (in place
// from a MemoryStore, from a CachedStore's memory, through Get from any
// other store), for a key with few and with many fields set.
func TestAttackLookupIntoOverwritesEveryField(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func() apikey.Store{
		"memory": func() apikey.Store { return apikey.NewMemoryStore() },
		"cached": func() apikey.Store { return apikey.NewCachedStore(apikey.NewMemoryStore(), apikey.CacheConfig{}) },
		"plain":  func() apikey.Store { return plainStore{apikey.NewMemoryStore()} },
	}
	params := map[string]apikey.CreateParams{
		"bare": {Kind: keygate.KindSecret, Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}},
		"full": {Kind: keygate.KindSecret, Name: "n", Expires: time.Now().Add(time.Hour).Truncate(time.Second),
			Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: "GO",
				Permissions: []string{"products:read"}, Stores: []string{"store_1", "store_2", "store_3"},
				AllowedIPs: []string{"192.0.2.0/24"}, DeniedIPs: []string{"192.0.2.7"},
				AllowedCountries: []string{"SE"}, DeniedCountries: []string{"US"}}},
	}
	for sname, newStore := range stores {
		for pname, p := range params {
			t.Run(sname+"/"+pname, func(t *testing.T) {
				m, err := apikey.NewManager(apikey.Config{Store: newStore()})
				require.NoError(t, err)
				_, created, err := m.Create(ctx, p)
				require.NoError(t, err)
				if pname == "full" {
					_, _, err = m.Rotate(ctx, created.ID, 0) // a cut-off, a rotation time, two hashes
					require.NoError(t, err)
				}
				want, err := m.Lookup(ctx, created.ID)
				require.NoError(t, err)
				into := dirtyRecord()
				require.NotEqual(t, want, into)
				require.NoError(t, m.LookupInto(ctx, created.ID, &into))
				assert.Equal(t, want, into, "no field of the reused record survives")
				got, err := m.Get(ctx, created.ID)
				require.NoError(t, err)
				assert.Equal(t, got.ID, into.ID)
				assert.Equal(t, got.Grant, into.Grant)
				assert.True(t, got.TokensNotBefore.Equal(into.TokensNotBefore))

				into = dirtyRecord()
				assert.ErrorIs(t, m.LookupInto(ctx, "unknown", &into), apikey.ErrNotFound)
			})
		}
	}
}
