package strbytes

import "testing"

func TestString(t *testing.T) {
	if s := String(nil); s != "" {
		t.Fatalf("String(nil) = %q", s)
	}
	b := []byte("abc")
	s := String(b[:2])
	if s != "ab" {
		t.Fatalf("String = %q, want ab", s)
	}
	b[0] = 'x' // s aliases b
	if s != "xb" {
		t.Fatalf("String = %q after a write to its bytes, want xb: a copy", s)
	}
	if v := View(s); &v[0] != &b[0] || len(v) != 2 {
		t.Fatal("View(String(b)) is not b")
	}
}
