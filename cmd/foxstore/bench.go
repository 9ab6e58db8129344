package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/internal/cli"
)

func (a *app) benchCmd() *cobra.Command {
	var opt cli.BenchOptions
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure a backend with a quick mixed workload",
		Long: `Run a mixed workload on the store for --duration (or --ops operations) from
--workers goroutines and print, per operation, how many ran, operations per
second and the median (p50) and 99th percentile (p99) latency.

The mix: get 40%, set 15%, set with TTL 5%, exists 5%, delete 5%, get-batch
10%, set-batch 5% (--batch keys each), and pattern queries: find 5%, count 5%,
keys 5% (each over about 1% of the keys). --keys keys of --value-size bytes
are loaded first. The benchmark works in a namespace of its own, so the
store's keys are neither read nor changed, and deletes what it wrote.

Compare backends on your machine by running it with different store flags.`,
		Example: `  foxstore bench
  foxstore --backend memory bench --duration 5s --workers 8
  foxstore --dsn /tmp/bench.db bench --keys 50000 --value-size 1024
  foxstore --redis 127.0.0.1:6379 bench --json`,
		Args: args(0, 0),
		RunE: a.withTarget(cli.Write, func(ctx context.Context, s foxstore.Store, t cli.Target, cmd *cobra.Command, args []string) (err error) {
			if opt.Ops > 0 && !cmd.Flags().Changed("duration") {
				opt.Duration = 0
			}
			if !a.json {
				fmt.Fprintf(a.stderr, "bench: loading %d keys into %s...\n", max(opt.Keys, 0), t.Describe())
			}
			res, err := cli.Bench(ctx, s, opt, nil)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"store": t.Describe(), "result": res})
			}
			fmt.Fprintf(a.stdout, "%s: %d workers, %d keys of %d bytes, batches of %d, %s\n",
				t.Describe(), res.Workers, res.Keys, res.ValueSize, res.Batch, res.Elapsed.Round(time.Millisecond))
			tw := a.table()
			fmt.Fprintln(tw, "OP\tCOUNT\tOPS/S\tP50\tP99\tERRORS")
			for _, r := range append(res.Ops, res.Total) {
				fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%d\n", r.Op, r.Count, r.OpsPerSec, lat(r.P50), lat(r.P99), r.Errors)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if res.FirstError != "" {
				fmt.Fprintln(a.stderr, "foxstore: bench: first error:", res.FirstError)
			}
			if res.CleanupError != "" {
				fmt.Fprintln(a.stderr, "foxstore: bench:", res.CleanupError)
			}
			return nil
		}),
	}
	f := c.Flags()
	f.DurationVar(&opt.Duration, "duration", 2*time.Second, "how long to run")
	f.IntVar(&opt.Ops, "ops", 0, "stop after this many operations (0: run for --duration; with --ops alone, no time limit)")
	f.IntVar(&opt.Workers, "workers", 4, "concurrent clients")
	f.IntVar(&opt.Keys, "keys", 10000, "keys to load before the run")
	f.IntVar(&opt.ValueSize, "value-size", 256, "bytes per value")
	f.IntVar(&opt.Batch, "batch", 50, "keys per batch operation")
	f.Uint64Var(&opt.Seed, "seed", 0, "random seed (0: from the clock)")
	return c
}

// lat prints a latency with three significant digits.
func lat(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return d.Round(10 * time.Nanosecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
