// Package apikey mints, stores and verifies Stripe-style API keys.
//
// # Anatomy
//
// A key reads <prefix>_<mode>_<kind>_<body>, for example
//
//	bk_test_sk_0jPS8MolTrPGFJpht2Hj6l5maTZnG4HvpzqJgmrnOwgpGQ312ywnRYwDjET3hnoEm
//
// (a well-formed test key that no system knows; its key ID is
// 0jPS8MolTrPGFJph and its checksum 3hnoEm). The parts:
//
//   - prefix: "bk" by default ([Config.Prefix]: 1 to 12 lowercase letters);
//   - mode: "test" or "live" ([keygate.Mode]); test and live keys never
//     stand in for each other;
//   - kind: "pk" (publishable: identifies an account, safe in client code,
//     accepted only by routes marked as publishable) or "sk" (secret);
//   - body: 65 base62 characters (0-9, A-Z, a-z, so that a double-click
//     selects the whole key): a 16-character public key ID, a 43-character
//     secret (256 bits from crypto/rand) and a 6-character checksum, the
//     CRC32 of everything before it, in the style of GitHub's tokens.
//
// The checksum lets [Parse] reject typos and garbage before any store
// lookup. Secret scanners can match keys with [ScannerPattern].
//
// # Storage
//
// Only a hash of the key's secret part is stored: SHA-256, or HMAC-SHA256
// under a server-side pepper ([Config.Pepper]). [Manager.Verify] finds the record by
// key ID and compares hashes in constant time. The plaintext exists once, in
// the [Key] that [Manager.Create] or [Manager.Rotate] returns; a Key
// redacts itself in fmt, log/slog and encoding/json.
//
// # Lifecycle
//
// Keys are created (test keys active, live keys pending review until
// [Manager.Approve]), rotated with an optional grace period for the old
// secret, disabled and enabled, expired and revoked. Revocation is final and
// takes effect on the next verification. Last-used times are collected in
// memory and written to the store in batches, off the request path.
//
// # Stores
//
// [Store] is a small interface with atomic operations; [MemoryStore] is the
// embedded default. Every implementation must pass the conformance suite in
// package apikeytest.
package apikey
