package database_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/foxstore/foxstore"
	_ "github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// A store in a SQLite file. For PostgreSQL or MySQL, set Driver to
// "postgres" or "mysql" and DSN to the server's connection string.
func Example() {
	dir, _ := os.MkdirTemp("", "foxstore-example")
	defer os.RemoveAll(dir)

	ctx := context.Background()
	st, err := foxstore.Open(ctx, foxstore.Config{
		Backend:   "database",
		CacheSize: 1000,
		Database: driver.DatabaseConfig{
			Driver: "sqlite",
			DSN:    filepath.Join(dir, "music.db"),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Cleanup(ctx)

	st.SetBatch(ctx, map[string]any{"song:1": "Intro", "song:2": "Outro", "album:1": "Demo"})
	keys, _ := st.Keys(ctx, "song:*")
	fmt.Println(keys)

	err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
		title, err := tx.Get("song:1")
		if err != nil {
			return err
		}
		return tx.Set("song:1", title.(string)+" (remastered)")
	})
	title, _ := st.Get(ctx, "song:1")
	fmt.Println(title, err)
	// Output:
	// [song:1 song:2]
	// Intro (remastered) <nil>
}
