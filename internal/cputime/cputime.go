// Package cputime reads the CPU time the process has used, for benchmarks
// that report the cost of work done off the benchmark's goroutine (an
// audit writer's, the garbage collector's) per operation.
package cputime
