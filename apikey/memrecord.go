package apikey

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate"
)

// memRecord is how a [MemoryStore] keeps a record: the same data as a
// Record in about half the memory, so that a store of a million keys stays
// small. Times are Unix nanoseconds, mode, kind and status one byte each,
// and what is rare (IP and country rules, values outside those the
// package mints, times outside the years 1678 to 2262, a PermissionsSetBy
// other than CreatedBy, a version beyond 32 bits) sits behind one pointer.
// The Record form is rebuilt on every read, sharing the slices, which the
// store never modifies in place.
//
// A memRecord is never modified once stored, but for usage: the cached
// slot of the record's key in the last-used times of the Manager that
// verifies it (see usageTracker.record), which a Manager sets once, and
// which the record that replaces it on an update inherits. It keeps the
// whole memRecord in 256 bytes, as before it was added, by holding the
// version in 32 bits.
type memRecord struct {
	id, account, name, pkg string
	approvedBy, createdBy  string
	hint                   string
	mode, kind, status     uint8 // codes in modes, kinds and statuses; 0: in extra
	disabled               bool
	version                uint32 // bigVersion: in extra
	hashes                 []Hash
	stores, permissions    []string
	extra                  *memExtra // nil when there is nothing rare
	times                  [6]int64  // Created, Expires, LastUsed, ApprovedAt, RevokedAt, RotatedAt
	usage                  atomic.Pointer[usageSlot]
}

// bigVersion is memRecord.version for a version that 32 bits do not hold
// (negative, or at least bigVersion): it is then in memExtra.
const bigVersion = math.MaxUint32

// memExtra is the rare part of a memRecord.
type memExtra struct {
	allowedIPs, deniedIPs             []string
	allowedCountries, deniedCountries []string
	mode                              keygate.Mode
	kind                              keygate.Kind
	status                            Status
	times                             *[6]time.Time // when one is out of the nanosecond range
	// permissionsSetBy is Record.PermissionsSetBy when it differs from
	// CreatedBy (ownSetBy is then true); otherwise it is CreatedBy.
	permissionsSetBy string
	ownSetBy         bool
	// tokensNotBefore is Record.TokensNotBefore: set only once a key was
	// rotated without grace, disabled or revoked, so it is rare.
	tokensNotBefore time.Time
	// version is Record.Version when memRecord.version is bigVersion.
	version int64
}

// The values the one-byte codes stand for; code 0 means "in memExtra".
var (
	modes    = [...]keygate.Mode{1: "", 2: keygate.ModeTest, 3: keygate.ModeLive}
	kinds    = [...]keygate.Kind{1: "", 2: keygate.KindPublishable, 3: keygate.KindSecret}
	statuses = [...]Status{1: "", 2: StatusActive, 3: StatusPendingReview, 4: StatusRevoked}
)

// code returns v's index in table, or 0.
func code[T comparable](table []T, v T) uint8 {
	for i := 1; i < len(table); i++ {
		if table[i] == v {
			return uint8(i)
		}
	}
	return 0
}

// zeroNanos stands for the zero time.
const zeroNanos = math.MinInt64

// The times Unix nanoseconds hold (zeroNanos aside).
var (
	minNanoTime = time.Unix(0, math.MinInt64+1)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// nanos returns t as Unix nanoseconds, or false if they cannot hold it.
func nanos(t time.Time) (int64, bool) {
	if t.IsZero() {
		return zeroNanos, true
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return 0, false
	}
	return t.UnixNano(), true
}

// fromNanos is the inverse of nanos.
func fromNanos(n int64) time.Time {
	if n == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// pack returns the memRecord of r, whose slices it shares: pass it a
// record the store owns (a clone).
func pack(r *Record) *memRecord {
	m := &memRecord{
		id: r.ID, account: r.Account, name: r.Name, pkg: r.Package,
		approvedBy: r.ApprovedBy, createdBy: r.CreatedBy, hint: r.Hint,
		mode: code(modes[:], r.Mode), kind: code(kinds[:], r.Kind), status: code(statuses[:], r.Status),
		disabled: r.Disabled, hashes: r.Hashes, stores: r.Stores, permissions: r.Permissions,
	}
	var x memExtra
	rare := false
	if 0 <= r.Version && r.Version < bigVersion {
		m.version = uint32(r.Version)
	} else {
		m.version, x.version = bigVersion, r.Version
		rare = true
	}
	if r.AllowedIPs != nil || r.DeniedIPs != nil || r.AllowedCountries != nil || r.DeniedCountries != nil {
		x.allowedIPs, x.deniedIPs, x.allowedCountries, x.deniedCountries = r.AllowedIPs, r.DeniedIPs, r.AllowedCountries, r.DeniedCountries
		rare = true
	}
	if m.mode == 0 || m.kind == 0 || m.status == 0 {
		x.mode, x.kind, x.status = r.Mode, r.Kind, r.Status
		rare = true
	}
	if r.PermissionsSetBy != r.CreatedBy {
		x.permissionsSetBy, x.ownSetBy = r.PermissionsSetBy, true
		rare = true
	}
	if !r.TokensNotBefore.IsZero() {
		x.tokensNotBefore = r.TokensNotBefore
		rare = true
	}
	times := [6]time.Time{r.Created, r.Expires, r.LastUsed, r.ApprovedAt, r.RevokedAt, r.RotatedAt}
	for i, t := range times {
		n, ok := nanos(t)
		if !ok {
			all := times // allocated only on this rare path
			x.times = &all
			rare = true
			break
		}
		m.times[i] = n
	}
	if rare {
		m.extra = &x
	}
	return m
}

// record rebuilds the Record, sharing m's slices.
func (m *memRecord) record() Record {
	var r Record
	m.fill(&r, true)
	return r
}

// fill writes the Record into *r, sharing m's slices: with whole, every
// field; without, only what verifying the key reads and
// [Manager.VerifyGrant] hands over (ID, grant, kind, status, disabled,
// hashes and expiry, as Record.copyVerified copies), leaving the other
// fields as they were. It writes
// field by field rather than a whole Record at once, which would build
// the Record aside and then copy it.
func (m *memRecord) fill(r *Record, whole bool) {
	x := m.extra
	r.ID, r.Kind, r.Status, r.Disabled, r.Hashes = m.id, kinds[m.kind], statuses[m.status], m.disabled, m.hashes
	r.Account, r.Package, r.Mode, r.Stores, r.Permissions = m.account, m.pkg, modes[m.mode], m.stores, m.permissions
	r.AllowedIPs, r.DeniedIPs, r.AllowedCountries, r.DeniedCountries = nil, nil, nil, nil
	if x != nil {
		r.AllowedIPs, r.DeniedIPs = x.allowedIPs, x.deniedIPs
		r.AllowedCountries, r.DeniedCountries = x.allowedCountries, x.deniedCountries
		if m.mode == 0 || m.kind == 0 || m.status == 0 {
			r.Mode, r.Kind, r.Status = x.mode, x.kind, x.status
		}
	}
	times := x != nil && x.times != nil // the times are in x.times, not m.times
	if times {
		r.Expires = x.times[1]
	} else {
		r.Expires = fromNanos(m.times[1])
	}
	if !whole {
		return
	}
	r.Name, r.ApprovedBy, r.CreatedBy, r.PermissionsSetBy, r.Hint = m.name, m.approvedBy, m.createdBy, m.createdBy, m.hint
	r.Version, r.TokensNotBefore = m.recordVersion(), time.Time{}
	if x != nil {
		if x.ownSetBy {
			r.PermissionsSetBy = x.permissionsSetBy
		}
		r.TokensNotBefore = x.tokensNotBefore
	}
	if times {
		r.Created, r.LastUsed, r.ApprovedAt, r.RevokedAt, r.RotatedAt = x.times[0], x.times[2], x.times[3], x.times[4], x.times[5]
		return
	}
	r.Created, r.LastUsed = fromNanos(m.times[0]), fromNanos(m.times[2])
	r.ApprovedAt, r.RevokedAt, r.RotatedAt = fromNanos(m.times[3]), fromNanos(m.times[4]), fromNanos(m.times[5])
}

// recordVersion returns the record's Version.
func (m *memRecord) recordVersion() int64 {
	if m.version == bigVersion {
		return m.extra.version
	}
	return int64(m.version)
}

// lastUsed returns the record's LastUsed.
func (m *memRecord) lastUsed() time.Time {
	if m.extra != nil && m.extra.times != nil {
		return m.extra.times[2]
	}
	return fromNanos(m.times[2])
}
