// Package bench compares foxstore with its peers in one `go test -bench` run.
// It is a separate module so that the peers (go-cache, otter, buntdb, the
// cgo SQLite driver) never enter foxstore's own go.mod.
//
// See BENCHMARKS.md at the repository root for the commands and results.
package bench
