package audit

import (
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
