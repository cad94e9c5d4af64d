// Package redis is fhirgate's shared storage engine: every version, history entry, search index entry
// and audit chain link lives in one Redis, so that several stateless fhirgate processes can serve the
// same data.
//
// A commit is optimistic and serializable across processes: it WATCHes the store's sequence key, reads
// the current versions it depends on, decides (preconditions, version numbers, sequence, lastUpdated,
// index changes, audit chain links: the shared planner, package commit) and writes everything in one
// MULTI/EXEC, which also moves the sequence on. If any other commit landed in between, EXEC refuses and
// the commit starts again; inside one process commits queue on a mutex, so only commits from different
// processes ever collide.
//
// Durability is Redis's: an acknowledged write survives a crash only when the server runs with an
// append-only file synced on every write (appendonly yes, appendfsync always). Open checks that and
// refuses other settings unless the operator explicitly accepts the risk. See docs/redis.md.
//
// The files: redis.go the engine, Open and Close; durability.go the server's persistence; keys.go the key
// layout and the bytes only this engine writes; commit.go and writes.go the commit; read.go reads by id
// and version; history.go the history; index.go index and id scans; chain.go the audit chain.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/commit"
	"fhirgate/fhir/store/redis/internal/redisurl"
)

// Config configures the engine.
type Config struct {
	// URL is redis://[user:pass@]host:port/db or rediss://... (TLS). A "prefix" query parameter sets
	// Prefix.
	URL string
	// Prefix starts every key of the store (default "fhirgate:"), so that stores can share a Redis.
	Prefix string
	// AcceptDataLoss lets the engine start on a Redis whose persistence can lose acknowledged writes
	// (anything but appendonly yes + appendfsync always). Durability then says so.
	AcceptDataLoss bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives the engine's warnings (slog.Default when nil).
	Logger *slog.Logger
	// PoolSize is the connection pool size (default: go-redis's, 10 per CPU).
	PoolSize int
	// CommitObserver, when set, is told how long each commit took (metrics).
	CommitObserver func(d time.Duration, ops int, err error)
}

// Store is the Redis engine. It is safe for concurrent use, and by several processes at once.
type Store struct {
	rdb        *goredis.Client
	cfg        Config
	p          string // key prefix
	durability Durability
	planner    commit.Planner
	gate       commit.Gate

	lane sync.Mutex // this process's commits, one at a time
}

var _ store.Store = (*Store)(nil)

// ErrCluster is returned by Open on a Redis Cluster node: a commit's keys span hash slots, which one
// MULTI/EXEC cannot (see docs/redis.md).
var ErrCluster = errors.New("redis: Redis Cluster is not supported yet (a transaction's keys span hash slots); use a single primary, see docs/redis.md")

// Open connects, checks the server's persistence settings, and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	opts, prefix, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = prefix
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "fhirgate:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PoolSize > 0 {
		opts.PoolSize = cfg.PoolSize
	}
	rdb := goredis.NewClient(opts)
	// fail closes the client of a store that will not open, and returns why it will not.
	fail := func(err error) (*Store, error) {
		if cerr := rdb.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("redis: closing the client: %w", cerr))
		}
		return nil, err
	}
	s := &Store{rdb: rdb, cfg: cfg, p: cfg.Prefix, planner: commit.Planner{Now: cfg.Now, Observer: cfg.CommitObserver}}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fail(fmt.Errorf("redis: cannot reach %s: %w", opts.Addr, err))
	}
	if info, err := rdb.Info(ctx, "cluster").Result(); err == nil && strings.Contains(info, "cluster_enabled:1") {
		return fail(ErrCluster)
	}
	d, err := readDurability(ctx, rdb)
	if err != nil {
		if !cfg.AcceptDataLoss {
			return fail(fmt.Errorf("redis: cannot read the server's persistence settings (CONFIG GET appendonly appendfsync): %w; "+
				"fhirgate needs appendonly yes and appendfsync always, or an explicit acceptance of data loss", err))
		}
		d = Durability{AppendOnly: "unknown", AppendFsync: "unknown"}
	}
	if !d.Safe {
		if !cfg.AcceptDataLoss {
			return fail(fmt.Errorf("%w: the server runs with appendonly=%s appendfsync=%s; fhirgate needs appendonly yes "+
				"and appendfsync always (everysec can lose about a second of acknowledged writes), or an explicit "+
				"acceptance of data loss", ErrUnsafePersistence, d.AppendOnly, d.AppendFsync))
		}
		d.Accepted = true
		cfg.Logger.Warn("redis: running on a server that can lose acknowledged writes, as the operator accepted", "persistence", d.String())
	}
	s.durability = d
	return s, nil
}

// ParseURL reads a redis:// or rediss:// URL (and its optional prefix parameter) into client options,
// with timeouts set.
func ParseURL(raw string) (*goredis.Options, string, error) { return redisurl.Parse(raw) }

// Client returns the underlying client (tests clean up with it).
func (s *Store) Client() *goredis.Client { return s.rdb }

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.p }

// unavailable wraps a Redis failure; a cancelled or expired request keeps its own error.
func unavailable(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return store.Unavailable(err)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	return unavailable(ctx, s.rdb.Ping(ctx).Err())
}

// Close implements store.Store: it waits for operations in progress, then closes the connections.
func (s *Store) Close() error {
	return s.gate.Close(s.rdb.Close)
}
