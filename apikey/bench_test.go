package apikey_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// BenchmarkVerify measures a successful verification: parse and checksum,
// SHA-256, store lookup, constant-time compare, state checks and the
// last-used note.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name   string
		pepper []byte
	}{{"sha256", nil}, {"hmac-pepper", []byte(strings.Repeat("p", 32))}} {
		b.Run(bc.name, func(b *testing.B) {
			m, err := apikey.NewManager(apikey.Config{Pepper: bc.pepper})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			// Some other keys, so that the lookup is not in a map of one.
			for i := 0; i < 1000; i++ {
				if _, _, err := m.Create(ctx, params); err != nil {
					b.Fatal(err)
				}
			}
			k, _, err := m.Create(ctx, params)
			if err != nil {
				b.Fatal(err)
			}
			s := k.Reveal()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Verify(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify from every core at once.
func BenchmarkVerifyParallel(b *testing.B) {
	m, s := newBenchKey(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Verify(ctx, s); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// newBenchKey returns a fresh in-memory manager and one key it minted.
func newBenchKey(b *testing.B) (*apikey.Manager, string) {
	m, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		b.Fatal(err)
	}
	k, _, err := m.Create(context.Background(), params)
	if err != nil {
		b.Fatal(err)
	}
	return m, k.Reveal()
}

// BenchmarkRejectGarbage measures refusing a key with a bad checksum, which
// never reaches the store.
func BenchmarkRejectGarbage(b *testing.B) {
	m, s := newBenchKey(b)
	bad := s[:len(s)-1] + "0"
	if bad == s {
		bad = s[:len(s)-1] + "1"
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(ctx, bad); err == nil {
			b.Fatal("accepted a key with a bad checksum")
		}
	}
}

// BenchmarkParse measures the anatomy and checksum check alone.
func BenchmarkParse(b *testing.B) {
	_, s := newBenchKey(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apikey.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedStore is Verify through a CachedStore, every read
// served from memory: the verification cost in front of a slow (SQL)
// store, once the key is cached.
func BenchmarkVerifyCachedStore(b *testing.B) {
	m, err := apikey.NewManager(apikey.Config{Store: apikey.NewCachedStore(apikey.NewMemoryStore(), apikey.CacheConfig{TTL: time.Hour})})
	if err != nil {
		b.Fatal(err)
	}
	k, _, err := m.Create(context.Background(), params)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(ctx, k.Reveal()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyGrantCachedStore is VerifyGrant (the middleware's request
// path) through a CachedStore, every read served from memory.
func BenchmarkVerifyGrantCachedStore(b *testing.B) {
	m, err := apikey.NewManager(apikey.Config{Store: apikey.NewCachedStore(apikey.NewMemoryStore(), apikey.CacheConfig{TTL: time.Hour})})
	if err != nil {
		b.Fatal(err)
	}
	k, _, err := m.Create(context.Background(), params)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	key := k.Reveal()
	var g keygate.Grant
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.VerifyGrant(ctx, key, &g); err != nil {
			b.Fatal(err)
		}
	}
}
