// Package redis is foxstore's Redis backend, for stores that several
// processes or machines share. Link it with a blank import and choose
// backend "redis" in the configuration:
//
//	import _ "github.com/foxstore/foxstore/backend/redis"
//
// One address in redis.addrs means a single Redis server (redis.db selects
// the database); several mean a Redis Cluster, reached through any of them.
// It needs Redis 6.2 or later (SET ... PXAT).
//
// # Format
//
// Each foxstore key is one Redis string under the same bytes (namespaced keys
// included: Redis keys are binary safe). Its value is a 9-byte header and the
// encoded value (driver.Value.Bytes):
//
//	byte 0      format version, 1
//	bytes 1..8  deadline in Unix milliseconds, big-endian; 0 = never
//	bytes 9..   the value's binary form
//
// so that one GET returns the entry with its exact deadline. The same write
// also sets the key's native expiry (SET ... PXAT), so Redis removes expired
// keys itself and the backend needs no sweeper.
//
// # Operations
//
// Get is one GET, GetMany one MGET (one per hash slot, pipelined, on a
// cluster). A write set becomes one MSET for its entries without expiry, one
// DEL for its deletions and one SET ... PXAT per entry with an expiry, sent
// as they are when that makes one command, else in one MULTI/EXEC: either
// way Redis applies it atomically. Scan never uses KEYS: it runs
// SCAN with a MATCH on the escaped literal prefix of the range (on every
// master of a cluster, or only on the master of the prefix's hash tag),
// fetches the values page by page in the same round trips, keeps the keys of
// the range and sorts them, as the front needs them in ascending order. Every
// key in a store's range is taken for a foxstore entry: a foreign string
// value there reads as ErrStorageCorrupted (keys of other Redis types are
// skipped by scans), so a store shares a database only under a namespace.
//
// Transactions are optimistic. The first Tx.Get takes a connection of its
// own from a second pool, so that open transactions never starve plain reads;
// every key read is WATCHed on it before it is read. Commit sends the
// buffered writes in MULTI/EXEC on that connection: if a watched key changed
// meanwhile, Redis refuses the EXEC and Commit reports ErrStorageConflict with
// nothing applied. A read-only transaction still runs an empty MULTI/EXEC, so
// that its reads are checked to form one snapshot.
//
// # Redis Cluster
//
// Redis applies MULTI/EXEC, MGET and WATCH only to keys of one hash slot. So
// on a cluster, a write set of several keys (SetBatch, DeleteBatch, a
// transaction's writes) and a transaction's reads and writes must all lie in
// one hash slot; otherwise the operation fails with ErrStorageInvalid before
// anything is sent, never half applied. Keys share a slot when they share a
// hash tag, the part between the first '{' and the next '}': "{user:1}:name"
// and "{user:1}:mail". A namespace whose name holds a hash tag, such as
// "{app}", puts every key of the store in one slot (one master), which makes
// every batch and transaction possible again at the cost of spreading no
// load. GetBatch, Find, Count and Keys work across slots; GetBatch reads each
// slot atomically, not all slots at one instant.
//
// # Durability and errors
//
// A write is acknowledged when the Redis master has applied it; how long it
// survives after that is Redis's persistence and replication setting (RDB,
// AOF, replicas), not foxstore's. Every command honours the ctx deadline and
// is bounded by a 5-second socket timeout anyway; network and server errors
// are passed to the front, which reports them as ErrStorageReadFailed or
// ErrStorageWriteFailed. The client reconnects by itself when the server is
// back. No message carries the password.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/foxstore/foxstore/driver"
)

func init() {
	driver.Register("redis", driver.Driver{
		Open: func(ctx context.Context, cfg driver.Config) (driver.Backend, error) {
			s, err := Open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Import: "github.com/foxstore/foxstore/backend/redis",
	})
}

// Socket and pool timeouts. A ctx deadline shorter than these wins.
const (
	dialTimeout = 5 * time.Second
	ioTimeout   = 5 * time.Second
	poolTimeout = 6 * time.Second
)

// Store is the Redis backend. It implements driver.Backend,
// driver.BatchGetter and driver.HealthReporter.
type Store struct {
	addrs []string

	// client serves single operations and batches; txClient serves the
	// connections that transactions hold between WATCH and EXEC. Exactly one
	// of single and cluster is set, and the same for txSingle and txCluster.
	client    goredis.UniversalClient
	single    *goredis.Client
	cluster   *goredis.ClusterClient
	txClient  goredis.UniversalClient
	txSingle  *goredis.Client
	txCluster *goredis.ClusterClient

	closed atomic.Bool
}

var errClosed = errors.New("redis backend is closed")

// Open connects to the Redis server or cluster of cfg.Redis and checks that
// it answers.
func Open(ctx context.Context, cfg driver.Config) (*Store, error) {
	rc := cfg.Redis
	if len(rc.Addrs) == 0 {
		rc.Addrs = []string{driver.DefaultRedisAddr}
	}
	isCluster := len(rc.Addrs) > 1
	if isCluster && rc.DB != 0 {
		return nil, driver.NewError(driver.CodeInvalid, "open", "",
			errors.New("redis.db must be 0 with several redis.addrs: Redis Cluster has only database 0"))
	}
	if rc.DB < 0 {
		return nil, driver.NewError(driver.CodeInvalid, "open", "", fmt.Errorf("redis.db %d is negative", rc.DB))
	}
	s := &Store{addrs: append([]string(nil), rc.Addrs...)}
	s.client = newClient(rc)
	s.txClient = newClient(rc)
	if isCluster {
		s.cluster = s.client.(*goredis.ClusterClient)
		s.txCluster = s.txClient.(*goredis.ClusterClient)
	} else {
		s.single = s.client.(*goredis.Client)
		s.txSingle = s.txClient.(*goredis.Client)
	}
	if err := s.ping(ctx); err != nil {
		s.client.Close()
		s.txClient.Close()
		return nil, fmt.Errorf("connect to redis %v: %w", s.addrs, err)
	}
	return s, nil
}

func newClient(rc driver.RedisConfig) goredis.UniversalClient {
	return goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:    rc.Addrs,
		Username: rc.Username,
		Password: rc.Password,
		DB:       rc.DB,

		DialTimeout:           dialTimeout,
		DialerRetries:         2,
		ReadTimeout:           ioTimeout,
		WriteTimeout:          ioTimeout,
		PoolTimeout:           poolTimeout,
		ContextTimeoutEnabled: true,
		// No retries: a write whose reply was lost may have been applied,
		// and sending it again later would put an old value back over
		// newer writes (torture's TestBug_RedisRetriesWriteAfterLostReply).
		// The caller gets the error; Update retries transactions.
		MaxRetries: -1,

		// Skip CLIENT SETINFO and the maintenance-notification handshake:
		// one round trip less per new connection, and no log noise from
		// servers that do not know those commands.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// ping checks that every node answers.
func (s *Store) ping(ctx context.Context) error {
	if s.cluster != nil {
		return s.cluster.ForEachShard(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		})
	}
	return s.single.Ping(ctx).Err()
}

// Close implements driver.Backend: it closes both connection pools. Open
// transactions fail from then on.
func (s *Store) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.client.Close()
	if terr := s.txClient.Close(); err == nil {
		err = terr
	}
	return err
}

// Health implements driver.HealthReporter: it pings every node and reports
// the pool figures of both connection pools.
func (s *Store) Health(ctx context.Context) (map[string]any, error) {
	d := map[string]any{"redis_addrs": s.addrs}
	if s.cluster != nil {
		d["redis_mode"] = "cluster"
	} else {
		d["redis_mode"] = "single"
	}
	if s.closed.Load() {
		return d, errClosed
	}
	addPool := func(prefix string, st *goredis.PoolStats) {
		d[prefix+"total_conns"] = st.TotalConns
		d[prefix+"idle_conns"] = st.IdleConns
		d[prefix+"stale_conns"] = st.StaleConns
		d[prefix+"hits"] = st.Hits
		d[prefix+"misses"] = st.Misses
		d[prefix+"timeouts"] = st.Timeouts
	}
	addPool("redis_pool_", s.client.PoolStats())
	addPool("redis_tx_pool_", s.txClient.PoolStats())
	start := time.Now()
	err := s.ping(ctx)
	d["redis_ping"] = time.Since(start).String()
	return d, s.wrap(ctx, err)
}

// wrap makes an error that happened while ctx ended match the ctx error too,
// as CONTRACT §8 asks: the client reports a deadline as an i/o timeout.
func (s *Store) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() && errors.Is(err, goredis.ErrClosed) {
		return errClosed
	}
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(dl) {
		// The socket deadline, which is the ctx deadline, fired before
		// the ctx's own timer did.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
