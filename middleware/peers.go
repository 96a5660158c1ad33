package middleware

import (
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/keygate/keygate/ipbind"
)

// peerSlots is the size of a peerCache; peerReplace makes one miss in
// peerReplace replace a slot's entry.
const (
	peerSlots   = 64
	peerReplace = 16
)

// peerCache remembers [ipbind.RemoteIP] for recent RemoteAddr strings:
// the requests of one keep-alive connection all carry the same one, and
// behind a proxy a few connections carry all requests. It is direct
// mapped by a cheap hash of the string, and an entry counts only for the
// very string it was parsed from (compared by value, not by pointer).
//
// A miss parses as before; it fills an empty slot, but replaces a full
// one only at random, one miss in peerReplace, so that many clients that
// each send few requests cost a parse (and rarely the allocation of an
// entry) rather than an allocation on every request, and a busy
// connection keeps its slot.
type peerCache [peerSlots]atomic.Pointer[peerEntry]

// peerEntry is RemoteIP's answer for one RemoteAddr.
type peerEntry struct {
	remoteAddr string
	ip         netip.Addr
	ok         bool
}

// remoteIP returns ipbind.RemoteIP(r).
func (c *peerCache) remoteIP(r *http.Request) (netip.Addr, bool) {
	a := r.RemoteAddr
	if a == "" {
		return ipbind.RemoteIP(r)
	}
	slot := &c[peerSlot(a)]
	e := slot.Load()
	if e != nil && e.remoteAddr == a {
		return e.ip, e.ok
	}
	ip, ok := ipbind.RemoteIP(r)
	if e == nil || rand.Uint32()%peerReplace == 0 {
		slot.Store(&peerEntry{remoteAddr: a, ip: ip, ok: ok})
	}
	return ip, ok
}

// peerSlot is the slot of a non-empty RemoteAddr: its port (the value of
// up to five trailing digits) plus its host's last character and length,
// so that the connections of one client, whose ports an operating system
// hands out in turn, take distinct slots (up to peerSlots consecutive
// ports), and other clients spread over them; a collision only costs a
// parse.
func peerSlot(a string) int {
	i, port := len(a), uint(0)
	for unit := uint(1); i > 0 && i > len(a)-5; unit *= 10 {
		d := uint(a[i-1]) - '0'
		if d > 9 {
			break
		}
		port += d * unit
		i--
	}
	// a[:i] is the host and its colon (empty if a is all digits).
	host := uint(i)
	if i >= 2 {
		host += 7 * uint(a[i-2])
	}
	return int((port + 31*host) % peerSlots)
}
