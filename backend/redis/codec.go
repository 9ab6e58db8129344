package redis

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/foxstore/foxstore/driver"
)

// formatV1 is the first byte of every stored entry (see the package doc).
const (
	formatV1   = 1
	headerSize = 9
)

// encodeEntry returns the Redis string that holds e.
func encodeEntry(e driver.Entry) []byte {
	return appendEntry(make([]byte, 0, headerSize+e.Value.Size()), e)
}

// appendEntry appends the Redis string that holds e to b.
func appendEntry(b []byte, e driver.Entry) []byte {
	b = append(b, formatV1)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Expires))
	return e.Value.AppendBytes(b)
}

// decodeEntry parses a Redis string made by encodeEntry. Anything else is
// ErrStorageCorrupted: the key was written by something other than foxstore.
func decodeEntry(b []byte) (driver.Entry, error) {
	if len(b) <= headerSize {
		return driver.Entry{}, corrupted(fmt.Errorf("%d-byte string is too short for a foxstore entry", len(b)))
	}
	if b[0] != formatV1 {
		return driver.Entry{}, corrupted(fmt.Errorf("unknown entry format %d", b[0]))
	}
	exp := int64(binary.BigEndian.Uint64(b[1:headerSize]))
	if exp < 0 {
		return driver.Entry{}, corrupted(errors.New("negative deadline"))
	}
	v, err := driver.ParseValue(b[headerSize:])
	if err != nil {
		return driver.Entry{}, err
	}
	return driver.Entry{Value: v, Expires: exp}, nil
}

func corrupted(err error) error {
	return driver.NewError(driver.CodeCorrupted, "", "", fmt.Errorf("redis entry: %w", err))
}
