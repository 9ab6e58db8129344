package foxstore

import (
	"context"
	"errors"
)

func newStore(cfg Config) (StoragePlugin, error) { return nil, errors.New("TODO") }
func getInto(ctx context.Context, s StoragePlugin, key string, out any) error {
	return errors.New("TODO")
}
func update(ctx context.Context, s StoragePlugin, fn func(Transaction) error) error {
	return errors.New("TODO")
}
func withNamespace(s StoragePlugin, ns string) StoragePlugin { return nil }
