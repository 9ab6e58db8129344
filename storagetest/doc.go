// Package storagetest is the executable form of foxstore's behaviour contract
// (CONTRACT.md): one conformance suite that every backend runs unchanged, in
// the manner of testing/fstest.TestFS.
//
// A backend, including a third-party one, calls Run from a test function with
// a function that opens a fresh store:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
//			s, err := foxstore.Open(t.Context(), foxstore.Config{
//				Backend:  "file",
//				FilePath: filepath.Join(t.TempDir(), "store.json"),
//			})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.(io.Closer).Close() })
//			return s
//		})
//	}
//
// # What newStore must return
//
// Each call must return a started, empty store that belongs to the calling
// subtest alone. Subtests run in parallel (t.Parallel), so stores returned by
// different calls must never see each other's keys: use a fresh temporary
// directory, a fresh table or database, or a unique namespace per call, and
// never flush a server that another call's store uses. Register the cleanup
// with t.Cleanup; the suite itself calls Close in a few tests, which the
// contract makes safe to repeat.
//
// Every store must also implement foxstore.Expirer and io.Closer (every store
// that foxstore.Open returns does), and must use the default max_value_size
// (16 MiB): the suite stores a value of exactly that size and expects one byte
// more to be rejected.
//
// # Time and randomness
//
// The suite never asserts how long an operation took. Expiry is tested with
// 50 ms TTLs and 150 ms sleeps, liveness with TTLs of a minute or more. With
// -short the concurrency tests run fewer operations. The randomized workload
// logs its seed; set STORAGETEST_SEED to that number to replay it.
package storagetest
