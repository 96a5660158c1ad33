package keygate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate"
)

// FuzzContextRoundTrip: whatever the Principal (a method, mode or kind in
// the vocabulary or not, one or all token fields or none, nil, empty or up to four
// stores and permissions, any address with or without a zone), NewContext
// and WithPrincipal give it back exactly, in whichever of their forms:
// the stores a copy of the context's own, which neither the caller's
// later writes nor the handler's reach, and the permissions shared with
// the caller's, as the Principal documents (and as before the compact
// forms).
func FuzzContextRoundTrip(f *testing.F) {
	f.Add("api_key", "live", "sk", "", "key_1", "acct", "GO", "s1", uint8(2), uint8(1), []byte{192, 0, 2, 1}, "")
	f.Add("jwt", "test", "pk", "jti", "", "", "", "", uint8(0), uint8(0), []byte{}, "")
	f.Add("hmac", "", "", "", "k", "", "", "", uint8(5), uint8(4), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "eth0")
	f.Add("custom", "staging", "xx", "", "", "", "", "", uint8(3), uint8(6), []byte{10, 0, 0, 1}, "")
	f.Fuzz(func(t *testing.T, method, mode, kind, token, keyID, account, pkg, store string, nStores, nPerms uint8, ip []byte, zone string) {
		list := func(n uint8, prefix string) []string {
			switch n %= 6; n {
			case 5:
				return nil
			default:
				s := make([]string, n, n+1) // spare capacity, as a caller's may have
				for i := range s {
					s[i] = prefix + strings.Repeat("x", i)
				}
				return s
			}
		}
		p := keygate.Principal{
			Method: keygate.Method(method), KeyID: keyID, Account: account,
			Mode: keygate.Mode(mode), Kind: keygate.Kind(kind), Package: pkg,
			Permissions: list(nPerms, "perm"), Stores: list(nStores, "store"), Store: store,
		}
		switch token := []rune(token); {
		case len(token) == 0:
		case token[0]%4 == 0:
			p.TokenID = string(token)
		case token[0]%4 == 1:
			p.Subject = string(token)
		case token[0]%4 == 2:
			p.Scope = string(token)
		default: // all three, as an access token's Principal has them
			p.TokenID, p.Subject, p.Scope = string(token), "sub_"+string(token), "scope "+string(token)
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			if a.Is6() && zone != "" {
				a = a.WithZone(zone)
			}
			p.ClientIP = a
		}
		want := p
		want.Stores = slices.Clone(p.Stores)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for how, ctx := range map[string]context.Context{
			"NewContext":    keygate.NewContext(context.Background(), p),
			"WithPrincipal": keygate.WithPrincipal(r, p).Context(),
		} {
			got, ok := keygate.FromContext(ctx)
			if !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: got %#v, want %#v", how, got, want)
			}
			if len(got.Stores) > 0 {
				if &got.Stores[0] == &p.Stores[0] {
					t.Fatalf("%s: the stores are the caller's", how)
				}
				if cap(got.Stores) != len(got.Stores) {
					t.Fatalf("%s: the stores have spare capacity", how)
				}
				p.Stores[0] = "written by the caller"
				got.Stores[0] = "written by the handler"
				if again, _ := keygate.FromContext(ctx); again.Stores[0] == "written by the caller" {
					t.Fatalf("%s: the caller's write shows through", how)
				}
				if p.Stores[0] != "written by the caller" {
					t.Fatalf("%s: the handler's write reached the caller", how)
				}
				p.Stores[0] = want.Stores[0]
			}
			if len(got.Permissions) > 0 && &got.Permissions[0] != &p.Permissions[0] {
				t.Fatalf("%s: the permissions are not the caller's (shared before)", how)
			}
		}
	})
}
