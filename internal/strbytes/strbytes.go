// Package strbytes gives read-only byte views of strings, for the hash,
// checksum and signature functions of the standard library, which only read
// their input (a []byte(s) conversion would cost an allocation per
// request), and string views of bytes that no one writes to any more (the
// events an audit.MemorySink decodes).
package strbytes

import "unsafe"

// View returns the bytes of s without copying them. The result must never
// be written to.
func View(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// String returns b as a string without copying it. b must never be written
// to while the result, or a string sliced from it, is in use.
func String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
