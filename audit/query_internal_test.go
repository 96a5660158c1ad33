package audit

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestQueryMatchesAll: a Query with any one filter set (every field but
// Limit and Cursor, found by reflection, so that a filter added later is
// covered) does not match everything, and the zero Query does.
func TestQueryMatchesAll(t *testing.T) {
	if q := (Query{Limit: 5, Cursor: "x"}); !q.matchesAll() {
		t.Fatal("a Query without filters does not match everything")
	}
	typ := reflect.TypeFor[Query]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "Limit" || f.Name == "Cursor" {
			continue
		}
		var q Query
		v := reflect.ValueOf(&q).Elem().Field(i)
		switch v.Interface().(type) {
		case string, Decision:
			v.SetString("x")
		case time.Time:
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
		default:
			t.Fatalf("Query.%s: a filter of a type this test does not know (%s): teach it, and matchesAll", f.Name, f.Type)
		}
		if q.matchesAll() {
			t.Errorf("Query with %s set matches everything: matchesAll misses the filter", f.Name)
		}
	}
}

// TestQueryMayMatch: mayMatch never refuses the memory form of an event
// that Match accepts. For events of random fields (fillEvent: every
// field), each query filters on one of the event's own string fields
// (which Match accepts); and a query on a string absent from the form is
// refused, so that the pre-filter is not vacuous.
func TestQueryMayMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 2000 {
		var e Event
		fillEvent(t, &e, rng.Uint64, rng.IntN(2) == 0)
		var locs []*time.Location
		b := appendMemEvent(nil, &e, &locs)
		queries := []Query{
			{KeyID: e.KeyID}, {Account: e.Account}, {Mode: e.Mode}, {Store: e.Store}, {IP: e.IP},
			{Reason: e.Reason}, {Decision: e.Decision}, {Action: e.Action},
			{KeyID: e.KeyID, Account: e.Account, Mode: e.Mode, Store: e.Store, IP: e.IP,
				Reason: e.Reason, Decision: e.Decision, Action: e.Action},
		}
		for _, q := range queries {
			if q.Match(&e) && !q.mayMatch(b) {
				t.Fatalf("mayMatch refuses an event that Match accepts: %#v for %#v", q, e)
			}
		}
	}
	var e Event
	fillEvent(t, &e, rng.Uint64, true)
	var locs []*time.Location
	b := appendMemEvent(nil, &e, &locs)
	absent := string(make([]byte, len(b)+1)) // longer than the form: in it nowhere
	if (&Query{KeyID: absent}).mayMatch(b) {
		t.Fatal("mayMatch accepts a KeyID absent from the memory form")
	}
}
