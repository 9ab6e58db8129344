//go:build race

package torture_test

// raceEnabled reports a -race build, where some backends are many times
// slower (modernc SQLite, a C library translated to Go, most of all).
const raceEnabled = true
