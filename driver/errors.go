package driver

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error codes, stable across releases.
const (
	CodeReadFailed  = 5001
	CodeWriteFailed = 5002
	CodeCorrupted   = 5003
	CodeNotFound    = 5004
	CodeConflict    = 5005
	CodeInvalid     = 5006
	CodeClosed      = 5007
	CodeTxDone      = 5008
	CodeLocked      = 5009
)

// Sentinels for errors.Is. Every error a store returns matches exactly one of
// them (plus, for a cancelled context, context.Canceled or DeadlineExceeded).
var (
	ErrStorageReadFailed  = &Error{Code: CodeReadFailed}
	ErrStorageWriteFailed = &Error{Code: CodeWriteFailed}
	ErrStorageCorrupted   = &Error{Code: CodeCorrupted}
	ErrStorageNotFound    = &Error{Code: CodeNotFound}
	ErrStorageConflict    = &Error{Code: CodeConflict}
	ErrStorageInvalid     = &Error{Code: CodeInvalid}
	ErrStorageClosed      = &Error{Code: CodeClosed}
	ErrStorageTxDone      = &Error{Code: CodeTxDone}
	ErrStorageLocked      = &Error{Code: CodeLocked}
)

var codeText = map[int]string{
	CodeReadFailed:  "read failed",
	CodeWriteFailed: "write failed",
	CodeCorrupted:   "corrupted",
	CodeNotFound:    "not found",
	CodeConflict:    "conflict",
	CodeInvalid:     "invalid",
	CodeClosed:      "closed",
	CodeTxDone:      "transaction done",
	CodeLocked:      "locked",
}

// Error is the one error type of foxstore: what was done (Op), to which key,
// the stable Code and the underlying cause. It prints as
//
//	foxstore: get "user:1": not found [5004]
//
// and matches the sentinel of its code with errors.Is; the cause stays
// reachable through errors.Unwrap and errors.As.
type Error struct {
	Op   string // operation, e.g. "get", "set", "commit"
	Key  string // the caller's key, or "" when the operation has none
	Code int
	Err  error // cause, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("foxstore: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		if e.Key != "" {
			b.WriteByte(' ')
			b.WriteString(quoteKey(e.Key))
		}
		b.WriteString(": ")
	}
	text := codeText[e.Code]
	if text == "" {
		text = "error"
	}
	b.WriteString(text)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	b.WriteString(" [")
	b.WriteString(strconv.Itoa(e.Code))
	b.WriteByte(']')
	return b.String()
}

// quoteKey quotes a key for a message, shortening huge ones so that a 1 MiB
// key cannot turn an error into a 1 MiB log line.
func quoteKey(k string) string {
	const max = 128
	if len(k) <= max {
		return strconv.Quote(k)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return strconv.Quote(k[:cut]) + "..." + "(" + strconv.Itoa(len(k)) + " bytes)"
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Key == "" && t.Err == nil && t.Code == e.Code
}

// CodeOf returns the foxstore code carried by err, or 0 if it carries none.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// NewError builds an *Error. Backends use it to report a cause with a code;
// the front fills in Op and Key where the backend left them empty.
func NewError(code int, op, key string, cause error) *Error {
	return &Error{Op: op, Key: key, Code: code, Err: cause}
}
