package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/file"
	"github.com/foxstore/foxstore/internal/cli"
)

func (a *app) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify [PATH]",
		Short: "Check a file store's checksums and say what a backup can restore",
		Long: `Check the file store at PATH (default: the store the global flags name)
without changing any file and without taking its lock, so it may run while a
program uses the store. Every snapshot (the current one and each backup,
PATH.bak1, PATH.bak2, ...) and every log segment is read and its checksums
verified, as opening the store does. The report lists each file with its
status (ok, damaged, torn, ...), where any damage starts (line and byte
offset), its record numbers and keys; then what opening the store would load
and repair, which records it would lose, and whether it opens at all.

Exits with status 0 when everything verifies (a torn log tail left by a crash
is no damage) and 4 when anything is damaged.`,
		Example: `  foxstore verify
  foxstore verify /backups/storage.json --json`,
		Args: args(0, 1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			var path string
			if len(args) == 1 {
				path = args[0]
			} else {
				t, err := a.target()
				if err != nil {
					return err
				}
				if t.Config.Backend != "file" {
					return &foxstore.Error{Op: "verify", Code: foxstore.CodeInvalid,
						Err: fmt.Errorf("verify checks file stores; %s is not one", t.Describe())}
				}
				path = t.Config.FilePath
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			rep, err := cli.Verify(ctx, path)
			if err != nil {
				return err
			}
			if a.json {
				err = a.printJSON(rep)
			} else {
				err = a.printVerify(rep)
			}
			if err == nil && rep.Damaged {
				err = cli.Quiet(&foxstore.Error{Op: "verify", Code: foxstore.CodeCorrupted})
			}
			return err
		},
	}
}

// printVerify prints a verify report as a table of files, then what
// opening the store would do.
func (a *app) printVerify(rep *cli.VerifyReport) error {
	tw := a.table()
	fmt.Fprintln(tw, "FILE\tROLE\tSTATUS\tRECORDS\tKEYS\tMODIFIED\tDETAIL")
	for _, f := range rep.Files {
		records, keys := "-", "-"
		switch {
		case f.Status == file.StatusSkipped:
		case f.Role == file.RoleLog:
			records = "none"
			if f.Records > 0 {
				records = fmt.Sprintf("%d-%d", f.FirstSeq, f.LastSeq)
			}
			keys = fmt.Sprint(f.Keys)
		case f.Status == file.StatusOK:
			records = fmt.Sprintf("..%d", f.Seq)
			keys = fmt.Sprint(f.Live)
		}
		detail := f.Reason
		if f.At != nil {
			detail = fmt.Sprintf("line %d (offset %d): %s", f.At.Line, f.At.Offset, detail)
		}
		if f.UpTo > f.Seq {
			detail = strings.TrimPrefix(detail+fmt.Sprintf("; with the log, up to record %d", f.UpTo), "; ")
		}
		mod := "-"
		if !f.Modified.IsZero() {
			mod = f.Modified.Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Path, f.Role, f.Status, records, keys, mod, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	w := a.stdout
	rec := rep.Recovery
	if rec.Opens {
		from := "no snapshot"
		if rec.Snapshot != "" {
			from = fmt.Sprintf("%s (records ..%d)", rec.Snapshot, rec.SnapshotSeq)
		}
		if rec.FirstSeq > 0 {
			from += fmt.Sprintf(" + log records %d-%d", rec.FirstSeq, rec.LastSeq)
		}
		fmt.Fprintf(w, "\nopens from: %s, %d live keys\n", from, rec.Keys)
	} else {
		fmt.Fprintf(w, "\ndoes not open: %s\n", rec.Error)
	}
	for _, l := range rep.Lost {
		printLost(w, l)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", rep.Advice)
	return err
}

func printLost(w io.Writer, l file.Lost) {
	what := fmt.Sprintf("records %d-%d", l.FirstSeq, l.LastSeq)
	if l.FirstSeq == 0 {
		what = fmt.Sprintf("%d bytes", l.Bytes)
	}
	if l.Path != "" {
		what += " in " + l.Path
	}
	if l.At != nil {
		what += fmt.Sprintf(" from line %d (offset %d)", l.At.Line, l.At.Offset)
	}
	fmt.Fprintf(w, "lost: %s: %s\n", what, l.Reason)
}
