// Package bench compares keygate's middleware with the Go libraries it
// stands in for, and with the floor of each path: the minimal
// standard-library implementation of the same checks.
//
// It is a module of its own (github.com/keygate/keygate/bench), never
// released, so that the peers' dependencies stay out of the library's
// module graph. Its tests prove that every contestant accepts a valid
// credential and refuses a tampered one; its benchmarks measure them side
// by side in one process, each behind the same handler, which reads the
// caller's identity from the request context. The paths, one benchmark
// each, with one sub-benchmark per contestant:
//
//   - BenchmarkAPIKey: an API key in Authorization: Bearer.
//   - BenchmarkHS256First: an HS256 access token never seen before.
//   - BenchmarkHS256Cached: the same token presented again.
//   - BenchmarkRS256: an RS256 access token never seen before.
//   - BenchmarkHMACPOST: a POST of 1 KiB signed with HMAC-SHA256 (RFC 9421).
//
// Run them with scripts/bench.sh at the repository root, which prints the
// medians, allocations and ratios with the program in ./benchtable.
package bench
