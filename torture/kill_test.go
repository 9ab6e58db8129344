package torture_test

import (
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/torture"
)

// Process kills (issue 7 §3): a child writes, SIGKILL, reopen, check.

func TestKillFile(t *testing.T) {
	t.Run("sync", func(t *testing.T) {
		torture.Kill(t, func(t *testing.T, dir string) foxstore.StoragePlugin {
			return openCfg(t, fileConfig(dir, false))
		}, torture.KillOptions{})
	})
	t.Run("async", func(t *testing.T) {
		cfg := func(dir string) foxstore.Config { return fileConfig(dir, true) }
		// A write younger than flush_interval may be lost. The margin
		// allows for a flusher that a loaded machine (CI, -race) runs late:
		// this checks durability, not timing.
		torture.Kill(t, func(t *testing.T, dir string) foxstore.StoragePlugin {
			return openCfg(t, cfg(dir))
		}, torture.KillOptions{MayLose: cfg("").FlushInterval + 500*time.Millisecond})
	})
}

func TestKillSQLite(t *testing.T) {
	torture.Kill(t, func(t *testing.T, dir string) foxstore.StoragePlugin {
		return openCfg(t, sqliteConfig(dir))
	}, torture.KillOptions{})
}
