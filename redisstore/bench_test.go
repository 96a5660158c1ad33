package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate/ratelimit"
	"github.com/redis/go-redis/v9"
)

// The benchmarks measure one call against the test Redis: its latency, one
// round trip on loopback and the command's work in Redis. Run them with
// the servers up:
//
//	./scripts/services.sh start && eval "$(./scripts/services.sh env)"
//	cd redisstore && go test -run='^$' -bench=. -benchtime=2s

// BenchmarkNonceStoreClaim claims distinct nonces of one key ID, with the
// per-key-ID bound on (so counted) but larger than the claims.
func BenchmarkNonceStoreClaim(b *testing.B) {
	cfg := testConfig(b)
	cfg.MaxNoncesPerKey = 1 << 30
	s := must[*NonceStore](b)(NewNonceStore(cfg))
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ok, err := s.Claim(ctx, "key_1", strconv.Itoa(i), exp)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkOneTimeStoreConsume(b *testing.B) {
	s := must[*OneTimeStore](b)(NewOneTimeStore(testConfig(b)))
	ctx := context.Background()
	now := time.Now()
	hash := func(i int) [32]byte {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(i))
		return sha256.Sum256(n[:])
	}
	// The records to consume are put beforehand, outside the timing, in
	// batches of one pipeline each.
	const batch = 1000
	put := func(from, to int) {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := from; i < to; i++ {
				rec := sampleRecord(now)
				rec.Hash = hash(i)
				b, _ := encodeOneTime(rec)
				p.SetNX(ctx, s.oneTimeKey(rec.Hash), b, time.Minute)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%batch == 0 {
			b.StopTimer()
			put(i, i+batch)
			b.StartTimer()
		}
		if _, err := s.Consume(ctx, hash(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDenylistIsRevoked(b *testing.B) {
	d := must[*Denylist](b)(NewDenylist(testConfig(b)))
	ctx := context.Background()
	now := time.Now()
	if err := d.RevokeSubject(ctx, "sub_1", now.Add(-time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if revoked, err := d.IsRevoked(ctx, "jti_1", "sub_1", "", now); err != nil || revoked {
			b.Fatal(revoked, err)
		}
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := must[*Limiter](b)(NewLimiter(testConfig(b)))
	ctx := context.Background()
	p := ratelimit.Policy{Limit: 1 << 30, Window: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := l.Allow(ctx, "acct_1", p); err != nil || !d.Allowed {
			b.Fatal(d, err)
		}
	}
}
