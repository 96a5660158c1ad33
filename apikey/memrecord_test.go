package apikey

import (
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate"
)

// TestMemRecordRoundTrip: a record comes back from its compact form as it
// went in, for the common case and for every rare one (rules, values the
// package does not mint, times outside the nanosecond range, the zero time).
func TestMemRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	base := Record{
		ID: "id", Grant: keygate.Grant{Account: "acct", Package: "GO", Mode: keygate.ModeLive, Stores: []string{"s"}, Permissions: []string{"p"}}, Name: "n", ApprovedBy: "a", CreatedBy: "c", PermissionsSetBy: "c", Hint: "abcd",
		Kind: keygate.KindSecret, Status: StatusActive, Disabled: true,
		Hashes: []Hash{{Sum: [32]byte{1}, NotAfter: at}}, Created: at, Expires: at.Add(time.Hour), LastUsed: at.Add(time.Minute), ApprovedAt: at, RotatedAt: at, Version: 7,
	}
	variants := map[string]func(r *Record){
		"common":             func(*Record) {},
		"rules":              func(r *Record) { r.AllowedIPs, r.DeniedCountries = []string{"192.0.2.0/24"}, []string{"KP"} },
		"empty rules":        func(r *Record) { r.DeniedIPs = []string{} },
		"set by another":     func(r *Record) { r.PermissionsSetBy = "other" },
		"set by nobody":      func(r *Record) { r.PermissionsSetBy = "" },
		"set by the creator": func(r *Record) { r.PermissionsSetBy = r.CreatedBy },
		"odd status":         func(r *Record) { r.Status = "weird" },
		"empty mode":         func(r *Record) { r.Mode = "" },
		"odd kind":           func(r *Record) { r.Kind = "xx" },
		"year 3000":          func(r *Record) { r.Expires = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 1500":          func(r *Record) { r.RevokedAt = time.Date(1500, 1, 1, 0, 0, 0, 1, time.UTC) },
		"all zero times": func(r *Record) {
			r.Created, r.Expires, r.LastUsed, r.ApprovedAt, r.RotatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
		},
		"token cut-off":  func(r *Record) { r.TokensNotBefore = at },
		"the Unix epoch": func(r *Record) { r.Created = time.Unix(0, 0) },
		"version 0":      func(r *Record) { r.Version = 0 },
		"version 2^32-2": func(r *Record) { r.Version = 1<<32 - 2 },
		"version 2^32-1": func(r *Record) { r.Version = 1<<32 - 1 },
		"version 2^40":   func(r *Record) { r.Version = 1 << 40 },
		"version -1":     func(r *Record) { r.Version = -1 },
		"every rare at once": func(r *Record) {
			r.Status, r.AllowedIPs, r.Expires = "x", []string{"::1"}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		},
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			want := base
			change(&want)
			got := pack(&want).record()
			// Filling a record that holds something else gives the same
			// record; filling only what verification needs gives those
			// fields alike.
			dirty := Record{ID: "x", Grant: keygate.Grant{Account: "y", AllowedIPs: []string{"10.0.0.0/8"}, DeniedCountries: []string{"DE"}},
				Name: "z", CreatedBy: "w", PermissionsSetBy: "v", Hint: "u", Status: "t", Disabled: true, Hashes: []Hash{{}},
				Created: at, Expires: at, LastUsed: at, ApprovedBy: "s", ApprovedAt: at, RevokedAt: at, RotatedAt: at, TokensNotBefore: at, Version: 99}
			over := dirty
			pack(&want).fill(&over, true)
			assert.Equal(t, fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", over), "filled over another record")
			key := dirty
			pack(&want).fill(&key, false)
			assert.Equal(t, fmt.Sprintf("%#v", []any{got.ID, got.Grant, got.Kind, got.Status, got.Disabled, got.Hashes, got.Expires}),
				fmt.Sprintf("%#v", []any{key.ID, key.Grant, key.Kind, key.Status, key.Disabled, key.Hashes, key.Expires}), "the verification's fields")
			wt := []time.Time{want.Created, want.Expires, want.LastUsed, want.ApprovedAt, want.RevokedAt, want.RotatedAt}
			gt := []time.Time{got.Created, got.Expires, got.LastUsed, got.ApprovedAt, got.RevokedAt, got.RotatedAt}
			for i := range wt {
				assert.True(t, wt[i].Equal(gt[i]), "time %d: want %v, got %v", i, wt[i], gt[i])
				assert.Equal(t, wt[i].IsZero(), gt[i].IsZero(), "time %d zero-ness", i)
			}
			want.Created, want.Expires, want.LastUsed, want.ApprovedAt, want.RevokedAt, want.RotatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
			got.Created, got.Expires, got.LastUsed, got.ApprovedAt, got.RevokedAt, got.RotatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
			assert.Equal(t, fmt.Sprintf("%#v", want), fmt.Sprintf("%#v", got))
		})
	}
}

// TestMemRecordSize: a memRecord stays in the 256-byte size class, the
// usage slot included (see memRecord).
func TestMemRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(memRecord{}); n > 256 {
		t.Errorf("memRecord is %d bytes, want at most 256", n)
	}
}

// TestUsageSlotForgotten: once the tracker forgets a key, a record that
// cached the key's slot no longer uses it: the next time goes to a new
// slot, which the next take finds.
func TestUsageSlotForgotten(t *testing.T) {
	u := &usageTracker{interval: time.Hour}
	var cached atomic.Pointer[usageSlot]
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	u.record("id", at, &cached)
	first := cached.Load()
	if first == nil || first.tracker != u {
		t.Fatalf("cached slot %v", first)
	}
	if got := u.take(); !got["id"].Equal(at) {
		t.Fatalf("take = %v", got)
	}
	u.forget("id")
	u.record("id", at.Add(time.Minute), &cached)
	if got := u.take(); !got["id"].Equal(at.Add(time.Minute)) {
		t.Fatalf("after forget: take = %v", got)
	}
	if cached.Load() == first {
		t.Error("the record still caches the forgotten slot")
	}
	// Another tracker's slot is neither used nor replaced.
	other := &usageTracker{interval: time.Hour}
	other.record("id", at.Add(2*time.Minute), &cached)
	if got := other.take(); !got["id"].Equal(at.Add(2 * time.Minute)) {
		t.Fatalf("other tracker: take = %v", got)
	}
	if got := u.take(); len(got) != 0 {
		t.Errorf("the other tracker's time went to the first: %v", got)
	}
	if cached.Load().tracker != u {
		t.Error("the other tracker replaced the cached slot")
	}
}

// TestCopyVerifiedMatchesFill: Record.copyVerified (VerifyGrant through a
// CachedStore) and memRecord.fill without whole (through a MemoryStore)
// write the same fields, and leave the others as they were: one list of
// what verifying a key reads, kept in two places. Every field is set by
// reflection, so that a field added to Record (or Grant) is covered.
func TestCopyVerifiedMatchesFill(t *testing.T) {
	// filled returns a Record with every field set from seed.
	filled := func(seed string) Record {
		var r Record
		var set func(v reflect.Value, name string)
		set = func(v reflect.Value, name string) {
			switch {
			case v.Type() == reflect.TypeFor[time.Time]():
				v.Set(reflect.ValueOf(time.Date(2026, 1, 1+len(name), 0, 0, len(seed), 0, time.UTC)))
			case v.Type() == reflect.TypeFor[[]Hash]():
				v.Set(reflect.ValueOf([]Hash{{Sum: [32]byte{seed[0]}}}))
			case v.Kind() == reflect.String:
				v.SetString(seed + name)
			case v.Kind() == reflect.Bool:
				v.SetBool(seed == "record")
			case v.Kind() == reflect.Int64:
				v.SetInt(int64(len(seed + name)))
			case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
				v.Set(reflect.ValueOf([]string{seed + name}))
			case v.Kind() == reflect.Struct:
				for i := range v.NumField() {
					set(v.Field(i), v.Type().Field(i).Name)
				}
			default:
				t.Fatalf("no value for field %s of type %v", name, v.Type())
			}
		}
		set(reflect.ValueOf(&r).Elem(), "")
		return r
	}
	src := filled("record")
	viaCache, viaMemory := filled("other"), filled("other")
	src.copyVerified(&viaCache)
	pack(&src).fill(&viaMemory, false)
	assert.Equal(t, viaMemory, viaCache)
	assert.NotEqual(t, filled("other"), viaCache, "nothing copied")
}

// TestMemoryStoreBigVersions: Update's compare-and-swap holds across the
// versions the 32 bits of memRecord.version do not hold: a version equal
// to another modulo 2^32 is a conflict, and the version counts on past
// 2^32 (and past math.MaxInt64, into the negative, as an int64 does).
func TestMemoryStoreBigVersions(t *testing.T) {
	ctx := t.Context()
	for _, v := range []int64{1<<32 - 3, 1<<32 + 5, 1<<40 - 1, math.MaxInt64 - 1, -7} {
		s := NewMemoryStore()
		rec := Record{ID: "id", Status: StatusActive, Version: v}
		s.recs.Store(rec.ID, pack(&rec))
		for _, stale := range []int64{v - 1, v + 1, int64(uint32(v)), v + 1<<32, v - 1<<32} {
			if stale == v {
				continue
			}
			r := rec
			r.Version = stale
			_, err := s.Update(ctx, r)
			assert.ErrorIs(t, err, ErrConflict, "version %d, stale %d", v, stale)
		}
		for i := range int64(3) {
			got, err := s.Update(ctx, rec)
			if !assert.NoError(t, err, "version %d", rec.Version) {
				break
			}
			assert.Equal(t, v+i+1, got.Version)
			stored, err := s.Get(ctx, rec.ID)
			assert.NoError(t, err)
			assert.Equal(t, got.Version, stored.Version)
			rec = got
		}
	}
}
