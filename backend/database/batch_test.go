package database_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/foxstore/foxstore"
)

// TestBatchSizes writes batches of sizes around the multi-row statements'
// (powers of two up to 256 rows) with SetBatch, then rewrites half the rows
// and deletes the other half in one transaction, and checks every row: the
// statements must cover each row once, on every driver.
func TestBatchSizes(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		st := tg.open(t)
		for _, n := range []int{2, 3, 7, 255, 256, 257, 600} {
			keys := make([]string, n)
			data := make(map[string]any, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("n%d:%04d", n, i)
				data[keys[i]] = i
			}
			if err := st.SetBatch(ctx, data); err != nil {
				t.Fatalf("SetBatch of %d: %v", n, err)
			}
			got, err := st.GetBatch(ctx, keys)
			if err != nil || len(got) != n {
				t.Fatalf("GetBatch of %d = %d entries, %v", n, len(got), err)
			}
			for i, k := range keys {
				if v, err := foxstore.GetAs[int](ctx, st, k); err != nil || v != i {
					t.Fatalf("after SetBatch of %d: Get(%s) = %v, %v; want %d", n, k, v, err, i)
				}
			}
			err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
				for i, k := range keys {
					var err error
					if i%2 == 0 {
						err = tx.Set(k, -i)
					} else {
						err = tx.Delete(k)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("transaction over %d keys: %v", n, err)
			}
			for i, k := range keys {
				v, err := foxstore.GetAs[int](ctx, st, k)
				switch {
				case i%2 == 1 && !errors.Is(err, foxstore.ErrStorageNotFound):
					t.Fatalf("after the transaction over %d keys: Get(%s) = %v, %v; want not found", n, k, v, err)
				case i%2 == 0 && (err != nil || v != -i):
					t.Fatalf("after the transaction over %d keys: Get(%s) = %v, %v; want %d", n, k, v, err, -i)
				}
			}
		}
	})
}
