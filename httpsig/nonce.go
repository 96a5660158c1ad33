package httpsig

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxNonces is [MemoryNonceConfig.MaxEntries] when zero.
const DefaultMaxNonces = 1 << 20

// DefaultNonceShare is the divisor of the default per-key share: when
// [MemoryNonceConfig.MaxPerKey] is zero, one key ID may hold at most
// MaxEntries/DefaultNonceShare nonces (16,384 for the default MaxEntries).
const DefaultNonceShare = 64

// ErrNonceQuota is returned when the key ID already holds as many unexpired
// nonces as one key ID may ([MemoryNonceConfig.MaxPerKey]), so its request
// cannot be recorded. Only that credential is refused (429 Too Many Requests:
// it sends signed requests faster than its share of the store allows); the
// other key IDs keep their room. Test with errors.Is.
var ErrNonceQuota = errors.New("httpsig: the key ID's share of the nonce store is used up")

// ErrNonceStoreFull is returned when the nonce store holds as many unexpired
// nonces as it may, so it cannot record another one. The request must be
// refused (503), never accepted unrecorded: its nonce could not be checked
// against later replays. Test with errors.Is.
var ErrNonceStoreFull = errors.New("httpsig: nonce store full")

// MemoryNonceConfig configures [NewMemoryNonceStore]. The zero value is
// usable.
type MemoryNonceConfig struct {
	// MaxEntries bounds the number of nonces recorded at once. Zero or
	// less means [DefaultMaxNonces].
	MaxEntries int
	// MaxPerKey bounds the number of nonces recorded at once for one key
	// ID, so that one credential cannot take the room of the others: a
	// key ID at its share gets [ErrNonceQuota] while the others go on.
	// Zero or less means MaxEntries/[DefaultNonceShare] (at least 1); a
	// value above MaxEntries means MaxEntries (no share: one key ID may
	// fill the store).
	MaxPerKey int
	// Now is the clock that decides which nonces have expired. Nil means
	// time.Now.
	Now func() time.Time
}

// MemoryNonceStore is the in-memory [NonceStore]: safe for concurrent use,
// lost when the process ends, private to the process (several instances
// behind one load balancer need a shared store instead).
//
// A nonce is recorded per key ID: the same nonce under two key IDs is two
// entries. Claim is atomic: of any number of concurrent calls for one key
// ID and nonce, exactly one reports true until the recorded expiry passes.
//
// Layout. An entry is identified by a 128-bit keyed hash of the key ID and
// the nonce (two [maphash.Comparable] hashes of the pair, under two random
// seeds made when the store is), not by the strings: an entry takes the
// same room, 64 to 128 bytes (16 in its shard's table, a quarter to half
// full, and 32 in a queue or heap that may have as much again spare),
// whatever the length of the nonce, holds no pointer for the garbage
// collector to follow, and Claim allocates nothing but the amortised
// growth of a table, queue or heap. Two pairs share an entry only
// by a collision of the hash, about n²/2¹²⁹ likely among n entries, and
// could not be aimed at without the seeds; a collision could only make a
// new nonce look like a replay and be refused, never let a replay through.
// Entries are spread over 64 shards by the hash; each shard has its own
// mutex, the set of its entries (an open-addressing table of their
// hashes, in which Claim finds a nonce, or the slot for a new one, in one
// probe) and the same entries ordered by expiry (below). Claim locks one
// shard only.
//
// Eviction. Every Claim first removes from its shard, table included, every
// entry whose expiry is not after now, so a shard never holds an expired
// entry past its next Claim; because shards are chosen by hash, steady
// traffic reaches every shard. The order by expiry is kept in two parts: a
// FIFO queue takes each entry that expires no earlier than the last one
// queued, and a binary min-heap takes the others. The verifier's expiries
// are its clock plus a constant, so nearly all entries go to the queue: an
// insert is an append, an eviction a read at the queue's head, both O(1)
// and in sequential memory (a heap alone cost a quarter of the time of a
// Claim at a million entries). Any order of expiries is still handled
// exactly, in O(log n) for those in the heap. Checking costs two
// comparisons when nothing has expired. The queue is compacted when its
// head passes the middle, and when a shard's entries fall to a quarter of
// its peak, its table, queue and heap are rebuilt at the smaller size,
// so memory follows the live entries rather than the largest burst; both
// are amortised O(1) per entry.
//
// Bound. At most MaxEntries nonces are recorded at once (a global count,
// reserved atomically before an insert). When a Claim finds the count at
// MaxEntries it sweeps every shard of expired entries and tries again; if
// all MaxEntries entries are still unexpired it records nothing and returns
// an error wrapping [ErrNonceStoreFull]. That sweep runs at most once per
// millisecond of the store's clock, over all Claims: a Claim refused within
// a millisecond of the last one is refused at once, without it (each
// shard's own expired entries still go at its next Claim). The store never evicts an
// unexpired entry and never reports true for a nonce it did not record.
// A replay of a recorded nonce still reports false when the store is full.
//
// Share. At most MaxPerKey of those nonces belong to one key ID (a count
// per key ID, kept under a 64-bit keyed hash of the key ID in 64 locked
// shards of its own, reserved before the global count and released when
// the entries are evicted). A new nonce of a key ID at its share is
// refused, after the same sweep of every shard, with an error wrapping
// [ErrNonceQuota]: only that credential is refused, and the store can be
// filled only by MaxEntries/MaxPerKey credentials together (64 with the
// defaults), never by one. Replays are reported as replays whatever the
// counts. Two key IDs share a count only by a collision of the keyed hash
// (about k²/2⁶⁵ likely among k key IDs, and not to be aimed at without the
// seed), which could only refuse them sooner, never accept a replay.
//
// Memory is therefore at most about MaxEntries × 128 bytes (128 MiB for
// the default), plus the room left by the largest burst until it is
// evicted. A shard takes room for MaxEntries/16,384 entries at its first
// nonce (64, 4 KiB, with the default: 256 KiB once every shard has had
// one), so that a new store's first nonces do not regrow its tables
// and queues from nothing. The bounds also cap the rate of accepted requests: with the
// verifier's default skew (nonces kept 601 s; up to 901 s for a signature
// made ahead of the server's clock), 1<<20 entries allow about
// 1,700 requests per second sustained over all key IDs, and the default
// share of 16,384 about 27 per second for one key ID; size MaxEntries for
// the peak rate times the time nonces are kept, and MaxPerKey for the
// busiest credential's.
//
// The zero value is not usable; call [NewMemoryNonceStore].
type MemoryNonceStore struct {
	now         func() time.Time
	systemClock bool // now is time.Now: a Verifier on it may hand its reading over (claimAt)
	max         int64
	perKey      int32        // 0: no share, key IDs are not counted
	initial     int          // the entries a shard has room for at its first
	count       atomic.Int64 // entries recorded, expired or not, over all shards
	// lastSweepAll is when (the store's clock, Unix nanoseconds) the last
	// sweep of every shard started; see claimSweepAll.
	lastSweepAll atomic.Int64
	seeds        [2]maphash.Seed
	shards       [nonceShards]nonceShard
	keys         [nonceShards]nonceKeyShard
}

// nonceKeyShard counts the entries, expired or not, of the key IDs whose
// hash falls in it. A key ID with no entry has no count.
type nonceKeyShard struct {
	mu sync.Mutex
	n  map[uint64]int32 // key ID hash → entries
	_  [48]byte         // pad: shards on distinct cache lines
}

// nonceShards is the number of shards of a MemoryNonceStore, a power of two.
const nonceShards = 64

// nonceInitialShare is the divisor of a shard's share of MaxEntries that
// gives the room it takes at its first entry (64 entries for the default
// MaxEntries): a new store's first nonces, a few seconds of traffic at the
// rates the default bounds allow, fill its tables and queues without
// regrowing them from nothing.
const nonceInitialShare = 256

// nonceInitialMax bounds the room a shard takes at its first entry (what
// the default MaxEntries gives it), so that a MaxEntries meant as "no
// practical bound" does not make a first nonce reserve room in
// proportion to it.
const nonceInitialMax = 64

// nonceShrinkMin is the peak size below which a shard is never rebuilt.
const nonceShrinkMin = 1024

type nonceShard struct {
	mu sync.Mutex
	t  nonceTable // the entries; no room until the first
	// The entries of t are those of queue[head:] and heap.
	queue []nonceEntry // exp never decreasing
	head  int
	heap  []nonceEntry // min-heap by exp
	peak  int          // largest t.n since the last rebuild
	_     [24]byte     // pad to 128 bytes: shards on distinct cache lines
}

// nonceKey is the 128-bit keyed hash of a key ID and nonce.
type nonceKey [2]uint64

type nonceEntry struct {
	exp int64
	key nonceKey
	kid uint64 // hash of the key ID, for its count
}

// nonceID is what is hashed: comparable, so hashed by content, field by
// field (never ambiguous as a concatenation would be).
type nonceID struct{ keyID, nonce string }

// NewMemoryNonceStore returns an empty MemoryNonceStore.
func NewMemoryNonceStore(cfg MemoryNonceConfig) *MemoryNonceStore {
	s := &MemoryNonceStore{now: cfg.Now, max: int64(cfg.MaxEntries),
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	if s.now == nil {
		s.now, s.systemClock = time.Now, true
	}
	if s.max <= 0 {
		s.max = DefaultMaxNonces
	}
	s.initial = int(min(s.max/nonceShards/nonceInitialShare, nonceInitialMax))
	switch per := int64(cfg.MaxPerKey); {
	case per <= 0:
		s.perKey = int32(max(1, s.max/DefaultNonceShare))
	case per >= s.max || per > math.MaxInt32:
		s.perKey = 0 // no share: nothing to count
	default:
		s.perKey = int32(per)
	}
	for i := range s.shards {
		s.keys[i].n = make(map[uint64]int32)
	}
	return s
}

var _ NonceStore = (*MemoryNonceStore)(nil)

// Claim implements [NonceStore]. It returns an error, and records nothing,
// if ctx is done (wrapping ctx.Err()), if expires is not after the store's
// clock (a nonce that would be forgotten at once protects nothing), or,
// if the nonce is new, wrapping [ErrNonceQuota] when MaxPerKey unexpired
// nonces of keyID are recorded and wrapping [ErrNonceStoreFull] when
// MaxEntries unexpired nonces are. A nonce recorded and not expired is
// reported as a replay (false, nil), also when the store or the key ID's
// share is full.
func (s *MemoryNonceStore) Claim(ctx context.Context, keyID, nonce string, expires time.Time) (bool, error) {
	return s.claimAt(ctx, keyID, nonce, expires, time.Time{})
}

// claimAt is Claim at now, a reading of the store's own clock that the
// caller made (a Verifier whose clock is also time.Now), or at a reading
// of its own when now is zero.
func (s *MemoryNonceStore) claimAt(ctx context.Context, keyID, nonce string, expires, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("httpsig: nonce store: %w", err)
	}
	if now.IsZero() {
		now = s.now()
	}
	exp, t := nonceNanos(expires), nonceNanos(now)
	if exp <= t {
		return false, fmt.Errorf("httpsig: nonce store: expiry %v is not after now (%v)", expires, now)
	}
	id := nonceID{keyID, nonce}
	k := nonceKeyOf(maphash.Comparable(s.seeds[0], id), maphash.Comparable(s.seeds[1], id))
	kid := maphash.String(s.seeds[0], keyID)
	sh := &s.shards[k[0]%nonceShards]

	sh.mu.Lock()
	s.sweep(sh, t)
	// The slot of k, or where it goes: one probe for both (a table with
	// no room yet holds nothing).
	i, found := 0, false
	if len(sh.t.slots) > 0 {
		i, found = sh.t.find(k)
	}
	if found {
		sh.mu.Unlock()
		return false, nil
	}
	if err := s.reserve(kid); err != nil {
		// Full, counting entries that may have expired in other shards:
		// sweep them all (without holding this shard) and try once more,
		// unless another Claim did so less than sweepAllEvery ago.
		if !s.claimSweepAll(t) {
			sh.mu.Unlock()
			return false, err
		}
		sh.mu.Unlock()
		s.sweepAll(t)
		sh.mu.Lock()
		s.sweep(sh, t)
		if len(sh.t.slots) > 0 {
			i, found = sh.t.find(k)
		}
		if found {
			sh.mu.Unlock()
			return false, nil
		}
		if err := s.reserve(kid); err != nil {
			sh.mu.Unlock()
			return false, err
		}
	}
	if len(sh.t.slots) == 0 {
		// The shard's first entry: room for its first nonces at once.
		sh.t.slots = make([]nonceKey, nonceTableSize(s.initial))
		sh.queue = make([]nonceEntry, 0, s.initial)
		i, _ = sh.t.find(k)
	}
	sh.t.insertAt(i, k)
	if e := (nonceEntry{exp: exp, key: k, kid: kid}); sh.head == len(sh.queue) || exp >= sh.queue[len(sh.queue)-1].exp {
		sh.queue = append(sh.queue, e)
	} else {
		sh.push(e)
	}
	if n := sh.t.n; n > sh.peak {
		sh.peak = n
	}
	sh.mu.Unlock()
	return true, nil
}

// reserve counts one more entry for the key ID hashed to kid and in the
// store, or counts nothing and returns an error wrapping [ErrNonceQuota]
// (the key ID holds MaxPerKey entries) or [ErrNonceStoreFull] (the store
// holds MaxEntries).
func (s *MemoryNonceStore) reserve(kid uint64) error {
	if s.perKey > 0 {
		ks := &s.keys[kid%nonceShards]
		ks.mu.Lock()
		n := ks.n[kid]
		if n >= s.perKey {
			ks.mu.Unlock()
			return fmt.Errorf("%w: %d unexpired nonces recorded for the key ID", ErrNonceQuota, s.perKey)
		}
		ks.n[kid] = n + 1
		ks.mu.Unlock()
	}
	if s.count.Add(1) > s.max {
		s.count.Add(-1)
		s.release(kid, 1)
		return fmt.Errorf("%w: %d unexpired nonces recorded", ErrNonceStoreFull, s.max)
	}
	return nil
}

// release uncounts n entries of the key ID hashed to kid (not of the
// store), forgetting a count that reaches zero.
func (s *MemoryNonceStore) release(kid uint64, n int32) {
	if s.perKey == 0 {
		return
	}
	ks := &s.keys[kid%nonceShards]
	ks.mu.Lock()
	if c := ks.n[kid] - n; c > 0 {
		ks.n[kid] = c
	} else {
		delete(ks.n, kid)
	}
	ks.mu.Unlock()
}

// sweep removes sh's entries that expire at or before now. sh.mu is held
// (the key ID counts are locked after it, never before).
func (s *MemoryNonceStore) sweep(sh *nonceShard, now int64) {
	n := 0
	// Consecutive evictions of one key ID, the common case, release its
	// count once.
	var run uint64
	var runN int32
	evict := func(e nonceEntry) {
		sh.t.delete(e.key)
		n++
		if runN > 0 && e.kid != run {
			s.release(run, runN)
			runN = 0
		}
		run = e.kid
		runN++
	}
	for sh.head < len(sh.queue) && sh.queue[sh.head].exp <= now {
		evict(sh.queue[sh.head])
		sh.head++
	}
	for len(sh.heap) > 0 && sh.heap[0].exp <= now {
		evict(sh.pop())
	}
	if n == 0 {
		return
	}
	s.release(run, runN)
	s.count.Add(-int64(n))
	if sh.peak >= nonceShrinkMin && sh.t.n < sh.peak/4 {
		sh.rebuild()
	} else if sh.head >= len(sh.queue)/2 {
		// Compact: the copy moves fewer entries than were popped since
		// the last one.
		sh.queue = sh.queue[:copy(sh.queue, sh.queue[sh.head:])]
		sh.head = 0
	}
}

// sweepAllEvery is the least time, on the store's clock, between two
// sweeps of every shard: a burst of refusals (a key ID at its share
// retrying) then locks all the shards at most once per sweepAllEvery
// rather than once per request.
const sweepAllEvery = int64(time.Millisecond)

// claimSweepAll reports whether the Claim at now (Unix nanoseconds) may
// sweep every shard: whether no sweep of every shard started within
// sweepAllEvery before now. It then records now as the last sweep, so
// that of concurrent callers one only sweeps. A clock that went back
// allows a sweep.
func (s *MemoryNonceStore) claimSweepAll(now int64) bool {
	last := s.lastSweepAll.Load()
	if now >= last && now-last < sweepAllEvery {
		return false
	}
	return s.lastSweepAll.CompareAndSwap(last, now)
}

// sweepAll sweeps every shard, one at a time.
func (s *MemoryNonceStore) sweepAll(now int64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.sweep(sh, now)
		sh.mu.Unlock()
	}
}

// rebuild copies sh's entries into a table, queue and heap sized for
// them, letting the oversized ones go. The order of the queue and heap is
// kept.
func (sh *nonceShard) rebuild() {
	sh.t.resize(nonceTableSize(2 * sh.t.n))
	q := sh.queue[sh.head:]
	sh.queue = append(make([]nonceEntry, 0, 2*len(q)), q...)
	sh.head = 0
	sh.heap = append(make([]nonceEntry, 0, 2*len(sh.heap)), sh.heap...)
	sh.peak = sh.t.n
}

func (sh *nonceShard) push(e nonceEntry) {
	h := append(sh.heap, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].exp <= e.exp {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
	sh.heap = h
}

func (sh *nonceShard) pop() nonceEntry {
	h := sh.heap
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	if n > 0 {
		i := 0
		for {
			c := 2*i + 1
			if c >= n {
				break
			}
			if r := c + 1; r < n && h[r].exp < h[c].exp {
				c = r
			}
			if last.exp <= h[c].exp {
				break
			}
			h[i] = h[c]
			i = c
		}
		h[i] = last
	}
	sh.heap = h
	return top
}

// nonceNanos is t in Unix nanoseconds, clamped to the int64 range (where
// t.UnixNano is undefined).
func nonceNanos(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second) - 1
	switch s := t.Unix(); {
	case s > limit:
		return math.MaxInt64
	case s < -limit:
		return math.MinInt64
	}
	return t.UnixNano()
}

// LenKey returns the number of nonces recorded for keyID, counting those
// that have expired but are not yet evicted: the number that MaxPerKey
// bounds (always zero when the store has no share). It is meant for
// monitoring.
func (s *MemoryNonceStore) LenKey(keyID string) int {
	kid := maphash.String(s.seeds[0], keyID)
	ks := &s.keys[kid%nonceShards]
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return int(ks.n[kid])
}

// Len returns the number of nonces recorded, counting those that have
// expired but are not yet evicted: the number that MaxEntries bounds. It
// is meant for monitoring (how close the store is to refusing requests).
func (s *MemoryNonceStore) Len() int {
	return int(s.count.Load())
}
