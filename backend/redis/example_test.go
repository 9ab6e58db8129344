package redis_test

import (
	"context"
	"fmt"
	"io"

	"github.com/foxstore/foxstore"
	_ "github.com/foxstore/foxstore/backend/redis"
)

// A store on one Redis server. With several addresses, the same code uses a
// Redis Cluster; "{app}" would then keep all keys in one hash slot.
func Example() {
	ctx := context.Background()
	st, err := foxstore.Open(ctx, foxstore.Config{
		Backend:   "redis",
		Namespace: "app",
		CacheSize: 1000,
		Redis:     foxstore.RedisConfig{Addrs: []string{"127.0.0.1:6379"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.(io.Closer).Close()

	err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
		n, err := tx.Get("plays")
		if foxstore.CodeOf(err) == foxstore.CodeNotFound {
			n, err = 0, nil
		}
		if err != nil {
			return err
		}
		return tx.Set("plays", n.(int)+1)
	})
	fmt.Println(err)
}
