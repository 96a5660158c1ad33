package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys a [MemoryLimiter] holds when
// [MemoryConfig.MaxKeys] is zero.
const DefaultMaxKeys = 1 << 20

// MemoryConfig configures a [MemoryLimiter]. The zero value is usable.
type MemoryConfig struct {
	// Now returns the current time; time.Now when nil. Tests inject a
	// settable clock. Only differences between its readings matter.
	Now func() time.Time
	// MaxKeys bounds the number of keys held at once; [DefaultMaxKeys]
	// when zero or negative. Keys are spread over up to 64 shards, each
	// holding at most ceil(MaxKeys/shards); fewer than 2048 keys use a
	// single shard, so the bound is exact.
	MaxKeys int
}

// MemoryLimiter is the embedded in-memory [Limiter] (and [Peeker]): a
// sharded map from key to theoretical arrival time, each shard under its
// own mutex. It is safe for concurrent use; state is lost when the process
// ends and is not shared between processes.
//
// Memory is bounded. A key whose TAT has passed is in the same state as a
// key never seen, so such entries are dropped lazily: a shard is swept
// when it is full, or once it has taken half its size again in new keys,
// and only if some entry may have expired. When a shard is full and
// nothing in it has expired, Allow for a new key fails closed: it refuses
// the request with an error wrapping [ErrFull] (an HTTP server answers 503)
// rather than forgetting some other key's state, which would let that key
// start over with a full burst. Keys already held keep working.
//
// Allow on a key already held does not allocate.
//
// The zero value is not usable; call [NewMemoryLimiter].
type MemoryLimiter struct {
	now      func() time.Time
	epoch    time.Time
	seed     maphash.Seed
	shards   []shard
	mask     uint64
	perShard int
}

type shard struct {
	mu      sync.Mutex
	tats    map[string]int64 // key → TAT, nanoseconds since epoch
	minTAT  int64            // no TAT in tats is below this
	inserts int              // new keys since the last sweep
	_       [32]byte         // keep shards on separate cache lines
}

var _ Peeker = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an empty MemoryLimiter.
func NewMemoryLimiter(cfg MemoryConfig) *MemoryLimiter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	n := 1
	for n < 64 && cfg.MaxKeys/(2*n) >= 1024 {
		n *= 2
	}
	l := &MemoryLimiter{
		now:      cfg.Now,
		seed:     maphash.MakeSeed(),
		shards:   make([]shard, n),
		mask:     uint64(n - 1),
		perShard: (cfg.MaxKeys + n - 1) / n,
	}
	l.epoch = l.now()
	for i := range l.shards {
		l.shards[i].tats = make(map[string]int64)
	}
	return l
}

// clock returns the current time in nanoseconds since the limiter's epoch
// (monotonic when Now is time.Now).
func (l *MemoryLimiter) clock() int64 {
	return int64(l.now().Sub(l.epoch))
}

func (l *MemoryLimiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)&l.mask]
}

// check returns the error for a request that cannot be decided, if any.
func check(ctx context.Context, p Policy) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.Validate()
}

// Allow implements [Limiter].
func (l *MemoryLimiter) Allow(ctx context.Context, key string, p Policy) (Decision, error) {
	if err := check(ctx, p); err != nil {
		return Decision{Limit: max(p.Limit, 0)}, err
	}
	if p.Unlimited() {
		return Decision{Allowed: true}, nil
	}
	now := l.clock()
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, held := s.tats[key]
	if !held {
		if len(s.tats) >= l.perShard || s.inserts > len(s.tats)/2 {
			s.sweep(now)
		}
		if len(s.tats) >= l.perShard {
			return Decision{Limit: p.Limit}, ErrFull
		}
	}
	d, newTAT := gcra(now, tat, p)
	if d.Allowed {
		if !held {
			if len(s.tats) == 0 || newTAT < s.minTAT {
				s.minTAT = newTAT
			}
			s.inserts++
		}
		s.tats[key] = newTAT
	}
	return d, nil
}

// Peek implements [Peeker].
func (l *MemoryLimiter) Peek(ctx context.Context, key string, p Policy) (Decision, error) {
	if err := check(ctx, p); err != nil {
		return Decision{Limit: max(p.Limit, 0)}, err
	}
	if p.Unlimited() {
		return Decision{Allowed: true}, nil
	}
	now := l.clock()
	s := l.shard(key)
	s.mu.Lock()
	tat := s.tats[key]
	s.mu.Unlock()
	return peek(now, tat, p), nil
}

// Len returns the number of keys held, including expired ones not yet
// dropped.
func (l *MemoryLimiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}

// sweep drops the entries whose TAT is not after now, if any may exist.
// Each sweep either drops an entry or makes minTAT exact (and after now),
// so a full shard of live keys is not swept again until one expires.
func (s *shard) sweep(now int64) {
	s.inserts = 0
	if len(s.tats) == 0 || now < s.minTAT {
		return
	}
	lowest := int64(0)
	first := true
	for k, tat := range s.tats {
		if tat <= now {
			delete(s.tats, k)
			continue
		}
		if first || tat < lowest {
			lowest, first = tat, false
		}
	}
	s.minTAT = lowest
}
