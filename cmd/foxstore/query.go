package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/internal/cli"
	"github.com/foxstore/foxstore/internal/dump"
)

const patternHelp = `PATTERN is a Redis KEYS glob: * any run of characters, ? one character,
[abc] [a-z] [^a] classes, \ escapes the next character. Quote it for the shell.`

// patternArg returns the optional PATTERN argument, "*" when absent.
func patternArg(args []string) string {
	if len(args) == 0 {
		return "*"
	}
	return args[0]
}

func (a *app) keysCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keys [PATTERN]",
		Short: "List the live keys matching a pattern, sorted",
		Long:  "List the live keys that match PATTERN (default *), one per line, sorted.\n\n" + patternHelp,
		Example: `  foxstore keys
  foxstore keys 'lastfm_*'
  foxstore keys 'user:1??' --json`,
		Args: args(0, 1),
		RunE: a.withStore(cli.Read, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			keys, err := s.Keys(ctx, patternArg(args))
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(keys)
			}
			for _, k := range keys {
				if _, err := fmt.Fprintln(a.stdout, k); err != nil {
					return err
				}
			}
			return nil
		}),
	}
}

func (a *app) findCmd() *cobra.Command {
	var full bool
	c := &cobra.Command{
		Use:   "find PATTERN",
		Short: "Show the keys matching a pattern with their types, TTLs and values",
		Long: `Show every live key that matches PATTERN with its type, remaining TTL and
value (long values are cut in the table; --full shows them whole). --json
prints an array of objects shaped like dump lines.

` + patternHelp,
		Example: `  foxstore find '*'
  foxstore find 'session:*' --json`,
		Args: args(1, 1),
		RunE: a.withStore(cli.Read, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			var recs []foxstore.Record
			err = foxstore.Export(ctx, s, args[0], func(r foxstore.Record) error {
				recs = append(recs, r)
				return nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printRecordsJSON(recs)
			}
			tw := a.table()
			fmt.Fprintln(tw, "KEY\tTYPE\tTTL\tVALUE")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Key, r.Value.Type(),
					cli.FormatTTL(time.Until(r.Expires), !r.Expires.IsZero()), clipValue(r.Value.JSON(), full))
			}
			return tw.Flush()
		}),
	}
	c.Flags().BoolVar(&full, "full", false, "show whole values in the table")
	return c
}

// printRecordsJSON prints records as one JSON array of dump-line objects.
func (a *app) printRecordsJSON(recs []foxstore.Record) error {
	now := time.Now()
	b := []byte{'['}
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = dump.AppendRecord(b, r, now); err != nil {
			return err
		}
	}
	b = append(b, "]\n"...)
	_, err := a.stdout.Write(b)
	return err
}

func (a *app) countCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "count [PATTERN]",
		Short: "Count the live keys matching a pattern",
		Long:  "Print how many live keys match PATTERN (default *).\n\n" + patternHelp,
		Example: `  foxstore count
  foxstore count 'session:*' --json`,
		Args: args(0, 1),
		RunE: a.withStore(cli.Read, func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) (err error) {
			n, err := s.Count(ctx, patternArg(args))
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"pattern": patternArg(args), "count": n})
			}
			_, err = fmt.Fprintln(a.stdout, n)
			return err
		}),
	}
}

func (a *app) statsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show the store, its key count, cache statistics and health",
		Long: `Show which store the flags name, how many live keys it holds, its cache
statistics (hits, misses, hit rate, evictions, expirations, entries,
capacity; counted since this command opened the store) and its health check.`,
		Example: `  foxstore stats
  foxstore --dsn /tmp/kv.db stats --json`,
		Args: args(0, 0),
		RunE: a.withTarget(cli.Read, func(ctx context.Context, s foxstore.Store, t cli.Target, cmd *cobra.Command, args []string) (err error) {
			n, err := s.Count(ctx, "*")
			if err != nil {
				return err
			}
			st, err := s.GetCacheStats(ctx)
			if err != nil {
				return err
			}
			h := s.HealthCheck()
			if a.json {
				return a.printJSON(map[string]any{
					"store": t.Describe(), "backend": t.Config.Backend, "keys": n,
					"hits": st.Hits, "misses": st.Misses, "hit_rate": st.HitRate,
					"evictions": st.Evictions, "expirations": st.Expirations,
					"entries": st.Entries, "capacity": st.Capacity,
					"healthy": h.Healthy, "health": h.Message, "details": h.Details,
				})
			}
			tw := a.table()
			rows := [][2]any{
				{"store", t.Describe()}, {"keys", n},
				{"hits", st.Hits}, {"misses", st.Misses}, {"hit rate", fmt.Sprintf("%.2f", st.HitRate)},
				{"evictions", st.Evictions}, {"expirations", st.Expirations},
				{"entries", st.Entries}, {"capacity", capacity(st.Capacity)},
				{"healthy", h.Healthy},
			}
			if h.Message != "" {
				rows = append(rows, [2]any{"health", h.Message})
			}
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%v\n", r[0], r[1])
			}
			return tw.Flush()
		}),
	}
}

func capacity(n int64) string {
	if n == 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
