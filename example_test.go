package foxstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foxstore/foxstore"
)

func ExampleOpen() {
	ctx := context.Background()
	cfg, err := foxstore.ParseConfig([]byte(`
storage:
  backend: memory
  ttl_cleanup_interval: 1m
`))
	if err != nil {
		panic(err)
	}
	s, err := foxstore.Open(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer s.(foxstore.Store).Close()

	_ = s.Set(ctx, "song:1", "Yellow Submarine", time.Hour)
	_ = s.Set(ctx, "song:2", "Let It Be", 0)
	_ = s.Set(ctx, "user:1", "ringo", 0)
	keys, _ := s.Keys(ctx, "song:*")
	fmt.Println(keys)

	_, err = s.Get(ctx, "song:3")
	fmt.Println(err, errors.Is(err, foxstore.ErrStorageNotFound))
	// Output:
	// [song:1 song:2]
	// foxstore: get "song:3": not found [5004] true
}

func ExampleGetAs() {
	ctx := context.Background()
	s, _ := foxstore.Open(ctx, foxstore.Config{})
	defer s.(foxstore.Store).Close()

	type playlist struct {
		Name  string
		Songs []int64
	}
	_ = s.Set(ctx, "playlist:1", playlist{"road trip", []int64{42, 7}}, 0)

	raw, _ := s.Get(ctx, "playlist:1") // the JSON form
	fmt.Printf("%T\n", raw)
	p, _ := foxstore.GetAs[playlist](ctx, s, "playlist:1") // the Go type
	fmt.Printf("%+v\n", p)
	// Output:
	// map[string]interface {}
	// {Name:road trip Songs:[42 7]}
}

func ExampleUpdate() {
	ctx := context.Background()
	s, _ := foxstore.Open(ctx, foxstore.Config{})
	defer s.(foxstore.Store).Close()

	_ = s.Set(ctx, "plays", 0, 0)
	// Update retries the function when a concurrent transaction wins.
	err := foxstore.Update(ctx, s, func(tx foxstore.Transaction) error {
		n, err := tx.Get("plays")
		if err != nil {
			return err
		}
		return tx.Set("plays", n.(int)+1)
	})
	v, _ := s.Get(ctx, "plays")
	fmt.Println(v, err)
	// Output: 1 <nil>
}

// The transaction example of the storage plugin spec.
func Example_transaction() {
	ctx := context.Background()
	storage, _ := foxstore.Open(ctx, foxstore.Config{})
	defer storage.(foxstore.Store).Close()

	run := func() error {
		tx, err := storage.BeginTransaction(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback()

		if err := tx.Set("key1", "value1"); err != nil {
			return err
		}
		if err := tx.Set("key2", "value2"); err != nil {
			return err
		}
		return tx.Commit()
	}
	fmt.Println(run())
	got, _ := storage.GetBatch(ctx, []string{"key1", "key2"})
	fmt.Println(got)
	// Output:
	// <nil>
	// map[key1:value1 key2:value2]
}

func ExampleWithNamespace() {
	ctx := context.Background()
	s, _ := foxstore.Open(ctx, foxstore.Config{})
	defer s.(foxstore.Store).Close()

	alice := foxstore.WithNamespace(s, "alice")
	_ = alice.Set(ctx, "volume", 80, 0)
	_ = s.Set(ctx, "volume", 50, 0)

	v, _ := alice.Get(ctx, "volume")
	keys, _ := s.Keys(ctx, "*")
	fmt.Println(v, keys)
	// Output: 80 [volume]
}
