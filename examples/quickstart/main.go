// Command quickstart runs the usage example of the storage plugin spec on
// the memory backend and prints what each step did.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/foxstore/foxstore"
)

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func main() {
	ctx := context.Background()
	storage, err := foxstore.Open(ctx, foxstore.Config{Backend: "memory"})
	if err != nil {
		log.Fatal(err)
	}
	defer storage.(foxstore.Store).Close()

	// Basic operations.
	userData := user{ID: 123, Name: "foxy"}
	must(storage.Set(ctx, "user:123", userData, time.Hour))
	fmt.Println(`Set("user:123", {ID:123 Name:foxy}, 1h)`)
	value, err := storage.Get(ctx, "user:123")
	must(err)
	fmt.Printf("Get(\"user:123\") = %v (as stored JSON)\n", value)
	u, err := foxstore.GetAs[user](ctx, storage, "user:123")
	must(err)
	fmt.Printf("GetAs[user](\"user:123\") = %+v\n", u)
	fmt.Printf("Exists(\"user:123\") = %v\n", storage.Exists(ctx, "user:123"))
	must(storage.Delete(ctx, "user:123"))
	fmt.Printf("Delete(\"user:123\"); Exists = %v\n", storage.Exists(ctx, "user:123"))

	// Batches.
	data := map[string]interface{}{"key1": "value1", "key2": "value2"}
	must(storage.SetBatch(ctx, data))
	results, err := storage.GetBatch(ctx, []string{"key1", "key2", "key3"})
	must(err)
	fmt.Printf("SetBatch(key1, key2); GetBatch(key1, key2, key3) = %v\n", results)

	// A transaction.
	must(transfer(ctx, storage))
	results, err = storage.GetBatch(ctx, []string{"key1", "key2"})
	must(err)
	fmt.Printf("after the transaction: %v\n", results)

	// Patterns.
	keys, err := storage.Keys(ctx, "key*")
	must(err)
	fmt.Printf("Keys(\"key*\") = %v\n", keys)

	// Errors carry stable codes.
	_, err = storage.Get(ctx, "missing")
	fmt.Printf("Get(\"missing\"): %v (code %d)\n", err, foxstore.CodeOf(err))

	stats, err := storage.GetCacheStats(ctx)
	must(err)
	fmt.Printf("stats: hits=%d misses=%d entries=%d hit rate=%.2f\n", stats.Hits, stats.Misses, stats.Entries, stats.HitRate)
}

// transfer is the spec's transaction example.
func transfer(ctx context.Context, storage foxstore.StoragePlugin) error {
	tx, err := storage.BeginTransaction(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := tx.Set("key1", "value1 (from tx)"); err != nil {
		return err
	}
	if err := tx.Set("key2", "value2 (from tx)"); err != nil {
		return err
	}
	return tx.Commit()
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
