package cli

import (
	"context"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/pattern"
)

// Lookup returns the record under key, with its stored type and deadline.
// A missing key gives the same error Get gives (ErrStorageNotFound, or
// ErrStorageInvalid for a bad key).
func Lookup(ctx context.Context, s foxstore.StoragePlugin, key string) (foxstore.Record, error) {
	var rec foxstore.Record
	found := false
	err := foxstore.Export(ctx, s, pattern.QuoteMeta(key), func(r foxstore.Record) error {
		rec, found = r, true
		return nil
	})
	if err != nil {
		return foxstore.Record{}, err
	}
	if !found {
		// Let the store say why: not found, or a key it refuses.
		if _, err := s.Get(ctx, key); err != nil {
			return foxstore.Record{}, err
		}
		return foxstore.Record{}, &foxstore.Error{Op: "get", Key: key, Code: foxstore.CodeNotFound}
	}
	return rec, nil
}
