package httpsig

import (
	"bytes"
	"testing"
)

func BenchmarkScratchParseInto(b *testing.B) {
	r := atkRequest(b, `{"a":1}`, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", nil)
	b.ReportAllocs()
	for b.Loop() {
		var buf [64]byte
		if _, _, err := parseSignatureInto(r.Header, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScratchBase(b *testing.B) {
	r := atkRequest(b, `{"a":1}`, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", nil)
	si, _, _ := parseSignature(r.Header)
	t := targetOf(r)
	b.ReportAllocs()
	for b.Loop() {
		var buf [512]byte
		if _, err := appendSignatureBase(buf[:0], r, &si, t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScratchPool(b *testing.B) {
	o := openedSecret{plain: atkSecret}
	c := newSecretCache(0)
	_ = c
	msg := bytes.Repeat([]byte("b"), 300)
	var mac [32]byte
	p := o
	p.macs = nil
	b.ReportAllocs()
	for b.Loop() {
		p.check(msg, mac[:])
	}
}
