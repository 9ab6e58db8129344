// Package dump reads and writes foxstore's portable dump format, reads
// go-musicfox's bbolt database, and copies records into a store in batches.
// It is the library behind the export, import and migrate commands of
// cmd/foxstore.
//
// # The dump format
//
// A dump is UTF-8 text, one JSON object per line (JSON lines). The first line
// is a header that names the format and its version:
//
//	{"format":"foxstore-dump","version":1,"created_at":"2026-05-01T10:00:00.123Z"}
//
// Then one line per key, in any order:
//
//	{"key":"volume","type":"int","value":55}
//	{"key":"session","type":"json","value":{"id":7},"expires_at":"2026-05-01T11:00:00.123Z","ttl_ms":3600000}
//
// "type" is the stored Go type (driver.Value.Type: string, bytes, int64,
// time, json, ...) and "value" its JSON form (driver.Value.JSON), so a dump
// restores every value with the type it was stored with. "expires_at" (RFC
// 3339, millisecond resolution, UTC) is the key's deadline and "ttl_ms" the
// time it had left when the dump was written; both are omitted for a key that
// never expires. A reader restores the deadline from "expires_at" by default
// (a key expires at the same instant as in the source) or, in relative mode,
// gives each key "ttl_ms" from the moment it is read.
//
// The last line says how many records came before it:
//
//	{"end":true,"count":2}
//
// It lets a reader notice a dump cut short at a line boundary. A dump written
// by hand may leave it out; when it is there, the count must match. Blank
// lines are ignored. Unknown fields are errors, so that a misspelt "ttl_ms"
// cannot silently drop an expiry.
package dump

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

// Format is the value of the header's "format" field.
const Format = "foxstore-dump"

// Version is the format version this package writes and the newest it reads.
const Version = 1

// MaxLine is the longest line a Reader accepts: room for a value of 1 GiB,
// the largest max_value_size, in base64.
const MaxLine = 1<<30*4/3 + 1<<20

// Header is the first line of a dump.
type Header struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created_at"`
}

// Writer writes a dump. Call Close to write the end line and flush.
type Writer struct {
	bw  *bufio.Writer
	now func() time.Time
	n   int
	buf []byte
	err error
}

// NewWriter writes the header to w and returns a Writer that appends records.
// now gives the reference time for "ttl_ms" (time.Now when nil).
func NewWriter(w io.Writer, now func() time.Time) (*Writer, error) {
	if now == nil {
		now = time.Now
	}
	dw := &Writer{bw: bufio.NewWriterSize(w, 64<<10), now: now}
	h := Header{Format: Format, Version: Version, Created: now().UTC().Truncate(time.Millisecond)}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	dw.line(b)
	return dw, dw.err
}

func (w *Writer) line(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = err
		return
	}
	w.err = w.bw.WriteByte('\n')
}

// Write appends one record.
func (w *Writer) Write(r foxstore.Record) error {
	if w.err != nil {
		return w.err
	}
	b, err := AppendRecord(w.buf[:0], r, w.now())
	if err != nil {
		return err
	}
	w.buf = b
	w.line(b)
	if w.err == nil {
		w.n++
	}
	return w.err
}

// Count returns the number of records written so far.
func (w *Writer) Count() int { return w.n }

// Close writes the end line and flushes. It does not close the underlying writer.
func (w *Writer) Close() error {
	w.line(fmt.Appendf(nil, `{"end":true,"count":%d}`, w.n))
	if w.err != nil {
		return w.err
	}
	return w.bw.Flush()
}

// AppendRecord appends the JSON line of r (without the newline) to b; now is
// the reference time for "ttl_ms".
func AppendRecord(b []byte, r foxstore.Record, now time.Time) ([]byte, error) {
	if r.Value.Kind() == 0 {
		return b, fmt.Errorf("dump: key %q: zero Value", r.Key)
	}
	if !utf8.ValidString(r.Key) {
		// A JSON string cannot carry it byte for byte; foxstore never stores one.
		return b, fmt.Errorf("dump: key %q is not valid UTF-8", r.Key)
	}
	b = append(b, `{"key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"type":`...)
	b = appendString(b, r.Value.Type())
	b = append(b, `,"value":`...)
	var vb bytes.Buffer
	// Compact keeps the value on one line without rewriting its characters
	// (json.Marshal would escape <, > and &, changing a "json" value's bytes).
	if err := json.Compact(&vb, r.Value.JSON()); err != nil {
		return b, fmt.Errorf("dump: key %q: %w", r.Key, err)
	}
	b = append(b, vb.Bytes()...)
	if !r.Expires.IsZero() {
		exp := time.UnixMilli(r.Expires.UnixMilli()).UTC()
		b = append(b, `,"expires_at":"`...)
		b = exp.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","ttl_ms":`...)
		b = fmt.Append(b, max(exp.UnixMilli()-now.UnixMilli(), 1))
	}
	return append(b, '}'), nil
}

func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// ReadOptions control how a Reader turns lines into records.
type ReadOptions struct {
	// Relative gives each key "ttl_ms" from Now instead of its "expires_at".
	Relative bool
	// Now is the clock for relative TTLs and for lines that carry only
	// "ttl_ms" (time.Now when nil).
	Now func() time.Time
}

// Reader reads a dump line by line.
type Reader struct {
	br       *bufio.Reader
	opt      ReadOptions
	hdr      Header
	lineNo   int
	n        int
	complete bool
}

// SyntaxError is a line that is not a valid dump line.
type SyntaxError struct {
	Line int
	Err  error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("dump line %d: %v", e.Line, e.Err) }
func (e *SyntaxError) Unwrap() error { return e.Err }

// NewReader reads the header of the dump in r.
func NewReader(r io.Reader, opt ReadOptions) (*Reader, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	dr := &Reader{br: bufio.NewReaderSize(r, 64<<10), opt: opt}
	l, err := dr.next()
	if err == io.EOF {
		return nil, &SyntaxError{Line: 1, Err: errors.New("empty input: want a header line")}
	}
	if err != nil {
		return nil, err
	}
	if l.Format == nil {
		return nil, dr.errorf("want a header line {\"format\":%q,\"version\":%d,...} first", Format, Version)
	}
	if *l.Format != Format {
		return nil, dr.errorf("format %q is not %q", *l.Format, Format)
	}
	if l.Version == nil || *l.Version < 1 {
		return nil, dr.errorf("header has no valid version")
	}
	if *l.Version > Version {
		return nil, dr.errorf("dump version %d is newer than this program reads (%d); upgrade foxstore", *l.Version, Version)
	}
	if l.Key != nil || l.End != nil {
		return nil, dr.errorf("header line mixes header and record fields")
	}
	dr.hdr = Header{Format: *l.Format, Version: *l.Version}
	if l.Created != nil {
		t, err := time.Parse(time.RFC3339Nano, *l.Created)
		if err != nil {
			return nil, dr.errorf("created_at: %v", err)
		}
		dr.hdr.Created = t
	}
	return dr, nil
}

// Header returns the dump's header.
func (r *Reader) Header() Header { return r.hdr }

// Complete reports whether the dump ended with its end line. It is
// meaningful once Next has returned io.EOF.
func (r *Reader) Complete() bool { return r.complete }

// Line returns the number of the line Next read last.
func (r *Reader) Line() int { return r.lineNo }

// rawLine is every field any line may hold.
type rawLine struct {
	Format  *string `json:"format"`
	Version *int    `json:"version"`
	Created *string `json:"created_at"`

	Key     *string         `json:"key"`
	Type    *string         `json:"type"`
	Value   json.RawMessage `json:"value"`
	Expires *string         `json:"expires_at"`
	TTL     *int64          `json:"ttl_ms"`

	End   *bool `json:"end"`
	Count *int  `json:"count"`
}

func (r *Reader) errorf(format string, args ...any) error {
	return &SyntaxError{Line: r.lineNo, Err: fmt.Errorf(format, args...)}
}

// next returns the next non-blank line, parsed.
func (r *Reader) next() (rawLine, error) {
	for {
		b, err := r.readLine()
		if err != nil {
			return rawLine{}, err
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return rawLine{}, r.errorf("not valid UTF-8")
		}
		var l rawLine
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return rawLine{}, r.errorf("%v", err)
		}
		if dec.More() {
			return rawLine{}, r.errorf("more than one JSON value on the line")
		}
		return l, nil
	}
}

// readLine reads one line, bounded by MaxLine.
func (r *Reader) readLine() ([]byte, error) {
	var long []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(chunk) > MaxLine {
				r.lineNo++
				return nil, r.errorf("line longer than %d bytes", MaxLine)
			}
			long = append(long, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if err == io.EOF && len(chunk) == 0 && long == nil {
			return nil, io.EOF
		}
		r.lineNo++
		if long != nil {
			return append(long, chunk...), nil
		}
		return chunk, nil
	}
}

// Next returns the next record, or io.EOF after the last one. Errors are
// *SyntaxError for a bad line (with its number), or the reader's error.
func (r *Reader) Next() (foxstore.Record, error) {
	if r.complete {
		if _, err := r.next(); err != io.EOF {
			if err == nil {
				err = r.errorf("line after the end line")
			}
			return foxstore.Record{}, err
		}
		return foxstore.Record{}, io.EOF
	}
	l, err := r.next()
	if err != nil {
		return foxstore.Record{}, err
	}
	switch {
	case l.Format != nil || l.Version != nil || l.Created != nil:
		return foxstore.Record{}, r.errorf("header fields after the first line")
	case l.End != nil:
		if l.Key != nil || l.Type != nil || l.Value != nil || l.Expires != nil || l.TTL != nil {
			return foxstore.Record{}, r.errorf("end line mixes end and record fields")
		}
		if !*l.End || l.Count == nil {
			return foxstore.Record{}, r.errorf(`want an end line {"end":true,"count":N}`)
		}
		if *l.Count != r.n {
			return foxstore.Record{}, r.errorf("end line counts %d records, the dump has %d: it is damaged", *l.Count, r.n)
		}
		r.complete = true
		return r.Next()
	case l.Count != nil:
		return foxstore.Record{}, r.errorf("count outside the end line")
	}
	rec, err := r.record(l)
	if err != nil {
		return foxstore.Record{}, err
	}
	r.n++
	return rec, nil
}

func (r *Reader) record(l rawLine) (foxstore.Record, error) {
	switch {
	case l.Key == nil:
		return foxstore.Record{}, r.errorf(`record has no "key"`)
	case l.Type == nil:
		return foxstore.Record{}, r.errorf("key %q: no \"type\"", *l.Key)
	case l.Value == nil:
		return foxstore.Record{}, r.errorf("key %q: no \"value\"", *l.Key)
	}
	payload := []byte(l.Value)
	if *l.Type == "json" {
		// Insignificant space is not part of the value: store it compact,
		// as foxstore itself encodes values.
		var c bytes.Buffer
		if err := json.Compact(&c, payload); err != nil {
			return foxstore.Record{}, r.errorf("key %q: %v", *l.Key, err)
		}
		payload = c.Bytes()
	}
	v, err := driver.ValueFromJSON(*l.Type, payload)
	if err != nil {
		return foxstore.Record{}, r.errorf("key %q: %v", *l.Key, errors.Unwrap(err))
	}
	rec := foxstore.Record{Key: *l.Key, Value: v}
	var exp time.Time
	if l.Expires != nil {
		if exp, err = time.Parse(time.RFC3339Nano, *l.Expires); err != nil {
			return foxstore.Record{}, r.errorf("key %q: expires_at: %v", *l.Key, err)
		}
		if !inRange(exp) {
			return foxstore.Record{}, r.errorf("key %q: expires_at %s is out of range", *l.Key, *l.Expires)
		}
	}
	if l.TTL != nil && *l.TTL < 1 {
		return foxstore.Record{}, r.errorf("key %q: ttl_ms %d: want at least 1 (leave both expiry fields out for a key that never expires)", *l.Key, *l.TTL)
	}
	switch {
	case l.TTL != nil && (r.opt.Relative || l.Expires == nil):
		if *l.TTL > maxTTLms || !inRange(time.UnixMilli(r.opt.Now().UnixMilli()+*l.TTL)) {
			return foxstore.Record{}, r.errorf("key %q: ttl_ms %d is out of range", *l.Key, *l.TTL)
		}
		rec.Expires = time.UnixMilli(r.opt.Now().UnixMilli() + *l.TTL)
	case l.Expires != nil:
		rec.Expires = time.UnixMilli(exp.UnixMilli())
	}
	return rec, nil
}

// maxTTLms is about 10,000 years, beyond any deadline a dump can write.
const maxTTLms = 1 << 58

// inRange reports whether t's UTC year has the four digits RFC 3339 allows.
func inRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// IsSyntax reports whether err is a malformed dump.
func IsSyntax(err error) bool {
	var se *SyntaxError
	return errors.As(err, &se)
}

// Sniff reports whether the start of a file looks like a dump (a JSON
// object) rather than a bbolt database.
func Sniff(head []byte) bool {
	return strings.HasPrefix(strings.TrimLeft(string(head), " \t\r\n\ufeff"), "{")
}
