package apikey

import (
	"time"

	"github.com/keygate/keygate"
)

// memRecord is how a [MemoryStore] keeps a record: the same data as a
// Record in less memory (times as seconds and nanoseconds, the rarely used
// IP and country rules behind one pointer), so that a store of a million
// keys stays small. The Record form is rebuilt on every read, sharing the
// slices, which the store never modifies in place.
type memRecord struct {
	id, account, name, pkg string
	approvedBy, createdBy  string
	hint                   string
	mode                   keygate.Mode
	kind                   keygate.Kind
	status                 Status
	disabled               bool
	hashes                 []Hash
	stores, permissions    []string
	rules                  *memRules // nil when there are none
	secs                   [6]int64  // Created, Expires, LastUsed, ApprovedAt, RevokedAt, RotatedAt
	nsecs                  [6]int32
	version                int64
}

// memRules are a record's IP and country rules.
type memRules struct {
	allowedIPs, deniedIPs             []string
	allowedCountries, deniedCountries []string
}

// lastUsedIdx is LastUsed's index in memRecord's times.
const lastUsedIdx = 2

func packTime(t time.Time) (int64, int32) { return t.Unix(), int32(t.Nanosecond()) }

func unpackTime(sec int64, nsec int32) time.Time { return time.Unix(sec, int64(nsec)).UTC() }

// pack returns the memRecord of r, whose slices it shares: pass it a
// record the store owns (a clone).
func pack(r *Record) *memRecord {
	m := &memRecord{
		id: r.ID, account: r.Account, name: r.Name, pkg: r.Package,
		approvedBy: r.ApprovedBy, createdBy: r.CreatedBy, hint: r.Hint,
		mode: r.Mode, kind: r.Kind, status: r.Status, disabled: r.Disabled,
		hashes: r.Hashes, stores: r.Stores, permissions: r.Permissions, version: r.Version,
	}
	if r.AllowedIPs != nil || r.DeniedIPs != nil || r.AllowedCountries != nil || r.DeniedCountries != nil {
		m.rules = &memRules{r.AllowedIPs, r.DeniedIPs, r.AllowedCountries, r.DeniedCountries}
	}
	for i, t := range [6]time.Time{r.Created, r.Expires, r.LastUsed, r.ApprovedAt, r.RevokedAt, r.RotatedAt} {
		m.secs[i], m.nsecs[i] = packTime(t)
	}
	return m
}

// record rebuilds the Record, sharing m's slices.
func (m *memRecord) record() Record {
	r := Record{
		ID: m.id, Account: m.account, Name: m.name, Package: m.pkg,
		ApprovedBy: m.approvedBy, CreatedBy: m.createdBy, Hint: m.hint,
		Mode: m.mode, Kind: m.kind, Status: m.status, Disabled: m.disabled,
		Hashes: m.hashes, Stores: m.stores, Permissions: m.permissions, Version: m.version,
	}
	if m.rules != nil {
		r.AllowedIPs, r.DeniedIPs = m.rules.allowedIPs, m.rules.deniedIPs
		r.AllowedCountries, r.DeniedCountries = m.rules.allowedCountries, m.rules.deniedCountries
	}
	times := [6]*time.Time{&r.Created, &r.Expires, &r.LastUsed, &r.ApprovedAt, &r.RevokedAt, &r.RotatedAt}
	for i, p := range times {
		*p = unpackTime(m.secs[i], m.nsecs[i])
	}
	return r
}
