package account_test

import (
	"context"
	"testing"

	"github.com/keygate/keygate/account"
)

// BenchmarkManagerGet is the per-request account lookup of the middleware:
// a Manager over a CachedStore, every read a cache hit.
func BenchmarkManagerGet(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store func() account.Store
	}{
		{"cached", func() account.Store {
			return account.NewCachedStore(account.NewMemoryStore(), account.CacheConfig{})
		}},
		{"memory", func() account.Store { return account.NewMemoryStore() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := account.NewManager(account.Config{Store: tc.store()})
			if err != nil {
				b.Fatal(err)
			}
			a, err := m.Create(ctx, account.CreateParams{Name: "bench", Package: "GO"})
			if err != nil {
				b.Fatal(err)
			}
			var lookup account.Lookup = m // as the middleware holds it
			b.ReportAllocs()
			for b.Loop() {
				got, err := lookup.Get(ctx, a.ID)
				if err != nil || got.ID != a.ID {
					b.Fatal(got, err)
				}
			}
		})
	}
}
