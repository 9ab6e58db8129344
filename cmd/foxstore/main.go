// Command foxstore inspects and changes a foxstore store from the shell:
// get and set keys, query patterns, export and import portable dumps,
// migrate between backends (go-musicfox's bbolt database included), make
// online backups, verify a file store and benchmark a backend.
//
// With no flags it works on the file store in the user data directory
// ($MUSICFOX_ROOT/foxstore, else $XDG_DATA_HOME/foxstore, else the OS data
// directory). Run `foxstore --help` for the commands, the exit statuses and
// how to name another store.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/internal/cli"

	// The optional backends, linked so that the tool can open every store.
	_ "github.com/foxstore/foxstore/backend/database"
	_ "github.com/foxstore/foxstore/backend/redis"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app holds what every command shares: the global flags and the streams.
type app struct {
	loc      cli.Location
	json     bool
	timeout  time.Duration
	progress string

	stdin          io.Reader
	stdout, stderr io.Writer
	logger         *slog.Logger

	ran bool // a command's own code started: errors before it are usage errors
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	a.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	_, err := root.ExecuteContextC(ctx)
	if err != nil && !a.ran {
		var fe *foxstore.Error
		if !errors.As(err, &fe) {
			err = &cli.UsageError{Err: err}
		}
	}
	return a.fail(err)
}

// fail reports err on stderr and returns its exit status.
func (a *app) fail(err error) int {
	code := cli.ExitCode(err)
	if err == nil || cli.IsQuiet(err) {
		return code
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "foxstore: ") {
		msg = "foxstore: " + msg
	}
	if a.json {
		b, _ := json.Marshal(struct {
			Error string `json:"error"`
			Code  int    `json:"code,omitempty"`
			Exit  int    `json:"exit"`
		}{msg, foxstore.CodeOf(err), code})
		fmt.Fprintln(a.stderr, string(b))
		return code
	}
	fmt.Fprintln(a.stderr, msg)
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintln(a.stderr, "Run 'foxstore --help' for usage.")
	}
	return code
}

// usage wraps a bad command line.
func usage(format string, args ...any) error {
	return &cli.UsageError{Err: fmt.Errorf(format, args...)}
}

// args checks the number of positional arguments, as a usage error.
func args(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		switch {
		case len(a) < lo:
			return usage("%s needs %s (see foxstore %s --help)", cmd.Name(), plural(lo, "argument"), cmd.Name())
		case hi >= 0 && len(a) > hi:
			return usage("%s takes at most %s, got %d", cmd.Name(), plural(hi, "argument"), len(a))
		}
		return nil
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// context gives a command its context, bounded by --timeout.
func (a *app) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if a.timeout > 0 {
		return context.WithTimeout(ctx, a.timeout)
	}
	return context.WithCancel(ctx)
}

// target resolves the global store flags.
func (a *app) target() (cli.Target, error) {
	t, err := a.loc.Resolve()
	if err != nil {
		return t, err
	}
	if t.Default && t.Config.Backend == "memory" {
		fmt.Fprintln(a.stderr, "foxstore: warning: this build has no file backend; using an empty in-memory store that is gone when the command ends")
	}
	return t, nil
}

// open opens the store the global flags name, for commands that check their
// arguments before they touch the store. The caller closes it with closeStore.
func (a *app) open(ctx context.Context, mode cli.Mode) (foxstore.Store, error) {
	t, err := a.target()
	if err != nil {
		return nil, err
	}
	return cli.Open(ctx, t, mode, a.logger)
}

// withStore makes the RunE of a command that works on the store: it opens
// the store for mode under the command's context and closes it after fn,
// reporting a close error when fn had none.
func (a *app) withStore(mode cli.Mode, fn func(ctx context.Context, s foxstore.Store, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return a.withTarget(mode, func(ctx context.Context, s foxstore.Store, _ cli.Target, cmd *cobra.Command, args []string) error {
		return fn(ctx, s, cmd, args)
	})
}

// withTarget is withStore for commands that also name the store in their
// output: fn gets the target the flags resolved to.
func (a *app) withTarget(mode cli.Mode, fn func(ctx context.Context, s foxstore.Store, t cli.Target, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) (err error) {
		ctx, cancel := a.context(cmd)
		defer cancel()
		t, err := a.target()
		if err != nil {
			return err
		}
		s, err := cli.Open(ctx, t, mode, a.logger)
		if err != nil {
			return err
		}
		defer closeStore(s, &err)
		return fn(ctx, s, t, cmd, args)
	}
}

// closeStore closes s, turning a failed close (unflushed writes) into the
// command's error when it had none.
func closeStore(s foxstore.Store, err *error) {
	if cerr := s.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// printJSON writes v as one line of JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table returns a writer that aligns tab-separated columns; call Flush.
func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
}
