package apikey_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// BenchmarkVerifyScale verifies keys in a MemoryStore holding 1 thousand,
// 100 thousand and 1 million keys: the time per verification should not
// grow with the number of keys (sync.Map lookups). It also reports the
// memory the store takes per key ("B/key"), for a key as the demo mints it
// (one store, one permission), measured as live heap growth.
//
//	go test -run='^$' -bench=VerifyScale -benchtime=2s ./apikey
func BenchmarkVerifyScale(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			if testing.Short() && n > 1_000 {
				b.Skip("large stores take a while to fill")
			}
			ctx := context.Background()
			store := apikey.NewMemoryStore()
			m, err := apikey.NewManager(apikey.Config{Store: store})
			if err != nil {
				b.Fatal(err)
			}
			p := apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: []string{"store_1"}, Permissions: []string{"products:read"}}, Kind: keygate.KindSecret}
			keys := make([]string, 0, 1024)
			before := liveHeap()
			for i := range n {
				k, _, err := m.Create(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				if i < cap(keys) {
					keys = append(keys, k.Reveal())
				}
			}
			perKey := float64(liveHeap()-before) / float64(n)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := m.Verify(ctx, keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(perKey, "B/key")
			runtime.KeepAlive(store)
		})
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
