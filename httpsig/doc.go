// Package httpsig signs and verifies HTTP requests with a shared secret:
// keygate's scheme v3, a profile of RFC 9421 (HTTP Message Signatures)
// with RFC 9530 Content-Digest, so that any RFC 9421 implementation can
// sign for it. The full specification, with worked examples, is SPEC.md
// beside this file; test vectors for other languages are in testdata/.
//
// # The v3 profile in short
//
//   - Algorithm hmac-sha256 (RFC 9421 §3.3.3) with a 64-byte secret.
//   - One signature per request, any label, in Signature-Input and
//     Signature (RFC 8941 dictionaries, parsed and written with
//     github.com/dunglas/httpsfv).
//   - Covered components, required: "@method" "@authority" "@path"
//     "@query"; "content-digest" whenever there is a body; "content-type"
//     and the store header (X-Store-Id) whenever they are present. More
//     are fine. Components take no parameters; a covered header sent twice
//     is refused.
//   - Parameters, required: created (Unix seconds, within ±300 s), nonce,
//     keyid; alg="hmac-sha256" optional but checked; expires honoured.
//   - Content-Digest: sha-256 required (sha-512 checked when present) over
//     the exact body bytes.
//   - The path must be canonical (no dot or empty segments, no %2F or
//     other needless escapes), so that the path signed is the path routed.
//   - A nonce is accepted once per key ID within twice the skew; it is
//     recorded only after the MAC verified.
//   - One key ID holds a bounded share of the nonce store: with the
//     in-memory [MemoryNonceStore], at most MaxPerKey unexpired nonces
//     (MaxEntries/64 by default). A request over it is refused with
//     [ErrNonceQuota] (429 too_many_requests in package middleware) and
//     the other credentials keep their room; only a store full with
//     every credential below its share gives [ErrNonceStoreFull] (503).
//
// [Verifier] checks incoming requests (the middleware package composes
// it); [Signer] and [Transport] sign outgoing ones. Credentials ([Manager],
// [CredentialStore]) keep the secrets sealed with AES-256-GCM under a master key.
package httpsig
