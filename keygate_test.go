package keygate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

type otherKey struct{}

func TestContextRoundTrip(t *testing.T) {
	_, ok := keygate.FromContext(context.Background())
	assert.False(t, ok)

	parent, cancel := context.WithTimeout(context.WithValue(context.Background(), otherKey{}, "kept"), time.Hour)
	p := keygate.Principal{Method: keygate.MethodAPIKey, KeyID: "k1", Account: "a1", Mode: keygate.ModeTest,
		Kind: keygate.KindSecret, Stores: []string{"s1"}, Store: "s1"}
	ctx := keygate.NewContext(parent, p)

	got, ok := keygate.FromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, p, got)
	got.Account = "changed"
	again, _ := keygate.FromContext(ctx)
	assert.Equal(t, "a1", again.Account, "FromContext returns a copy")

	assert.Equal(t, "kept", ctx.Value(otherKey{}), "other values pass through")
	_, hasDeadline := ctx.Deadline()
	assert.True(t, hasDeadline)

	// Cancellation flows from the parent, also to contexts derived later.
	child, stop := context.WithCancel(ctx)
	defer stop()
	// The Principal's context answers the parent's Value and Done, so
	// the standard library links the derived context to the parent
	// directly and cancels it before cancel returns: nothing to wait for.
	cancel()
	select {
	case <-child.Done():
	default:
		t.Fatal("cancelling the parent did not reach the derived context")
	}
	assert.ErrorIs(t, child.Err(), context.Canceled)
	assert.ErrorIs(t, ctx.Err(), context.Canceled)

	// A nested Principal shadows the outer one.
	inner := keygate.NewContext(ctx, keygate.Principal{Account: "a2"})
	got, _ = keygate.FromContext(inner)
	assert.Equal(t, "a2", got.Account)
}

func TestModeAndKindValid(t *testing.T) {
	assert.True(t, keygate.ModeTest.Valid())
	assert.True(t, keygate.ModeLive.Valid())
	assert.False(t, keygate.Mode("LIVE").Valid())
	assert.False(t, keygate.Mode("").Valid())
	assert.True(t, keygate.KindPublishable.Valid())
	assert.True(t, keygate.KindSecret.Valid())
	assert.False(t, keygate.Kind("rk").Valid())
}

func TestCloneGrant(t *testing.T) {
	grant := func() keygate.Grant {
		return keygate.Grant{
			Account: "acct_1", Mode: keygate.ModeTest, Package: "GO",
			Permissions: []string{"a:read", "b:write"}, Stores: []string{"s1"},
			AllowedIPs: []string{"10.0.0.0/8"}, DeniedIPs: []string{"10.1.0.0/16"},
			AllowedCountries: []string{"SE"}, DeniedCountries: []string{},
		}
	}
	g := grant()
	c := keygate.CloneGrant(g)
	require.Equal(t, g, c)
	// Appending to each of the clone's slices overwrites none of the
	// others (they share one backing array), and writing into them leaves
	// the original alone.
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			f.Set(reflect.Append(f, reflect.ValueOf("appended")))
		}
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			orig := reflect.ValueOf(g).Field(i).Interface().([]string)
			assert.Equal(t, append(slices.Clone(orig), "appended"), f.Interface(), v.Type().Field(i).Name)
			f.Index(0).SetString("changed")
		}
	}
	assert.Equal(t, grant(), g, "the original changed")
	n := keygate.CloneGrant(keygate.Grant{Account: "a"})
	assert.Nil(t, n.Permissions)
	assert.Nil(t, n.AllowedCountries)
}

// TestCloneGrantEmptySpareCapacity checks that a copy shares no memory
// with the original even when every slice is empty: appending to an empty
// slice of the copy must not write into the original's spare capacity.
func TestCloneGrantEmptySpareCapacity(t *testing.T) {
	backing := make([]string, 0, 4)
	g := keygate.Grant{Account: "a", Permissions: backing, Stores: backing[:0:2]}
	c := keygate.CloneGrant(g)
	assert.NotNil(t, c.Permissions, "a non-nil empty slice stays non-nil")
	assert.Empty(t, c.Permissions)
	assert.Nil(t, c.AllowedIPs, "a nil slice stays nil")
	c.Permissions = append(c.Permissions, "perm")
	c.Stores = append(c.Stores, "store")
	assert.Equal(t, []string{"", ""}, backing[:2], "appending to the copy wrote into the original's array")
}

func TestContextOwnsItsStores(t *testing.T) {
	// NewContext keeps a copy of the stores of its own (in its own
	// allocation for up to two): writing into the caller's slice changes
	// nothing in the context, and nil and empty stay as they were.
	for _, stores := range [][]string{nil, {}, {"s1"}, {"s1", "s2"}, {"s1", "s2", "s3"}} {
		given := slices.Clone(stores)
		ctx := keygate.NewContext(context.Background(), keygate.Principal{Account: "acct_1", Stores: given})
		for i := range given {
			given[i] = "changed"
		}
		p, ok := keygate.FromContext(ctx)
		if !ok {
			t.Fatal("no Principal")
		}
		if !slices.Equal(p.Stores, stores) || (p.Stores == nil) != (stores == nil) {
			t.Errorf("stores %q: got %#v", stores, p.Stores)
		}
		if cap(p.Stores) != len(p.Stores) {
			t.Errorf("stores %q: spare capacity %d", stores, cap(p.Stores)-len(p.Stores))
		}
	}
}

// TestWithPrincipal checks that WithPrincipal is r.WithContext(NewContext(...))
// in one allocation (two for more than two stores): the copy carries p
// (with stores of its own) and r's context as parent, and r is
// unchanged. With at most one store the allocation fits in 512 bytes.
func TestWithPrincipal(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "parent value")
	r := httptest.NewRequestWithContext(parent, http.MethodGet, "/v1/orders?x=1", nil)
	r.Header.Set("X-Store-Id", "s1")
	for _, stores := range [][]string{nil, {}, {"s1"}, {"s1", "s2"}, {"s1", "s2", "s3"}} {
		given := slices.Clone(stores)
		p := keygate.Principal{Method: keygate.MethodAPIKey, KeyID: "key_1", Account: "acct_1", Stores: given}

		r2 := keygate.WithPrincipal(r, p)
		if r2 == r {
			t.Fatal("not a copy")
		}
		got, ok := keygate.FromContext(r2.Context())
		if !ok || got.KeyID != "key_1" || got.Account != "acct_1" || !slices.Equal(got.Stores, stores) ||
			(got.Stores == nil) != (stores == nil) || cap(got.Stores) != len(got.Stores) {
			t.Fatalf("stores %q: FromContext = %+v, %v", stores, got, ok)
		}
		if len(got.Stores) > 0 {
			got.Stores[0] = "written by the handler"
			if given[0] != "s1" {
				t.Errorf("stores %q: the request's Principal shares its stores with the caller's", stores)
			}
		}
		if r2.Context().Value(key{}) != "parent value" || r2.URL.RawQuery != "x=1" || r2.Header.Get("X-Store-Id") != "s1" {
			t.Errorf("stores %q: the copy lost the request's context, URL or header", stores)
		}
		if _, ok := keygate.FromContext(r.Context()); ok {
			t.Errorf("stores %q: the original request carries the Principal", stores)
		}
		want := 1.0
		if len(stores) > 2 {
			want = 2
		}
		if n := testing.AllocsPerRun(100, func() { keygate.WithPrincipal(r, p) }); n != want {
			t.Errorf("stores %q: %v allocations, want %v", stores, n, want)
		}
		// An API key's Principal with at most two stores takes the
		// compact form; a token's with at most one store its own, in 512
		// bytes without a malloc header.
		if len(stores) <= 2 {
			if n := bytesPerCall(func() { keygate.WithPrincipal(r, p) }); n > 480 {
				t.Errorf("stores %q: %d bytes allocated per call, want at most 480", stores, n)
			}
		}
		token := p
		token.Method, token.TokenID = keygate.MethodJWT, "jti_1"
		if len(stores) <= 1 {
			if n := bytesPerCall(func() { keygate.WithPrincipal(r, token) }); n > 512 {
				t.Errorf("token, stores %q: %d bytes allocated per call, want at most 512", stores, n)
			}
		}
	}
}

// bytesPerCall returns the bytes that f allocates per call: the least
// average over a few runs of many calls, so that what the runtime or
// another goroutine allocates meanwhile does not count.
func bytesPerCall(f func()) uint64 {
	const calls = 10000
	f() // warm up
	least := uint64(1 << 62)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range calls {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, (after.TotalAlloc-before.TotalAlloc)/calls)
	}
	return least
}

// TestContextEveryField: every field of the Principal survives NewContext
// and WithPrincipal, alone or with the others, in each of their forms
// (the compact one of an API key or signed request, the full one of a
// token or of a method, mode or kind outside the vocabulary, or of more
// than two stores). A field added to Principal is covered without
// changing the test: it is set by reflection.
func TestContextEveryField(t *testing.T) {
	typ := reflect.TypeFor[keygate.Principal]()
	// sample returns the values a field of type ft is tried with.
	sample := func(name string, ft reflect.Type) []any {
		switch name {
		case "Method":
			return []any{keygate.MethodAPIKey, keygate.MethodHMAC, keygate.MethodJWT, keygate.Method("custom")}
		case "Mode":
			return []any{keygate.ModeTest, keygate.ModeLive, keygate.Mode("staging")}
		case "Kind":
			return []any{keygate.KindSecret, keygate.KindPublishable, keygate.Kind("xx")}
		}
		switch ft {
		case reflect.TypeFor[string]():
			return []any{name + "_value"}
		case reflect.TypeFor[[]string]():
			return []any{[]string{}, []string{name + "_1"}, []string{name + "_1", name + "_2"}, []string{"a", "b", "c"}}
		case reflect.TypeFor[netip.Addr]():
			return []any{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}
		}
		t.Fatalf("no sample for field %s of type %v", name, ft)
		return nil
	}
	set := func(p *keygate.Principal, i int, v any) {
		reflect.ValueOf(p).Elem().Field(i).Set(reflect.ValueOf(v).Convert(typ.Field(i).Type))
	}
	check := func(name string, p keygate.Principal) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for how, ctx := range map[string]context.Context{
			"NewContext":    keygate.NewContext(context.Background(), p),
			"WithPrincipal": keygate.WithPrincipal(r, p).Context(),
		} {
			got, ok := keygate.FromContext(ctx)
			if !ok || !reflect.DeepEqual(got, p) {
				t.Errorf("%s, %s: got %#v, want %#v", name, how, got, p)
			}
			if len(p.Stores) > 0 && &got.Stores[0] == &p.Stores[0] {
				t.Errorf("%s, %s: the stores are shared", name, how)
			}
		}
	}
	full := keygate.Principal{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		values := sample(f.Name, f.Type)
		for _, v := range values {
			var alone keygate.Principal
			set(&alone, i, v)
			check(fmt.Sprintf("%s=%v alone", f.Name, v), alone)
			// And with an API key's other fields set.
			key := keygate.Principal{Method: keygate.MethodAPIKey, KeyID: "k", Account: "a", Mode: keygate.ModeLive,
				Kind: keygate.KindSecret, Package: "GO", Permissions: []string{"p"}, Stores: []string{"s1", "s2"},
				ClientIP: netip.MustParseAddr("192.0.2.1"), Store: "s1"}
			set(&key, i, v)
			check(fmt.Sprintf("%s=%v in a key's Principal", f.Name, v), key)
		}
		set(&full, i, values[0])
	}
	check("every field", full)
}
