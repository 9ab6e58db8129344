// Package bench compares foxstore with its peers in one `go test -bench` run.
// It is a separate module so that the peers (go-cache, otter, buntdb, the
// cgo SQLite driver) never enter foxstore's own go.mod.
//
// The disk benchmarks (BenchmarkDisk*) write under os.TempDir: set TMPDIR
// to measure another disk. FOXSTORE_BENCH_OPEN_N sets the entries of the
// stores BenchmarkDiskOpen opens (default 1,000,000; they are written once
// per run, which takes a while). The SQLite benchmarks need cgo for the
// mattn/go-sqlite3 driver and skip it without.
//
// See BENCHMARKS.md at the repository root for the commands and results.
package bench
