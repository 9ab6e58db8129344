package torture_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/torture"
)

// readsAfterCut fills the store's pool with idle connections, cuts them all
// once, and then reads: with the network whole again, every read must
// succeed, on a new connection if the one the pool hands out is dead.
func readsAfterCut(t *testing.T, p *torture.Proxy, st foxstore.StoragePlugin) {
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := st.Set(ctx, fmt.Sprintf("rac:%02d", i), i, 0); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ { // several connections busy at once, then idle
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					st.Get(ctx, fmt.Sprintf("rac:%02d", i))
				}
			}()
		}
		wg.Wait()
		p.Cut()
		if _, err := st.Get(ctx, "rac:03"); err != nil {
			t.Errorf("round %d: Get after the cut: %v", round, err)
		}
		if m, err := st.Find(ctx, "rac:*"); err != nil || len(m) != 20 {
			t.Errorf("round %d: Find after the cut = %d keys, %v", round, len(m), err)
		}
		if _, err := st.GetBatch(ctx, []string{"rac:01", "rac:02"}); err != nil {
			t.Errorf("round %d: GetBatch after the cut: %v", round, err)
		}
		if n, err := st.Count(ctx, "rac:*"); err != nil || n != 20 {
			t.Errorf("round %d: Count after the cut = %d, %v", round, n, err)
		}
	}
}

func TestPostgresReadsAfterCut(t *testing.T) {
	readsAfterCutOn(t, serverEnv(t, envPostgres, "a PostgreSQL DSN"), "postgres", pgThrough)
}

func TestMySQLReadsAfterCut(t *testing.T) {
	readsAfterCutOn(t, serverEnv(t, envMySQL, "a MySQL/MariaDB DSN"), "mysql", mysqlThrough)
}

// readsAfterCutOn runs readsAfterCut on a store of the database driver
// whose server dsn names, reached through a proxy; through gives the
// server's address from dsn and, with the proxy's address, the DSN that
// goes through it.
func readsAfterCutOn(t *testing.T, dsn, driver string, through func(t *testing.T, dsn, addr string) (string, string)) {
	target, _ := through(t, dsn, "")
	p := torture.NewProxy(t, target)
	_, proxied := through(t, dsn, p.Addr())
	cfg := serverConfig(t, driver, dsn)
	cfg.Database.DSN = proxied
	cfg.CacheSize = 0 // every read goes to the server
	readsAfterCut(t, p, openCfg(t, cfg))
}
