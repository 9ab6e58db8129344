package cli

import (
	"context"
	"errors"

	"github.com/foxstore/foxstore"
)

// Exit statuses of cmd/foxstore. ExitCode is the one place that chooses them.
const (
	ExitOK        = 0   // success
	ExitNotFound  = 1   // no such key (5004), or exists answered false
	ExitUsage     = 2   // bad command, flag, argument, TTL, value, pattern, config or input file (5006)
	ExitFailure   = 3   // the backend failed: I/O, network, server, closed store, conflict (5001, 5002, 5005, 5007, 5008), or a migration check failed
	ExitCorrupted = 4   // stored data or a dump fails to parse or verify (5003)
	ExitLocked    = 5   // another process holds the store (5009)
	ExitInterrupt = 130 // interrupted (Ctrl-C)
)

// UsageError is a command line that cannot be run: an unknown command or
// flag, a wrong number of arguments.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// quiet marks an error whose exit status says everything (exists: false).
type quiet struct{ error }

func (q quiet) Unwrap() error { return q.error }

// Quiet wraps err so that it sets the exit status without a message.
func Quiet(err error) error { return quiet{err} }

// IsQuiet reports whether err should set the exit status silently.
func IsQuiet(err error) bool {
	var q quiet
	return errors.As(err, &q)
}

// Failure is an error found by the tool itself after the store calls
// succeeded, such as a migration whose count check failed.
type Failure struct{ Msg string }

func (e *Failure) Error() string { return e.Msg }

// ExitCode maps an error to the exit status of the command.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	switch foxstore.CodeOf(err) {
	case foxstore.CodeNotFound:
		return ExitNotFound
	case foxstore.CodeInvalid:
		return ExitUsage
	case foxstore.CodeCorrupted:
		return ExitCorrupted
	case foxstore.CodeLocked:
		return ExitLocked
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupt
	}
	return ExitFailure
}
