//go:build !unix

package database_test

// cpuTime is not measured here: the benchmarks report no cpu-ns/op.
func cpuTime() int64 { return -1 }
