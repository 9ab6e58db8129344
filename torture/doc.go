// Package torture proves foxstore's promises under stress, the way etcd's
// robustness tests and Jepsen do: it records what many concurrent clients did
// and saw, then checks the whole history against the contract (CONTRACT.md)
// instead of checking one call at a time.
//
// Each workload takes the same newStore function as storagetest.Run, so any
// backend, including a third-party one, can run them:
//
//   - [Linearizable] runs Get, Set, Delete, Exists and compare-and-set
//     (foxstore.Update reading a key and writing it only if it holds an
//     expected value) from many goroutines on a few keys, and checks the
//     history with the porcupine linearizability checker, one key at a time.
//     On failure it writes porcupine's HTML visualization to a temporary file
//     and names it in the error.
//   - [Bank] moves money between accounts in transactions while readers
//     audit them in transactions: the total never changes and no account goes
//     negative.
//   - [Append] grows lists by read-append-write transactions over several
//     keys. At the end no acknowledged element is lost or duplicated, every
//     list a committed transaction read is a prefix of the final list, and the
//     dependency graph of the committed transactions has no cycle (the
//     list-append check of Jepsen's Elle, which finds lost updates, write skew
//     and other anomalies that a serializable store never shows).
//   - [Set] adds elements with Set, SetBatch and transactions while readers
//     list them: a read sees every add acknowledged before it began, and at
//     the end every acknowledged add is there.
//
// Faults: [Options.Fault] injects one (for example [Proxy.Cut], which severs
// every connection through an in-test TCP proxy) at random moments during a
// workload. Operations that then fail are indeterminate: the checks accept
// both their presence and their absence, but never the loss of an
// acknowledged write. [Kill] runs writers in a child process (the test binary
// itself) and kills it with SIGKILL at random moments, then reopens the store
// and checks every acknowledged write.
//
// # Short and long runs
//
// By default each workload runs for a short time (well under a second of
// operations, so that `go test -race ./...` stays quick). With the -torture
// flag it runs for -torture.duration (default 1m) instead, in rounds that are
// checked one by one, and Kill kills the child -torture.kills times:
//
//	go test ./torture -torture -torture.duration=10m -run 'Memory|File'
//
// Every randomized workload logs its seed; -torture.seed replays it (the
// interleaving of goroutines still differs from run to run).
package torture
