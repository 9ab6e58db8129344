package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/internal/cli"
	"github.com/foxstore/foxstore/internal/dump"
)

// inputErr reports a file named on the command line that cannot be read.
func inputErr(op, path string, err error) error {
	return &foxstore.Error{Op: fmt.Sprintf("%s %s", op, path), Code: foxstore.CodeInvalid, Err: err}
}

// createOutput writes a file atomically: into a temporary file beside path,
// renamed over path by commit. "-" is standard output.
func (a *app) createOutput(path string) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "-" {
		return a.stdout, func() error { return nil }, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, nil, nil, &foxstore.Error{Op: "create " + path, Code: foxstore.CodeWriteFailed, Err: err}
	}
	abort = func() {
		f.Close()
		os.Remove(f.Name())
	}
	commit = func() error {
		err := f.Chmod(0o600)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
			return &foxstore.Error{Op: "write " + path, Code: foxstore.CodeWriteFailed, Err: err}
		}
		return nil
	}
	return f, commit, abort, nil
}

func (a *app) exportCmd() *cobra.Command {
	var pattern string
	c := &cobra.Command{
		Use:   "export [FILE]",
		Short: "Write the store's live keys to a portable JSON-lines dump",
		Long: `Write every live key (or those matching --pattern) to FILE, or to standard
output when FILE is - or absent, as a foxstore dump: JSON lines holding each
key's type, value and expiry. import reads it back into any backend.

The format: a header line {"format":"foxstore-dump","version":1,...}, one line
per key {"key":...,"type":...,"value":...,"expires_at":...,"ttl_ms":...}
(expiry fields only for keys that expire), and an end line
{"end":true,"count":N}. A file is written atomically (a temporary file
renamed into place), with mode 0600.`,
		Example: `  foxstore export backup.jsonl
  foxstore export --pattern 'lastfm_*' > lastfm.jsonl
  foxstore --dsn postgres://me@db/prod export - | gzip > prod.jsonl.gz`,
		Args: args(0, 1),
		RunE: a.withTarget(cli.Read, func(ctx context.Context, s foxstore.Store, t cli.Target, cmd *cobra.Command, args []string) (err error) {
			path := "-"
			if len(args) == 1 {
				path = args[0]
			}
			out, commit, abort, err := a.createOutput(path)
			if err != nil {
				return err
			}
			w, err := dump.NewWriter(out, nil)
			if err == nil {
				err = foxstore.Export(ctx, s, pattern, w.Write)
			}
			if err == nil {
				err = w.Close()
			}
			if err == nil {
				err = commit()
			} else {
				abort()
			}
			if err != nil {
				return err
			}
			if path == "-" {
				return nil
			}
			if a.json {
				return a.printJSON(map[string]any{"store": t.Describe(), "file": path, "count": w.Count()})
			}
			_, err = fmt.Fprintf(a.stdout, "exported %d keys from %s to %s\n", w.Count(), t.Describe(), path)
			return err
		}),
	}
	c.Flags().StringVar(&pattern, "pattern", "*", "export only the keys matching this glob `pattern`")
	return c
}

func (a *app) importCmd() *cobra.Command {
	var (
		format      string
		bucket      string
		batch       int
		relative    bool
		skipInvalid bool
	)
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Load a dump, or go-musicfox's bbolt database, into the store",
		Long: `Load the records of FILE into the store: a foxstore dump (see export; - reads
standard input) or a bbolt database such as go-musicfox's musicfox.db, whose
bucket default_bucket (--bucket to choose another) holds JSON values.

Every record keeps its type and expiry. By default a key expires at the
instant recorded in the dump (keys already past it are skipped and counted as
expired); --relative-ttl gives each key its recorded remaining TTL from now
instead. bbolt values become the json type, which GetAs decodes exactly as
go-musicfox did; values that are not JSON become bytes.

Keys already in the store are overwritten. Records are written in atomic
batches of --batch; if one fails, the batches before it stay written and the
error says which keys the failed batch held. --skip-invalid leaves out
records the store refuses (such as bbolt keys that are not UTF-8) and lists
them instead of stopping.`,
		Example: `  foxstore import backup.jsonl
  gunzip -c prod.jsonl.gz | foxstore --dsn /tmp/kv.db import -
  foxstore import ~/.local/share/go-musicfox/db/musicfox.db
  foxstore import musicfox.db --format bbolt --bucket default_bucket --skip-invalid`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			path := args[0]
			switch format {
			case "auto", "jsonl", "bbolt":
			default:
				return usage("--format %q: want auto, jsonl or bbolt", format)
			}
			if err := checkProgress(a.progress); err != nil {
				return err
			}
			var src dump.Source
			var in io.Reader = a.stdin
			var reader *dump.Reader
			var bolt *dump.Bolt
			if path == "-" {
				if format == "bbolt" {
					return usage("a bbolt database cannot be read from standard input; give its path")
				}
				format = "jsonl"
			} else {
				f, err := os.Open(path)
				if err != nil {
					return inputErr("open", path, err)
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil && fi.IsDir() {
					return inputErr("open", path, errors.New("is a directory"))
				}
				br := bufio.NewReader(f)
				if format == "auto" {
					head, err := br.Peek(64)
					if err != nil && err != io.EOF {
						return inputErr("read", path, err)
					}
					format = "bbolt"
					if dump.Sniff(head) || len(head) == 0 {
						format = "jsonl"
					}
				}
				if format == "jsonl" {
					in = br
				} else {
					f.Close()
				}
			}
			if format == "jsonl" {
				reader, err = dump.NewReader(in, dump.ReadOptions{Relative: relative})
				if err != nil {
					return dumpErr(path, err)
				}
				src = reader
			} else {
				bolt = &dump.Bolt{Path: path, Bucket: bucket}
				src = bolt
			}

			ctx, cancel := a.context(cmd)
			defer cancel()
			t, err := a.target()
			if err != nil {
				return err
			}
			s, err := cli.Open(ctx, t, cli.Write, a.logger)
			if err != nil {
				return err
			}
			defer closeStore(s, &err)
			total := -1
			if bolt != nil {
				if total, err = bolt.Count(ctx); err != nil {
					return err
				}
			}
			bar := a.newProgress("import")
			rep, err := dump.Copy(ctx, s, src, dump.CopyOptions{
				Batch:       batch,
				SkipInvalid: skipInvalid,
				Progress:    func(done int) { bar.update(done, total) },
			})
			bar.done()
			if err != nil {
				if dump.IsSyntax(err) {
					err = dumpErr(path, err)
				}
				if rep.Written > 0 {
					fmt.Fprintf(a.stderr, "foxstore: import stopped after writing %d records in %d batches", rep.Written, rep.Batches)
					if rep.FailedFrom != "" {
						fmt.Fprintf(a.stderr, "; the failed batch (%q to %q) was not written", rep.FailedFrom, rep.FailedTo)
					}
					fmt.Fprintln(a.stderr)
				}
				return err
			}
			var notes []string
			if reader != nil && !reader.Complete() {
				notes = append(notes, "the dump has no end line: it may have been cut short")
			}
			if bolt != nil && len(bolt.Nested) > 0 {
				notes = append(notes, fmt.Sprintf("skipped %d nested buckets: %q", len(bolt.Nested), bolt.Nested))
			}
			if a.json {
				return a.printJSON(map[string]any{"store": t.Describe(), "file": path, "format": format, "report": rep, "notes": notes})
			}
			for _, n := range notes {
				fmt.Fprintln(a.stderr, "foxstore: warning:", n)
			}
			tw := a.table()
			fmt.Fprintf(tw, "imported\t%s (%s)\n", path, format)
			fmt.Fprintf(tw, "into\t%s\n", t.Describe())
			fmt.Fprintf(tw, "read\t%d\n", rep.Read)
			fmt.Fprintf(tw, "written\t%d\n", rep.Written)
			fmt.Fprintf(tw, "expired\t%d\n", rep.Expired)
			fmt.Fprintf(tw, "skipped\t%d\n", len(rep.Skipped))
			for _, sk := range rep.Skipped {
				fmt.Fprintf(tw, "  %q\t%s\n", sk.Key, sk.Reason)
			}
			return tw.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&format, "format", "auto", "input `format`: auto, jsonl (a foxstore dump) or bbolt")
	f.StringVar(&bucket, "bucket", dump.MusicfoxBucket, "bbolt `bucket` to read")
	f.IntVar(&batch, "batch", dump.DefaultBatch, "records per atomic write")
	f.BoolVar(&relative, "relative-ttl", false, "give each key its recorded remaining TTL from now, not its recorded deadline")
	f.BoolVar(&skipInvalid, "skip-invalid", false, "leave out and list records the store refuses, instead of stopping")
	f.StringVar(&a.progress, "progress", "auto", "progress bar: auto (on a terminal), always or never")
	return c
}

// dumpErr reports a dump that does not parse.
func dumpErr(path string, err error) error {
	if dump.IsSyntax(err) {
		return &foxstore.Error{Op: "import " + path, Code: foxstore.CodeCorrupted, Err: err}
	}
	return inputErr("read", path, err)
}

func (a *app) migrateCmd() *cobra.Command {
	var (
		from, to    string
		opt         cli.MigrateOptions
		progressArg string
	)
	c := &cobra.Command{
		Use:   "migrate --to STORE [--from STORE]",
		Short: "Copy every live key from one store to another, keeping types and TTLs",
		Long: `Copy every live key (or those matching --pattern) from the --from store to the
--to store, in atomic batches, keeping each value's type and each key's
deadline. --from defaults to the store the global flags name.

A STORE is the path of a YAML configuration, or a URL:
  memory://                             (only useful in tests)
  file:///path/store.json
  sqlite:///path/store.db
  postgres://user:pass@host:5432/db?sslmode=disable
  mysql://user:pass@tcp(host:3306)/db
  redis://[user:pass@]host:port[/db]
  bbolt:///path/musicfox.db[?bucket=default_bucket]   (a source only)
file, sqlite, redis and memory URLs take ?namespace=NS; database URLs ?table=NAME.

The destination must be empty unless --merge is given. Afterwards the
destination's live keys are counted and checked against what was copied.
On a terminal a progress bar shows how far it got. If anything fails, the
report says how many keys were written and how to resume (--merge).
Stop programs that write to the source first: keys written during the copy
may or may not be copied.`,
		Example: `  foxstore migrate --to sqlite:///home/me/kv.db
  foxstore migrate --from file:///home/me/.local/share/foxstore/storage.json --to 'postgres://me@db/prod?sslmode=disable'
  foxstore migrate --from bbolt:///home/me/.local/share/go-musicfox/db/musicfox.db --to file:///tmp/store.json
  foxstore migrate --from old.yaml --to new.yaml --merge --pattern 'user:*'`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if to == "" {
				return usage("migrate needs --to STORE")
			}
			if err := checkProgress(progressArg); err != nil {
				return err
			}
			a.progress = progressArg
			var src cli.Target
			if from == "" {
				if src, err = a.target(); err != nil {
					return err
				}
			} else if src, err = cli.ParseTarget(from); err != nil {
				return err
			}
			dst, err := cli.ParseTarget(to)
			if err != nil {
				return err
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			bar := a.newProgress("migrate")
			opt.Progress = bar.update
			opt.Logger = a.logger
			rep, err := cli.Migrate(ctx, src, dst, opt)
			bar.done()
			if a.json {
				out := map[string]any{"report": rep}
				if err != nil {
					out["error"] = err.Error()
				}
				if perr := a.printJSON(out); err == nil {
					err = perr
				}
				return err
			}
			if err != nil {
				fmt.Fprint(a.stderr, "foxstore: ", rep.ErrorReport(err))
				return cli.Quiet(err)
			}
			for _, n := range rep.Notes {
				fmt.Fprintln(a.stderr, "foxstore: note:", n)
			}
			tw := a.table()
			fmt.Fprintf(tw, "from\t%s\n", rep.From)
			fmt.Fprintf(tw, "to\t%s\n", rep.To)
			fmt.Fprintf(tw, "source keys\t%d\n", rep.SourceCount)
			fmt.Fprintf(tw, "written\t%d (in %d batches)\n", rep.Written, rep.Batches)
			fmt.Fprintf(tw, "expired\t%d\n", rep.Expired)
			fmt.Fprintf(tw, "skipped\t%d\n", len(rep.Skipped))
			for _, sk := range rep.Skipped {
				fmt.Fprintf(tw, "  %q\t%s\n", sk.Key, sk.Reason)
			}
			fmt.Fprintf(tw, "destination\t%d keys before, %d after\n", rep.DestBefore, rep.DestAfter)
			fmt.Fprintf(tw, "count check\t%s\n", rep.Check)
			return tw.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "source `STORE`: a YAML config path or URL (default: the global store flags)")
	f.StringVar(&to, "to", "", "destination `STORE`: a YAML config path or URL")
	f.StringVar(&opt.Pattern, "pattern", "*", "copy only the keys matching this glob `pattern`")
	f.IntVar(&opt.Batch, "batch", dump.DefaultBatch, "keys per atomic write")
	f.BoolVar(&opt.Merge, "merge", false, "copy into a destination that already holds keys (overwriting keys in both)")
	f.BoolVar(&opt.SkipInvalid, "skip-invalid", false, "leave out and list records the destination refuses, instead of stopping")
	f.StringVar(&progressArg, "progress", "auto", "progress bar: auto (on a terminal), always or never")
	return c
}

func (a *app) backupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write an online backup of a file store",
		Long: `Write a consistent copy of the store to FILE (- for standard output) while
programs keep using it. The copy is a store file itself: open it with
--file FILE, or put it in place of the store's file to restore it.

Online backups need a backend that can make them (the file backend); for the
others, use export, which works everywhere.`,
		Example: `  foxstore backup /backups/storage-$(date +%F).json
  foxstore --file /tmp/restored.json keys   # after: cp BACKUP /tmp/restored.json`,
		Args: args(1, 1),
		RunE: a.withTarget(cli.Read, func(ctx context.Context, s foxstore.Store, t cli.Target, cmd *cobra.Command, args []string) (err error) {
			path := args[0]
			out, commit, abort, err := a.createOutput(path)
			if err != nil {
				return err
			}
			cw := &countingWriter{w: out}
			if err := foxstore.Backup(ctx, s, cw); err != nil {
				abort()
				return err
			}
			if err := commit(); err != nil {
				return err
			}
			if path == "-" {
				return nil
			}
			if a.json {
				return a.printJSON(map[string]any{"store": t.Describe(), "file": path, "bytes": cw.n})
			}
			_, err = fmt.Fprintf(a.stdout, "backup of %s written to %s (%d bytes)\n", t.Describe(), path, cw.n)
			return err
		}),
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
