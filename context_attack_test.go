package keygate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// contextKey has the name of keygate's own unexported key: a key of
// another package with the same name is another key.
type contextKey struct{}

// attackPrincipals returns Principals across every layout NewContext and
// WithPrincipal choose between: each method, mode and kind of the
// vocabulary and one outside it, no token field, each alone and all three,
// nil, empty, one, two and three stores (with spare capacity, as a
// caller's may have), nil, empty and several permissions, and a zero, v4,
// v4-in-v6 and zoned v6 address.
func attackPrincipals() []keygate.Principal {
	methods := []keygate.Method{"", keygate.MethodAPIKey, keygate.MethodJWT, keygate.MethodHMAC, keygate.MethodOneTime,
		keygate.MethodConsole, "JWT", "jwt "}
	modes := []keygate.Mode{"", keygate.ModeTest, keygate.ModeLive, "Live"}
	kinds := []keygate.Kind{"", keygate.KindPublishable, keygate.KindSecret, "rk"}
	tokens := [][3]string{{}, {"jti_1", "", ""}, {"", "sub_1", ""}, {"", "", "orders:read"}, {"jti_1", "sub_1", "a b"}}
	list := func(n int, prefix string) []string {
		if n < 0 {
			return nil
		}
		s := make([]string, n, n+2)
		for i := range s {
			s[i] = fmt.Sprintf("%s_%d", prefix, i)
		}
		return s
	}
	ips := []netip.Addr{{}, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.1"),
		netip.MustParseAddr("fe80::1%eth0")}
	var ps []keygate.Principal
	i := 0
	for _, m := range methods {
		for _, mode := range modes {
			for _, k := range kinds {
				for _, tok := range tokens {
					for nStores := -1; nStores <= 3; nStores++ {
						i++
						ps = append(ps, keygate.Principal{
							Method: m, Mode: mode, Kind: k,
							TokenID: tok[0], Subject: tok[1], Scope: tok[2],
							KeyID: fmt.Sprintf("key_%d", i), Account: "acct", Package: []string{"", "GO"}[i%2],
							Permissions: list(i%4-1, "perm"), Stores: list(nStores, "store"),
							ClientIP: ips[i%len(ips)], Store: []string{"", "store_0"}[i%2],
						})
					}
				}
			}
		}
	}
	return ps
}

// TestContextAttackRoundTrip: every Principal of attackPrincipals comes
// back from FromContext exactly as it went in, through NewContext and
// WithPrincipal, over a parent that itself carries another Principal (of
// every layout); its stores are the context's own (not the caller's, no
// spare capacity an append could write into), and a handler's append
// reaches neither the context nor the caller.
func TestContextAttackRoundTrip(t *testing.T) {
	ps := attackPrincipals()
	// Parents carrying a Principal of each layout: compact key, compact
	// token, one store, more than two stores.
	parents := []context.Context{context.Background()}
	for _, p := range []keygate.Principal{
		{Method: keygate.MethodAPIKey, Account: "outer", Stores: []string{"o1", "o2"}},
		{Method: keygate.MethodJWT, TokenID: "outer_jti", Account: "outer", Stores: []string{"o1"}},
		{Method: "custom", Account: "outer", Stores: []string{"o1"}},
		{Method: keygate.MethodJWT, TokenID: "outer_jti", Account: "outer", Stores: []string{"o1", "o2", "o3"}},
	} {
		parents = append(parents, keygate.NewContext(context.Background(), p))
	}
	for i, p := range ps {
		want := p
		want.Stores = slices.Clone(p.Stores)
		parent := parents[i%len(parents)]
		r := httptest.NewRequestWithContext(parent, http.MethodGet, "/", nil)
		for how, ctx := range map[string]context.Context{
			"NewContext":    keygate.NewContext(parent, p),
			"WithPrincipal": keygate.WithPrincipal(r, p).Context(),
		} {
			got, ok := keygate.FromContext(ctx)
			if !ok || !reflect.DeepEqual(got, want) || (got.Stores == nil) != (want.Stores == nil) ||
				(got.Permissions == nil) != (want.Permissions == nil) {
				t.Fatalf("%s: got %#v, want %#v", how, got, want)
			}
			// Through a context derived from it, too.
			derived, cancel := context.WithCancel(context.WithValue(ctx, contextKey{}, "other package"))
			if again, ok := keygate.FromContext(derived); !ok || !reflect.DeepEqual(again, want) {
				t.Fatalf("%s, derived: got %#v, want %#v", how, again, want)
			}
			cancel()
			if len(got.Stores) == 0 {
				continue
			}
			if &got.Stores[0] == &p.Stores[0] {
				t.Fatalf("%s %+v: the stores are the caller's", how, p)
			}
			if cap(got.Stores) != len(got.Stores) {
				t.Fatalf("%s %+v: spare capacity %d", how, p, cap(got.Stores)-len(got.Stores))
			}
			appended := append(got.Stores, "appended")
			appended[0] = "appended's"
			if again, _ := keygate.FromContext(ctx); !reflect.DeepEqual(again, want) {
				t.Fatalf("%s %+v: a handler's append reached the context: %#v", how, p, again)
			}
			if !slices.Equal(p.Stores, want.Stores) || slices.Contains(p.Stores[:cap(p.Stores)], "appended") {
				t.Fatalf("%s %+v: a handler's append reached the caller: %q", how, p, p.Stores[:cap(p.Stores)])
			}
			p.Stores[0] = "written by the caller"
			if again, _ := keygate.FromContext(ctx); !reflect.DeepEqual(again, want) {
				t.Fatalf("%s %+v: the caller's write reached the context: %#v", how, p, again)
			}
			p.Stores[0] = want.Stores[0]
		}
	}
}

// TestContextAttackTwoContexts: two contexts made from one Principal
// value, or from the same caller's slice, share no stores: a write into
// one Principal's stores (which the Principal says not to make, but a
// handler may) never shows in a request that another context carries.
func TestContextAttackTwoContexts(t *testing.T) {
	for _, p := range attackPrincipals() {
		if len(p.Stores) == 0 {
			continue
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		a := keygate.WithPrincipal(r, p).Context()
		b := keygate.NewContext(context.Background(), p)
		c := keygate.WithPrincipal(r, p).Context()
		pa, _ := keygate.FromContext(a)
		pa.Stores[0] = "written through a"
		for how, ctx := range map[string]context.Context{"NewContext": b, "WithPrincipal": c} {
			if pb, _ := keygate.FromContext(ctx); pb.Stores[0] != p.Stores[0] {
				t.Fatalf("%+v: a write into one request's stores reached %s's: %q", p, how, pb.Stores)
			}
		}
	}
}

// TestContextAttackValue: for every key but its own, the Principal's
// context answers Value as context.WithValue's does over the same
// parent, whatever the key's type (a key of the same name in another
// package, nil, a string, a pointer, an interface holding a value of an
// uncomparable type: no panic, as WithValue does not panic).
func TestContextAttackValue(t *testing.T) {
	type ownKey struct{}
	type strKey string
	var ptrKey = new(int)
	parent := context.WithValue(context.WithValue(context.WithValue(context.Background(),
		contextKey{}, "same name"), ptrKey, "pointer"), strKey("string"), "string value")
	keys := []any{contextKey{}, ownKey{}, ptrKey, new(int), strKey("string"), "string", "", nil, 0, []int{1}, map[string]int{}, func() {}}
	ref := context.WithValue(parent, ownKey{}, "own") // the reference: WithValue over the same parent
	for _, p := range attackPrincipals()[:200] {
		r := httptest.NewRequestWithContext(parent, http.MethodGet, "/", nil)
		for how, ctx := range map[string]context.Context{
			"NewContext":    keygate.NewContext(parent, p),
			"WithPrincipal": keygate.WithPrincipal(r, p).Context(),
		} {
			for _, k := range keys {
				if _, isOwn := k.(ownKey); isOwn {
					continue
				}
				var got, want any
				func() {
					defer func() {
						if v := recover(); v != nil {
							t.Fatalf("%s %+v: Value(%#v) panicked: %v", how, p, k, v)
						}
					}()
					got, want = ctx.Value(k), ref.Value(k)
				}()
				if got != want {
					t.Errorf("%s: Value(%T %#v) = %v, want %v (WithValue)", how, k, k, got, want)
				}
			}
		}
	}
}

// TestContextAttackCancellation: the Principal's context, in every
// layout, is done exactly when its parent is, with the parent's error,
// cause and deadline; a context derived from it is cancelled with it,
// AfterFunc runs, and WithoutCancel keeps the Principal but not the
// cancellation.
func TestContextAttackCancellation(t *testing.T) {
	cause := errors.New("the cause")
	for _, p := range attackPrincipals()[:400] {
		deadline := time.Now().Add(time.Hour)
		parent, cancel := context.WithDeadline(context.Background(), deadline)
		parent, cancelCause := context.WithCancelCause(parent)
		r := httptest.NewRequestWithContext(parent, http.MethodGet, "/", nil)
		ctxs := map[string]context.Context{
			"NewContext":    keygate.NewContext(parent, p),
			"WithPrincipal": keygate.WithPrincipal(r, p).Context(),
		}
		type derived struct {
			child context.Context
			ran   chan struct{}
		}
		children := map[string]derived{}
		for how, ctx := range ctxs {
			if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
				t.Fatalf("%s: deadline %v, %v", how, d, ok)
			}
			if ctx.Err() != nil || ctx.Done() == nil {
				t.Fatalf("%s: done before its parent", how)
			}
			child, stop := context.WithCancel(ctx)
			defer stop()
			ran := make(chan struct{})
			context.AfterFunc(ctx, func() { close(ran) })
			children[how] = derived{child, ran}
			wc := context.WithoutCancel(ctx)
			if got, ok := keygate.FromContext(wc); !ok || !reflect.DeepEqual(got, p) {
				t.Fatalf("%s: WithoutCancel lost the Principal: %#v", how, got)
			}
		}
		cancelCause(cause)
		cancel()
		for how, ctx := range ctxs {
			select {
			case <-ctx.Done():
			default:
				t.Fatalf("%s: not done after its parent", how)
			}
			if !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != cause {
				t.Fatalf("%s: err %v, cause %v", how, ctx.Err(), context.Cause(ctx))
			}
			d := children[how]
			select {
			case <-d.child.Done():
			default:
				t.Fatalf("%s: the derived context was not cancelled with its parent", how)
			}
			if context.Cause(d.child) != cause {
				t.Fatalf("%s: derived cause %v", how, context.Cause(d.child))
			}
			select {
			case <-d.ran:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: AfterFunc did not run", how)
			}
			if got, _ := keygate.FromContext(d.child); !reflect.DeepEqual(got, p) {
				t.Fatalf("%s: the cancelled derived context lost the Principal: %#v", how, got)
			}
		}
	}
}

// TestContextAttackConcurrentReaders: many goroutines read one request's
// Principal while its parent is cancelled (go test -race): the context is
// immutable once made.
func TestContextAttackConcurrentReaders(t *testing.T) {
	for _, p := range []keygate.Principal{
		{Method: keygate.MethodAPIKey, KeyID: "k", Stores: []string{"s1", "s2"}},
		{Method: keygate.MethodJWT, TokenID: "jti", Subject: "sub", Scope: "a b", Stores: []string{"s1"}},
		{Method: keygate.MethodJWT, TokenID: "jti", Stores: []string{"s1", "s2"}},
		{Method: "custom", Stores: []string{"s1"}},
	} {
		parent, cancel := context.WithCancel(context.Background())
		r := keygate.WithPrincipal(httptest.NewRequestWithContext(parent, http.MethodGet, "/", nil), p)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					got, ok := keygate.FromContext(r.Context())
					if !ok || !reflect.DeepEqual(got, p) {
						t.Errorf("%+v: got %#v", p, got)
						return
					}
					_ = r.Context().Err()
				}
			})
		}
		cancel()
		wg.Wait()
	}
}
