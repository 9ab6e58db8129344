package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/internal/dump"
)

// MigrateOptions control Migrate.
type MigrateOptions struct {
	Batch       int    // records per atomic write; dump.DefaultBatch when 0
	Pattern     string // keys to copy; "*" when empty
	Merge       bool   // allow a destination that already holds keys
	SkipInvalid bool   // leave out records the destination rejects, and list them
	// Progress, if set, is called after each batch; total is -1 when unknown.
	Progress func(done, total int)
	Logger   *slog.Logger
}

// MigrateReport says what Migrate did and what it checked.
type MigrateReport struct {
	From string `json:"from"`
	To   string `json:"to"`
	// SourceCount is the number of live keys the source had when the copy began.
	SourceCount int `json:"source_count"`
	dump.Report
	DestBefore int `json:"dest_before"`
	DestAfter  int `json:"dest_after"`
	// Check describes the count check, "ok" or what was wrong.
	Check string `json:"check"`
	// Notes are things worth knowing that are not failures.
	Notes []string `json:"notes,omitempty"`
}

// Migrate copies every live key of from that matches opt.Pattern into to,
// in atomic batches, keeping types and deadlines, then checks that the
// destination holds as many live keys as it should. from may be a bbolt
// database. Both stores should be idle: a key written to the source during
// the copy may or may not be copied.
//
// The report is returned even with an error, saying how far the copy got.
func Migrate(ctx context.Context, from, to Target, opt MigrateOptions) (rep *MigrateReport, err error) {
	rep = &MigrateReport{From: from.Describe(), To: to.Describe(), SourceCount: -1}
	if to.Bolt != "" {
		return rep, invalidf("migrate", "a bbolt database can only be a source (--from)")
	}
	if Same(from, to) {
		return rep, invalidf("migrate", "--from and --to are the same store (%s)", to.Describe())
	}
	if opt.Pattern == "" {
		opt.Pattern = "*"
	}

	var src dump.Source
	if from.Bolt != "" {
		if opt.Pattern != "*" {
			return rep, invalidf("migrate", "--pattern does not apply to a bbolt source")
		}
		src = &dump.Bolt{Path: from.Bolt, Bucket: from.Bucket}
	} else {
		s, err := Open(ctx, from, Read, opt.Logger)
		if err != nil {
			return rep, fmt.Errorf("source: %w", err)
		}
		defer s.Close()
		src = dump.Store{S: s, Pattern: opt.Pattern}
	}
	if c, ok := src.(dump.Counter); ok {
		n, err := c.Count(ctx)
		if err != nil {
			return rep, fmt.Errorf("source: %w", err)
		}
		rep.SourceCount = n
	}

	dst, err := Open(ctx, to, Write, opt.Logger)
	if err != nil {
		return rep, fmt.Errorf("destination: %w", err)
	}
	defer func() {
		if cerr := dst.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("destination: close (the last writes may be lost): %w", cerr)
		}
	}()
	if rep.DestBefore, err = dst.Count(ctx, "*"); err != nil {
		return rep, fmt.Errorf("destination: %w", err)
	}
	if rep.DestBefore > 0 && !opt.Merge {
		return rep, invalidf("migrate", "the destination already holds %d keys; pass --merge to copy into it anyway (keys in both are overwritten)", rep.DestBefore)
	}

	copts := dump.CopyOptions{Batch: opt.Batch, SkipInvalid: opt.SkipInvalid}
	if opt.Progress != nil {
		copts.Progress = func(done int) { opt.Progress(done, rep.SourceCount) }
	}
	r, err := dump.Copy(ctx, dst, src, copts)
	rep.Report = *r
	if b, ok := src.(*dump.Bolt); ok && len(b.Nested) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("skipped %d nested bbolt buckets: %q", len(b.Nested), b.Nested))
	}
	if err != nil {
		return rep, err
	}

	// The count check. Keys may expire while it runs, so the right figure
	// lies between the copied keys live after the count and those live before.
	high := r.LiveAt(time.Now())
	if rep.DestAfter, err = dst.Count(ctx, "*"); err != nil {
		return rep, fmt.Errorf("destination: count check: %w", err)
	}
	low := r.LiveAt(time.Now())
	switch {
	case !opt.Merge && (rep.DestAfter < low || rep.DestAfter > high):
		rep.Check = fmt.Sprintf("the destination holds %d live keys, but %s were copied and are still live", rep.DestAfter, span(low, high))
	case opt.Merge && (rep.DestAfter < low || rep.DestAfter > rep.DestBefore+high):
		rep.Check = fmt.Sprintf("the destination holds %d live keys, outside the possible %d..%d (%d before, %s copied)",
			rep.DestAfter, low, rep.DestBefore+high, rep.DestBefore, span(low, high))
	default:
		rep.Check = "ok"
	}
	if rep.SourceCount >= 0 && rep.SourceCount != rep.Read {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the source counted %d keys at the start but gave %d: it changed during the copy, or keys expired", rep.SourceCount, rep.Read))
	}
	if rep.Check != "ok" {
		return rep, &Failure{Msg: "migrate: count check failed: " + rep.Check}
	}
	return rep, nil
}

func span(low, high int) string {
	if low == high {
		return fmt.Sprint(low)
	}
	return fmt.Sprintf("%d to %d", low, high)
}

// ErrorReport explains a failed migration in a few lines: how far it got,
// what is in the destination now, and how to resume.
func (rep *MigrateReport) ErrorReport(err error) string {
	msg := fmt.Sprintf("migration from %s to %s failed: %v\n", rep.From, rep.To, err)
	if rep.Batches == 0 && rep.Written == 0 {
		return msg + "nothing was written to the destination.\n"
	}
	msg += fmt.Sprintf("%d of %s keys were written in %d batches before the failure", rep.Written, countText(rep.SourceCount), rep.Batches)
	if rep.FailedFrom != "" {
		msg += fmt.Sprintf("; the batch from %q to %q was not written", rep.FailedFrom, rep.FailedTo)
	}
	msg += ".\nThe destination keeps the keys written so far; run the same command with --merge to finish the copy.\n"
	var fe *foxstore.Error
	if errors.As(err, &fe) && fe.Code == foxstore.CodeInvalid && fe.Key != "" {
		msg += "--skip-invalid leaves out records the destination rejects and lists them.\n"
	}
	return msg
}

func countText(n int) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
