package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/internal/cli"
	"github.com/foxstore/foxstore/internal/dump"
)

// printRecordJSON prints a record as the JSON object of the dump format.
func (a *app) printRecordJSON(r foxstore.Record) error {
	b, err := dump.AppendRecord(nil, r, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

func (a *app) getCmd() *cobra.Command {
	var raw bool
	c := &cobra.Command{
		Use:   "get KEY",
		Short: "Print the value of a key as JSON",
		Long: `Print the value stored under KEY as JSON: strings quoted, numbers and bools
bare, bytes in base64, times in RFC 3339, objects and arrays as stored.

--raw prints a string or bytes value as is, without quotes or base64.
--json prints the key, its type, value and expiry as one JSON object, the
same object a dump line holds.

Exits with status 1 if the key does not exist or has expired.`,
		Example: `  foxstore get volume
  foxstore get cur_user --json
  foxstore get greeting --raw`,
		Args: args(1, 1),
		RunE: a.withStore(cli.Read, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			rec, err := cli.Lookup(ctx, s, args[0])
			if err != nil {
				return err
			}
			switch {
			case a.json:
				return a.printRecordJSON(rec)
			case raw && rec.Value.Kind() == driver.KindString:
				x, _ := rec.Value.Decode()
				_, err = fmt.Fprintln(a.stdout, x)
			case raw && rec.Value.Kind() == driver.KindBytes:
				x, _ := rec.Value.Decode()
				_, err = a.stdout.Write(x.([]byte))
			default:
				_, err = fmt.Fprintf(a.stdout, "%s\n", rec.Value.JSON())
			}
			return err
		}),
	}
	c.Flags().BoolVar(&raw, "raw", false, "print a string or bytes value as is")
	return c
}

func (a *app) setCmd() *cobra.Command {
	var (
		ttlText string
		typ     string
		stdin   bool
	)
	c := &cobra.Command{
		Use:   "set KEY [VALUE]",
		Short: "Store a value under a key",
		Long: `Store VALUE under KEY, replacing any value and TTL the key had.

VALUE is read as JSON when it is valid JSON, else taken as a string:
  42 is an int, 4.5 a float64, true a bool, null a null, "42" and hello are
  strings, {"a":1} and [1,2] are stored as JSON (the json type).
--type stores the text as a given type instead: string, bytes (base64), bool,
int, int8..int64, uint, uint8..uint64, float32, float64, time (RFC 3339),
json, rawjson (JSON kept byte for byte) or null.

--ttl makes the key expire: a duration such as 90s, 15m, 2h or 7d.
--stdin reads the value from standard input instead of the command line.
A negative number looks like a flag to the shell parser: put -- before it.`,
		Example: `  foxstore set volume 55
  foxstore set greeting hello
  foxstore set code 007 --type string
  foxstore set session:42 '{"user":7}' --ttl 30m
  foxstore set started 2026-05-01T10:00:00Z --type time
  foxstore set offset -- -5
  cat profile.json | foxstore set profile --stdin`,
		Args: args(1, 2),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			var text string
			switch {
			case stdin && len(args) == 2:
				return usage("set: give the value on the command line or with --stdin, not both")
			case stdin:
				b, err := io.ReadAll(a.stdin)
				if err != nil {
					return &foxstore.Error{Op: "read stdin", Code: foxstore.CodeInvalid, Err: err}
				}
				text = strings.TrimSuffix(string(b), "\n")
			case len(args) == 2:
				text = args[1]
			default:
				return usage("set needs a VALUE (or --stdin)")
			}
			var ttl time.Duration
			if ttlText != "" {
				if ttl, err = cli.ParseTTL(ttlText); err != nil {
					return err
				}
			}
			v, err := cli.ParseValue(text, typ)
			if err != nil {
				return err
			}
			x, err := cli.GoValue(v)
			if err != nil {
				return err
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			s, err := a.open(ctx, cli.Write)
			if err != nil {
				return err
			}
			defer closeStore(s, &err)
			if err := s.Set(ctx, args[0], x, ttl); err != nil {
				return err
			}
			if a.json {
				out := map[string]any{"key": args[0], "type": v.Type()}
				if ttl > 0 {
					out["ttl_ms"] = max(ttl.Milliseconds(), 1)
				}
				return a.printJSON(out)
			}
			_, err = fmt.Fprintf(a.stdout, "set %q (%s, expires: %s)\n", args[0], v.Type(), cli.FormatTTL(ttl, ttl > 0))
			return err
		},
	}
	c.Flags().StringVar(&ttlText, "ttl", "", "expire the key after this `duration` (90s, 15m, 2h, 7d)")
	c.Flags().StringVar(&typ, "type", "", "store the value as this `type` (string, int, float64, bool, bytes, time, json, ...)")
	c.Flags().BoolVar(&stdin, "stdin", false, "read the value from standard input")
	return c
}

func (a *app) delCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "del KEY...",
		Aliases: []string{"delete", "rm"},
		Short:   "Delete keys",
		Long: `Delete one or more keys, all at once (atomically). Keys that do not exist
are ignored; the output says how many existed.`,
		Example: `  foxstore del greeting
  foxstore del session:1 session:2 session:3`,
		Args: args(1, -1),
		RunE: a.withStore(cli.Write, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			present, err := s.GetBatch(ctx, args)
			if err != nil {
				return err
			}
			if err := s.DeleteBatch(ctx, args); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"deleted": len(present), "keys": len(args)})
			}
			_, err = fmt.Fprintf(a.stdout, "deleted %d of %d keys\n", len(present), len(args))
			return err
		}),
	}
}

func (a *app) existsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exists KEY",
		Short: "Tell whether a key holds a live value",
		Long: `Print true if KEY holds a value that has not expired, else false.
The exit status says it too: 0 for true, 1 for false.`,
		Example: `  foxstore exists cur_user
  if foxstore exists lastfm_user >/dev/null; then echo "signed in to last.fm"; fi`,
		Args: args(1, 1),
		RunE: a.withStore(cli.Read, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			// Get rather than Exists, which reads any error as false.
			_, err = s.Get(ctx, args[0])
			ok := err == nil
			if err != nil && foxstore.CodeOf(err) != foxstore.CodeNotFound {
				return err
			}
			if a.json {
				err = a.printJSON(map[string]any{"key": args[0], "exists": ok})
			} else {
				_, err = fmt.Fprintln(a.stdout, ok)
			}
			if err == nil && !ok {
				err = cli.Quiet(&foxstore.Error{Op: "exists", Key: args[0], Code: foxstore.CodeNotFound})
			}
			return err
		}),
	}
}

func (a *app) ttlCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ttl KEY",
		Short: "Print the time a key has left",
		Long: `Print the time KEY has left before it expires, or "none" if it never
expires. --json gives ttl_ms and expires_at (RFC 3339), or "expires": false.`,
		Example: `  foxstore ttl session:42
  foxstore ttl session:42 --json`,
		Args: args(1, 1),
		RunE: a.withStore(cli.Read, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			rec, err := cli.Lookup(ctx, s, args[0])
			if err != nil {
				return err
			}
			left := time.Until(rec.Expires)
			if a.json {
				out := map[string]any{"key": args[0], "expires": !rec.Expires.IsZero()}
				if !rec.Expires.IsZero() {
					out["ttl_ms"] = max(left.Milliseconds(), 1)
					out["expires_at"] = rec.Expires.UTC().Format(time.RFC3339Nano)
				}
				return a.printJSON(out)
			}
			_, err = fmt.Fprintln(a.stdout, cli.FormatTTL(left, !rec.Expires.IsZero()))
			return err
		}),
	}
}

func (a *app) expireCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "expire KEY TTL",
		Short: "Give a key a new TTL, or remove its TTL with 0",
		Long: `Make KEY expire TTL from now (90s, 15m, 2h, 7d), keeping its value.
A TTL of 0 removes the expiry: the key then lives until deleted.
Exits with status 1 if the key does not exist.`,
		Example: `  foxstore expire session:42 1h
  foxstore expire session:42 0`,
		Args: args(2, 2),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ttl, err := cli.ParseTTL(args[1])
			if err != nil {
				return err
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			s, err := a.open(ctx, cli.Write)
			if err != nil {
				return err
			}
			defer closeStore(s, &err)
			if err := s.Expire(ctx, args[0], ttl); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"key": args[0], "expires": ttl > 0, "ttl_ms": ttl.Milliseconds()})
			}
			_, err = fmt.Fprintf(a.stdout, "expire %q: %s\n", args[0], cli.FormatTTL(ttl, ttl > 0))
			return err
		},
	}
}

// clipValue shortens a JSON value for a table cell.
func clipValue(b []byte, full bool) string {
	s := string(b)
	if full || len(s) <= 60 {
		return s
	}
	cut := 57
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
