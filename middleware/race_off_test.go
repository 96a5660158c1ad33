//go:build !race

package middleware_test

// raceDetector says whether the tests run with -race, whose
// instrumentation makes stack frames larger.
const raceDetector = false
