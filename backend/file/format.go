package file

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/foxstore/foxstore/driver"
)

// formatVersion is the version of the on-disk format written by this package.
// Files with a higher version are refused, never rewritten.
const formatVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcSuffixLen is the length of the checksum member that ends every log line
// and the last line of a snapshot: `,"crc32c":"89abcdef"}`.
const crcSuffixLen = len(`,"crc32c":"`) + 8 + len(`"}`)

// appendCRC appends the checksum member of body and closes the object.
func appendCRC(b []byte, sum uint32) []byte {
	b = append(b, `,"crc32c":"`...)
	b = hex.AppendEncode(b, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return append(b, `"}`...)
}

// checkCRC verifies a line (without its newline) that ends in a checksum
// member, and returns the part the checksum covers.
func checkCRC(line []byte) ([]byte, error) {
	if len(line) < crcSuffixLen+1 {
		return nil, errShort
	}
	cut := len(line) - crcSuffixLen
	var want [crcSuffixLen]byte
	if string(appendCRC(want[:0], crc32.Checksum(line[:cut], castagnoli))) != string(line[cut:]) {
		if !bytes.HasPrefix(line[cut:], []byte(`,"crc32c":"`)) {
			return nil, errNoCRC
		}
		return nil, errCRC
	}
	return line[:cut], nil
}

// atError is damage found at a byte offset of a file: where the bad line
// or the bad bytes start.
type atError struct {
	off int64
	err error
}

func (e *atError) Error() string { return fmt.Sprintf("offset %d: %v", e.off, e.err) }
func (e *atError) Unwrap() error { return e.err }

var (
	errShort  = errors.New("truncated line")
	errNoCRC  = errors.New("no checksum")
	errCRC    = errors.New("checksum mismatch")
	errSyntax = errors.New("malformed JSON")
)

// ---- writing ----

const hexDigits = "0123456789abcdef"

// appendString appends s, which must be valid UTF-8, as a JSON string. Unlike
// encoding/json it leaves <, > and & alone, so the file stays readable.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendKey appends a stored key as JSON. A key of valid UTF-8 is a JSON
// string. Any other key (namespaced keys hold 0xFF bytes) is an array of its
// pieces in order: strings for runs of valid UTF-8 and numbers for single
// bytes that are not (the string "\u00ff" and the number 255 stay apart):
//
//	"user:1"                  -> "user:1"
//	"\xffmusic\x00user:1"     -> [255,"music\u0000user:1"]
func appendKey(b []byte, k string) []byte {
	if utf8.ValidString(k) {
		return appendString(b, k)
	}
	b = append(b, '[')
	for i := 0; len(k) > 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		n := 0
		for n < len(k) {
			r, size := utf8.DecodeRuneInString(k[n:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			n += size
		}
		if n == 0 {
			b = strconv.AppendUint(b, uint64(k[0]), 10)
			k = k[1:]
			continue
		}
		b = appendString(b, k[:n])
		k = k[n:]
	}
	return append(b, ']')
}

// appendEntry appends one write as a JSON object:
//
//	{"k":"user:1","t":"string","v":"alice","exp":1767225600000}
//	{"k":"user:2","del":true}
func appendEntry(b []byte, w driver.Write) ([]byte, error) {
	if !w.Delete && w.Entry.Value.Kind() == 0 {
		return b, fmt.Errorf("key %q: zero value", w.Key)
	}
	b = append(b, `{"k":`...)
	b = appendKey(b, w.Key)
	if w.Delete {
		return append(b, `,"del":true}`...), nil
	}
	b = append(b, `,"t":`...)
	b = appendString(b, w.Entry.Value.Type())
	b = append(b, `,"v":`...)
	js := w.Entry.Value.JSON()
	if w.Entry.Value.Kind() == driver.KindJSON && bytes.ContainsAny(js, "\r\n") {
		// A line holds one record: fold the (insignificant) line breaks
		// that a MarshalJSON method might have produced.
		var c bytes.Buffer
		if err := json.Compact(&c, js); err != nil {
			return b, fmt.Errorf("value of key %q is not valid JSON: %w", w.Key, err)
		}
		js = c.Bytes()
	}
	b = append(b, js...)
	if w.Entry.Expires != 0 {
		b = append(b, `,"exp":`...)
		b = strconv.AppendInt(b, w.Entry.Expires, 10)
	}
	return append(b, '}'), nil
}

// appendWrites appends a write set as a JSON array of entries.
func appendWrites(b []byte, ws []driver.Write) ([]byte, error) {
	b = append(b, '[')
	for i, w := range ws {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendEntry(b, w); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendRecord appends one log record, a complete line:
//
//	{"seq":42,"w":[...],"crc32c":"89abcdef"}
func appendRecord(b []byte, seq uint64, writes []byte) []byte {
	start := len(b)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"w":`...)
	b = append(b, writes...)
	b = appendCRC(b, crc32.Checksum(b[start:], castagnoli))
	return append(b, '\n')
}

// ---- reading ----

// skipValue returns the index just after the JSON value that starts at b[i].
// It checks only what it needs to find the end; callers validate the value.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errSyntax
	}
	start := i
	for i < len(b) {
		c := b[i]
		if c == ',' || c == '}' || c == ']' {
			break
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.') {
			return 0, errSyntax
		}
		i++
	}
	if i == start {
		return 0, errSyntax
	}
	return i, nil
}

// skipString returns the index just after the JSON string at b[i]. A quote
// ends the string unless an odd number of backslashes precede it.
func skipString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errSyntax
	}
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errSyntax
		}
		q := j + k
		slashes := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			slashes++
		}
		if slashes%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
}

// parseString decodes the JSON string that is exactly b, as encoding/json
// would.
func parseString(b []byte) (string, error) {
	s, err := driver.ParseJSONString(b)
	if err != nil {
		return "", errSyntax
	}
	return s, nil
}

// parseUint decodes a JSON number that is a non-negative integer.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 1 && b[0] == '0' {
		return 0, errSyntax
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, errSyntax
	}
	return n, nil
}

// members calls fn with the name and raw value of each member of the JSON
// object that is exactly obj (compact: no whitespace between tokens). The
// name is only valid during the call.
func members(obj []byte, fn func(name []byte, val []byte) error) error {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return errSyntax
	}
	if len(obj) == 2 {
		return nil
	}
	i := 1
	for {
		end, err := skipString(obj, i)
		if err != nil {
			return err
		}
		name := obj[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			s, err := parseString(obj[i:end])
			if err != nil {
				return err
			}
			name = []byte(s)
		}
		if end >= len(obj) || obj[end] != ':' {
			return errSyntax
		}
		vstart := end + 1
		vend, err := skipValue(obj, vstart)
		if err != nil {
			return err
		}
		if err := fn(name, obj[vstart:vend]); err != nil {
			return err
		}
		if vend >= len(obj) {
			return errSyntax
		}
		switch obj[vend] {
		case ',':
			i = vend + 1
		case '}':
			if vend != len(obj)-1 {
				return errSyntax
			}
			return nil
		default:
			return errSyntax
		}
	}
}

// elements calls fn with each element of the JSON array that is exactly arr.
func elements(arr []byte, fn func(val []byte) error) error {
	if len(arr) < 2 || arr[0] != '[' || arr[len(arr)-1] != ']' {
		return errSyntax
	}
	if len(arr) == 2 {
		return nil
	}
	i := 1
	for {
		end, err := skipValue(arr, i)
		if err != nil {
			return err
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		if end >= len(arr) {
			return errSyntax
		}
		switch arr[end] {
		case ',':
			i = end + 1
		case ']':
			if end != len(arr)-1 {
				return errSyntax
			}
			return nil
		default:
			return errSyntax
		}
	}
}

// parseKey reverses appendKey.
func parseKey(b []byte) (string, error) {
	var k string
	if len(b) > 0 && b[0] == '[' {
		var sb strings.Builder
		err := elements(b, func(v []byte) error {
			if len(v) > 0 && v[0] == '"' {
				s, err := parseString(v)
				sb.WriteString(s)
				return err
			}
			n, err := parseUint(v)
			if err != nil || n > 255 {
				return errSyntax
			}
			sb.WriteByte(byte(n))
			return nil
		})
		if err != nil {
			return "", err
		}
		k = sb.String()
	} else {
		var err error
		if k, err = parseString(b); err != nil {
			return "", err
		}
	}
	if k == "" || len(k) > driver.MaxStoredKeyLen {
		return "", fmt.Errorf("bad key length %d", len(k))
	}
	return k, nil
}

// typeNames interns the value type names so that parsing does not allocate
// them: the kinds' names, and those of strings and json.RawMessage values
// that are not valid UTF-8 (see driver.Value.Type).
var typeNames = func() map[string]string {
	m := map[string]string{"string64": "string64", "rawjson64": "rawjson64"}
	for k := driver.Kind(1); ; k++ {
		name := k.String()
		if strings.HasPrefix(name, "kind(") {
			return m
		}
		m[name] = name
	}
}()

// rawEntry is a parsed entry whose value is still JSON text.
type rawEntry struct {
	key string
	typ string
	val []byte
	exp int64
	del bool
}

// parseRawEntry parses one entry object (see appendEntry).
func parseRawEntry(b []byte) (rawEntry, error) {
	var e rawEntry
	var hasKey, hasVal bool
	err := members(b, func(name, v []byte) error {
		var err error
		switch string(name) {
		case "k":
			e.key, err = parseKey(v)
			hasKey = true
		case "t":
			// Look the name up in place: making a string of it first would
			// cost an allocation per entry.
			var ok bool
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				e.typ, ok = typeNames[string(v[1:len(v)-1])]
			}
			if !ok {
				var t string
				if t, err = parseString(v); err == nil {
					if e.typ, ok = typeNames[t]; !ok {
						err = fmt.Errorf("unknown value type %q", t)
					}
				}
			}
		case "v":
			e.val, hasVal = v, true
		case "exp":
			var n uint64
			n, err = parseUint(v)
			if err == nil && n > 1<<62 {
				err = errSyntax
			}
			e.exp = int64(n)
		case "del":
			if string(v) != "true" {
				err = errSyntax
			}
			e.del = true
		default:
			err = fmt.Errorf("unknown member %q", name)
		}
		return err
	})
	if err != nil {
		return e, err
	}
	switch {
	case !hasKey:
		return e, errors.New("entry without key")
	case e.del && (hasVal || e.typ != "" || e.exp != 0):
		return e, errors.New("deletion with a value")
	case !e.del && (!hasVal || e.typ == ""):
		return e, errors.New("entry without value or type")
	}
	return e, nil
}

// write turns a raw entry into the write it records, decoding the value.
func (e rawEntry) write() (driver.Write, error) {
	if e.del {
		return driver.Write{Key: e.key, Delete: true}, nil
	}
	v, err := driver.ValueFromJSON(e.typ, e.val)
	if err != nil {
		return driver.Write{}, err
	}
	return driver.Write{Key: e.key, Entry: driver.Entry{Value: v, Expires: e.exp}}, nil
}

// parseEntry parses and decodes one entry object.
func parseEntry(b []byte) (driver.Write, error) {
	e, err := parseRawEntry(b)
	if err != nil {
		return driver.Write{}, err
	}
	return e.write()
}

// record is a parsed log record: its sequence number and the raw entries.
type record struct {
	seq     uint64
	entries [][]byte
}

// parseRecord checks and parses one log line (without its newline).
func parseRecord(line []byte) (record, error) {
	if _, err := checkCRC(line); err != nil {
		return record{}, err
	}
	var r record
	var hasSeq, hasW bool
	err := members(line, func(name, v []byte) error {
		switch string(name) {
		case "seq":
			n, err := parseUint(v)
			r.seq, hasSeq = n, true
			return err
		case "w":
			hasW = true
			return elements(v, func(e []byte) error {
				r.entries = append(r.entries, e)
				return nil
			})
		case "crc32c":
			return nil
		}
		return fmt.Errorf("unknown member %q", name)
	})
	if err == nil && (!hasSeq || !hasW || r.seq == 0) {
		err = errors.New("record without seq or writes")
	}
	return r, err
}
