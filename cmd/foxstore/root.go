package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/foxstore/foxstore/internal/cli"
)

const rootLong = `foxstore inspects and changes a foxstore key-value store.

Which store:
  With no flags, the file store in the user data directory:
  $MUSICFOX_ROOT/foxstore/storage.json when go-musicfox's MUSICFOX_ROOT is set,
  else $XDG_DATA_HOME/foxstore/storage.json, else the OS data directory
  (~/.local/share, ~/Library/Application Support, %LocalAppData%).
  --config FILE     a YAML configuration (root key "storage"); flags override it
  --file PATH       the file backend at PATH
  --dsn DSN         the database backend: a SQLite path, postgres://..., or
                    user:pass@tcp(host:3306)/db for MySQL/MariaDB
  --redis ADDRS     the redis backend: host:port[,host:port...] or redis://...
  --backend NAME    memory, file, database or redis, with their defaults

Output:
  Tables for people by default; --json prints one JSON document per command
  for scripts. Values are printed as JSON. Errors go to stderr with their
  foxstore code, such as [5004] for not found (as JSON with --json).

Exit status:
  0  success
  1  not found: no such key [5004], or exists answered false
  2  usage or invalid input: unknown command or flag, bad argument, TTL,
     value, pattern, configuration or dump, missing store, unreadable file [5006]
  3  the backend failed (I/O, network, server, conflict [5001 5002 5005 5007
     5008]) or a migration's count check failed
  4  stored data or a dump is damaged [5003]; verify found damage
  5  another process holds the store [5009]
  130 interrupted`

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "foxstore",
		Short: "Inspect, change, export, migrate, back up and benchmark foxstore stores",
		Long:  rootLong,
		Example: `  foxstore set greeting hello
  foxstore get greeting
  foxstore set session:42 '{"user":7}' --ttl 30m
  foxstore find 'session:*'
  foxstore --dsn /tmp/kv.db keys
  foxstore migrate --to sqlite:///tmp/kv.db`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(*cobra.Command, []string) {
			a.ran = true
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cli.UsageError{Err: err}
	})
	pf := root.PersistentFlags()
	a.storeFlags(pf)
	pf.BoolVar(&a.json, "json", false, "print JSON for scripts instead of tables")
	pf.DurationVar(&a.timeout, "timeout", 0, "give up after this long (0: no limit)")

	root.AddGroup(
		&cobra.Group{ID: "keys", Title: "Keys:"},
		&cobra.Group{ID: "query", Title: "Queries:"},
		&cobra.Group{ID: "data", Title: "Dumps, migrations and backups:"},
		&cobra.Group{ID: "admin", Title: "Store health:"},
	)
	for _, c := range []*cobra.Command{a.getCmd(), a.setCmd(), a.delCmd(), a.existsCmd(), a.ttlCmd(), a.expireCmd()} {
		c.GroupID = "keys"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.keysCmd(), a.findCmd(), a.countCmd()} {
		c.GroupID = "query"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.exportCmd(), a.importCmd(), a.migrateCmd(), a.backupCmd()} {
		c.GroupID = "data"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.statsCmd(), a.verifyCmd(), a.benchCmd()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	return root
}

func (a *app) storeFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.loc.Config, "config", "", "YAML configuration `file` (root key \"storage\")")
	fs.StringVar(&a.loc.Backend, "backend", "", "backend `name`: memory, file, database, redis")
	fs.StringVar(&a.loc.File, "file", "", "file backend: the store's `path`")
	fs.StringVar(&a.loc.DSN, "dsn", "", "database backend: SQLite path, postgres:// URL or MySQL DSN")
	fs.StringVar(&a.loc.Driver, "driver", "", "database `driver` when the DSN does not tell: sqlite, postgres, mysql")
	fs.StringVar(&a.loc.Redis, "redis", "", "redis backend: `host:port`[,...] or redis:// URL")
	fs.StringVar(&a.loc.Namespace, "namespace", "", "work inside this `namespace` of the store")
}
