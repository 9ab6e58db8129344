package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/internal/cli"
)

func (a *app) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify [PATH]",
		Short: "Check a file store's checksums and say what a backup can restore",
		Long: `Check the file store at PATH (default: the store the global flags name) and
its rotated backups (PATH.bak1, PATH.bak2, ...) without changing any file:
every snapshot and log segment is read and its checksums verified, as opening
the store does. The report lists each damaged file and why, what the store
opens from, and which backups verify and how many keys each would restore.

Exits with status 0 when everything verifies and 4 when anything is damaged.`,
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
				tw := a.table()
				fmt.Fprintln(tw, "FILE\tROLE\tSTATUS\tKEYS\tMODIFIED\tDETAIL")
				for _, f := range rep.Files {
					keys := "-"
					if f.Keys >= 0 {
						keys = fmt.Sprint(f.Keys)
					}
					mod := "-"
					if !f.Modified.IsZero() {
						mod = f.Modified.Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Path, f.Role, f.Status, keys, mod, f.Detail)
				}
				if err = tw.Flush(); err == nil {
					_, err = fmt.Fprintln(a.stdout, rep.Advice)
				}
			}
			if err == nil && !rep.Healthy {
				err = cli.Quiet(&foxstore.Error{Op: "verify", Code: foxstore.CodeCorrupted})
			}
			return err
		},
	}
}
