// Package file is foxstore's file backend: a crash-safe key-value store in
// human-readable JSON files. It is always linked: backend "file" in the
// configuration, with file_path naming the store (default: DefaultPath).
//
// # Design
//
// All data lives in memory, in a memory.Store that serves every read, scan,
// sweep and transaction; the files only make it durable. A store is a
// snapshot plus an append-only log:
//
//   - A write (Set, a batch, a transaction's commit) is applied in memory and
//     appended to the log as one JSON line that carries a sequence number and
//     a checksum, so a write costs what it writes, whatever the store's size.
//     Memory and log take writes in the same order (both under one mutex), and
//     the log is fsynced before the write returns.
//   - Group commit: while one writer syncs the log, the writers that arrive
//     queue their lines; the next of them writes and syncs all the queued
//     lines at once and answers for all of them. Concurrent writers share
//     fsyncs instead of taking turns.
//   - Compaction: when the log written since the snapshot outgrows the
//     snapshot (and 4 MiB), or sweeps removed many expired entries, a
//     background compaction starts a new log segment (writers pause only for
//     that switch) and merges the old snapshot with the closed segments into a
//     new snapshot, streaming both files and leaving out expired entries. It
//     reads files only, never the memory, so readers never wait for it.
//   - Backups: installing a snapshot renames the previous one to .bak1, .bak1
//     to .bak2, and so on up to backup_count. The log segments that the oldest
//     backup needs are kept with it, so that any backup plus the log rebuilds
//     the latest state.
//   - One writer process: a writer holds an OS lock on storage.json.lock (via
//     github.com/gofrs/flock: flock on Unix, LockFileEx on Windows) and writes
//     its PID there. Another writer gets ErrStorageLocked naming that PID at
//     once. A read-only store (read_only: true) takes no lock, loads a
//     consistent view of the files as they are at Open (retrying briefly if a
//     writer replaces them meanwhile), changes no file, and fails writes with
//     ErrStorageLocked. Reopen it to see newer data.
//
// # Files
//
// Next to file_path (storage.json below) live:
//
//	storage.json            the snapshot
//	storage.json.log.<seq>  a log segment: the records after record <seq>
//	storage.json.bak<n>     rotated snapshots, bak1 the newest
//	storage.json.new        a snapshot being written (gone once installed)
//	storage.json.lock       the writer lock; holds the writer's PID
//	*.corrupt-<time>        damaged files that recovery moved aside
//
// Files are created with mode 0600 and directories with 0700.
//
// # Format (version 1)
//
// Every file is UTF-8 JSON with one object per line, so a person can read it
// and jq can process it. A snapshot is one JSON document, its entries sorted
// by key, one per line:
//
//	{"foxstore":"snapshot","version":1,"seq":42,"created":"2025-06-01T10:00:00Z","entries":[
//	{"k":"user:1","t":"string","v":"alice"},
//	{"k":"token","t":"json","v":{"id":7},"exp":1767225600000},
//	{"k":[255,"music\u0000song:9"],"t":"int64","v":9}
//	],"count":3,"crc32c":"89abcdef"}
//
// The checksum (CRC-32C, hex) covers every byte before `,"crc32c"`. seq is the
// last log record the snapshot includes. A log segment is JSON lines: a
// header, then one record per write set, each with its own checksum over the
// line up to `,"crc32c"`:
//
//	{"foxstore":"log","version":1,"after":42,"crc32c":"01234567"}
//	{"seq":43,"w":[{"k":"user:1","t":"string","v":"bob"}],"crc32c":"..."}
//	{"seq":44,"w":[{"k":"a","del":true},{"k":"b","t":"bool","v":true}],"crc32c":"..."}
//
// Records are numbered without gaps. An entry holds the key ("k"), the value's
// type ("t") and JSON form ("v", see driver.Value.Type, Value.JSON and
// driver.ValueFromJSON: strings, numbers and booleans as themselves, bytes in
// base64, times in RFC 3339 with nanoseconds, other values as their JSON;
// strings and json.RawMessage values that are not valid UTF-8, which a JSON
// string cannot carry, in base64 as types "string64" and "rawjson64"), the
// absolute deadline in Unix milliseconds ("exp", absent when the key never
// expires), or "del":true for a deletion. A key of valid UTF-8 is a JSON
// string; any other key (namespaced keys hold 0xFF bytes) is an array of its
// pieces, strings for runs of valid UTF-8 and numbers for single other bytes.
// A file with a version newer than this package's is refused, never touched.
//
// # Durability
//
// Sync mode (the default): a write is on stable storage when it returns nil:
// its log record was fsynced (F_FULLFSYNC on macOS), and so were the
// directory entries of every file it depends on. It survives a crash of the
// process or of the machine. A write becomes visible to readers when it is
// applied in memory, just before its record is synced; if writing or syncing
// the log fails, that write and every write queued behind it are undone in
// memory, the log is cut back to its last durable record, and they all return
// ErrStorageWriteFailed. Durable writes are never lost.
//
// Async mode (async_write: true): a write returns once applied in memory and
// queued. A flusher writes the queue to the log every half flush_interval,
// handing the records to the OS, and a syncer fsyncs the log whenever the
// flusher wrote to it; the flusher never waits for an fsync, so however
// long one takes, a crash of the process (which the OS outlives) loses only
// the records of the last half flush_interval (and, while a compaction
// switches log segments, those written during its fsyncs). flush_interval
// bounds the age of acknowledged writes that are not durable: once the
// oldest of them has waited flush_interval, writers wait until a fsync
// makes it durable, or fail if an attempt to write or sync the log made
// while they wait fails. A crash therefore loses at most the writes
// acknowledged in the flush_interval before the last write returned, and
// a slow or full disk holds writers back instead of letting unflushed
// writes pile up. The queue is also bounded by size (8 MiB). A failed write
// or fsync cuts the log back to its durable records and queues the others
// again; Flush, Stop and Close write everything and report a failure to do
// so; a failed flush is retried, never dropped.
//
// Snapshots are written to storage.json.new, fsynced, and renamed into place,
// then the directory is fsynced (on Windows, where a directory cannot be
// fsynced, the rename is made with MOVEFILE_WRITE_THROUGH instead).
//
// # Recovery
//
// Open loads the newest snapshot that verifies (storage.json, else the
// backups from the newest), then applies the log records that follow it, in
// order, for as long as their sequence numbers follow without a gap. A torn
// tail (bytes after the last complete record of the newest segment, left by
// a crash in mid-write) is cut off: it holds no acknowledged write. Damage
// anywhere else (a bad checksum, an unparsable file, a record missing in the
// middle of the log) makes Open write the recovered data as a new snapshot,
// move the damaged files aside (never delete them) and log a warning through
// log/slog naming the damaged file, where it went and what the store was
// recovered from. If no snapshot verifies and the log does not reach back to
// the store's creation, Open fails with ErrStorageCorrupted and changes no
// file. A crash at any moment, compaction included, leaves files that open
// without damage.
//
// # Verification
//
// Verify checks a store without opening it: it reads every snapshot (the
// current one and each backup) and every log segment with the same parsers
// as Open, runs Open's recovery on them without changing any file or
// taking the lock (so it may run beside a writer, reading again if a
// compaction replaced files meanwhile), and reports each file's status
// with the byte offset and line of any damage, its sequence numbers and
// keys, what Open would load (which snapshot, which log records), what it
// would repair, which records it would lose, and whether it would open at
// all. `foxstore verify` prints that report.
//
// # Limits
//
// The whole store must fit in memory, and compaction briefly needs room for
// the log written since the last snapshot. Open copies the keys and the
// short string values (up to 256 bytes) of the snapshot into shared 8 KiB
// blocks rather than one allocation each, which makes opening a large store
// cheaper; a block stays in memory while any of its strings is in use, so a
// key deleted or a value replaced after the open may free its bytes only
// with its neighbours' (at most the snapshot's keys and short values; the
// next open packs them again). With backups and their log
// segments the files take up to about 2×(backup_count+1) times the data.
// Values are limited to max_value_size (16 MiB by default) like everywhere.
package file
