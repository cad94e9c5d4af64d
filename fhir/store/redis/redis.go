// Package redis is fhirgate's shared storage engine: every version, history entry, search index entry
// and audit chain link lives in one Redis, so that several stateless fhirgate processes can serve the
// same data.
//
// A commit is optimistic and serializable across processes: it WATCHes the store's sequence key, reads
// the current versions it depends on, decides (preconditions, version numbers, sequence, lastUpdated,
// index changes, audit chain links) and writes everything in one MULTI/EXEC, which also moves the
// sequence on. If any other commit landed in between, EXEC refuses and the commit starts again; inside
// one process commits queue on a mutex, so only commits from different processes ever collide.
//
// Durability is Redis's: an acknowledged write survives a crash only when the server runs with an
// append-only file synced on every write (appendonly yes, appendfsync always). Open checks that and
// refuses other settings unless the operator explicitly accepts the risk. See docs/redis.md.
package redis

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
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

	lane sync.Mutex // this process's commits, one at a time

	closeMu sync.RWMutex
	closed  bool
}

var _ store.Store = (*Store)(nil)

// Durability describes the server's persistence as read at start.
type Durability struct {
	AppendOnly, AppendFsync string
	// Safe is true when an acknowledged write survives a crash of the server (AOF, fsync always).
	Safe bool
	// Accepted is true when the engine runs on unsafe settings because the operator said so.
	Accepted bool
}

func (d Durability) String() string {
	s := fmt.Sprintf("appendonly=%s appendfsync=%s", d.AppendOnly, d.AppendFsync)
	switch {
	case d.Safe:
		return s + " (acknowledged writes survive a crash)"
	case d.Accepted:
		return s + " (ACKNOWLEDGED WRITES CAN BE LOST; accepted by the operator)"
	default:
		return s + " (acknowledged writes can be lost)"
	}
}

// ErrCluster is returned by Open on a Redis Cluster node: a commit's keys span hash slots, which one
// MULTI/EXEC cannot (see docs/redis.md).
var ErrCluster = errors.New("redis: Redis Cluster is not supported yet (a transaction's keys span hash slots); use a single primary, see docs/redis.md")

// ErrUnsafePersistence is returned by Open when the server can lose acknowledged writes.
var ErrUnsafePersistence = errors.New("redis: the server can lose acknowledged writes")

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
	s := &Store{rdb: rdb, cfg: cfg, p: cfg.Prefix}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: cannot reach %s: %w", opts.Addr, err)
	}
	if info, err := rdb.Info(ctx, "cluster").Result(); err == nil && strings.Contains(info, "cluster_enabled:1") {
		rdb.Close()
		return nil, ErrCluster
	}
	d, err := readDurability(ctx, rdb)
	if err != nil {
		if !cfg.AcceptDataLoss {
			rdb.Close()
			return nil, fmt.Errorf("redis: cannot read the server's persistence settings (CONFIG GET appendonly appendfsync): %w; "+
				"fhirgate needs appendonly yes and appendfsync always, or an explicit acceptance of data loss", err)
		}
		d = Durability{AppendOnly: "unknown", AppendFsync: "unknown"}
	}
	if !d.Safe {
		if !cfg.AcceptDataLoss {
			rdb.Close()
			return nil, fmt.Errorf("%w: the server runs with appendonly=%s appendfsync=%s; fhirgate needs appendonly yes "+
				"and appendfsync always (everysec can lose about a second of acknowledged writes), or an explicit "+
				"acceptance of data loss", ErrUnsafePersistence, d.AppendOnly, d.AppendFsync)
		}
		d.Accepted = true
		cfg.Logger.Warn("redis: running on a server that can lose acknowledged writes, as the operator accepted", "persistence", d.String())
	}
	s.durability = d
	return s, nil
}

// ParseURL reads a redis:// or rediss:// URL (and its optional prefix parameter) into client options,
// with timeouts set.
func ParseURL(raw string) (*goredis.Options, string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, "", fmt.Errorf("redis: %q is not a redis:// or rediss:// URL", raw)
	}
	q := u.Query()
	prefix := q.Get("prefix")
	q.Del("prefix")
	u.RawQuery = q.Encode()
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("redis: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 5 * time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if u.Scheme == "rediss" && opts.TLSConfig != nil && opts.TLSConfig.MinVersion < tls.VersionTLS12 {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return opts, prefix, nil
}

func readDurability(ctx context.Context, rdb *goredis.Client) (Durability, error) {
	var d Durability
	for _, name := range []string{"appendonly", "appendfsync"} {
		m, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return d, err
		}
		v, ok := m[name]
		if !ok {
			return d, fmt.Errorf("the server does not report %s", name)
		}
		if name == "appendonly" {
			d.AppendOnly = v
		} else {
			d.AppendFsync = v
		}
	}
	d.Safe = d.AppendOnly == "yes" && d.AppendFsync == "always"
	return d, nil
}

// Durability returns the server's persistence, as read at start.
func (s *Store) Durability() Durability { return s.durability }

// Client returns the underlying client (tests clean up with it).
func (s *Store) Client() *goredis.Client { return s.rdb }

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.p }

// Key layout, under the prefix (types and ids never contain ':'):
//
//	seq                  the last sequence number given (every commit moves it: the commits' WATCH)
//	clock                the last lastUpdated given (ms), so that it never decreases along seq
//	c:<type>:<id>        current version record (codec.EncodeVersion)
//	v:<type>:<id>        hash: versionId -> every superseded version record
//	h                    sorted set, score seq: system history (codec.Pointer with type)
//	t:<type>             sorted set, score seq: type history (codec.Pointer without type)
//	i:<type>:<param>     sorted set, all scores 0, by member: search index (codec.IndexTail)
//	r:<type>:<id>        the resource's index entries (codec.EncodeIndexList)
//	ids:<type>           sorted set, all scores 0: the ids that currently exist (not deleted)
//	a                    sorted set, score chain position: audit chain links (<seq:8> codec.EncodeChainLink)
//	chainhead            the chain head (codec.EncodeChainHead)
//	changes              hash: type -> writes of that type (Changes)
func (s *Store) seqKey() string                    { return s.p + "seq" }
func (s *Store) clockKey() string                  { return s.p + "clock" }
func (s *Store) currentKey(typ, id string) string  { return s.p + "c:" + typ + ":" + id }
func (s *Store) versionsKey(typ, id string) string { return s.p + "v:" + typ + ":" + id }
func (s *Store) systemKey() string                 { return s.p + "h" }
func (s *Store) typeKey(typ string) string         { return s.p + "t:" + typ }
func (s *Store) indexKey(typ, param string) string { return s.p + "i:" + typ + ":" + param }
func (s *Store) reverseKey(typ, id string) string  { return s.p + "r:" + typ + ":" + id }
func (s *Store) idsKey(typ string) string          { return s.p + "ids:" + typ }
func (s *Store) chainKey() string                  { return s.p + "a" }
func (s *Store) chainHeadKey() string              { return s.p + "chainhead" }
func (s *Store) changesKey() string                { return s.p + "changes" }

func (s *Store) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return store.Unavailable(store.ErrClosed)
	}
	return nil
}

func (s *Store) leave() { s.closeMu.RUnlock() }

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

// Read implements store.Store.
func (s *Store) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	b, err := s.rdb.Get(ctx, s.currentKey(typ, id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	return decode(typ, id, b)
}

// ReadMany implements store.Store: one MGET.
func (s *Store) ReadMany(ctx context.Context, typ string, ids []string) ([]*store.Version, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	out := make([]*store.Version, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.currentKey(typ, id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	for i, v := range vals {
		if b, ok := v.(string); ok {
			if out[i], err = decode(typ, ids[i], []byte(b)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func decode(typ, id string, b []byte) (*store.Version, error) {
	v := &store.Version{Type: typ, ID: id}
	if err := codec.DecodeVersion(b, v); err != nil {
		return nil, store.Unavailable(fmt.Errorf("%s/%s: %w", typ, id, err))
	}
	return v, nil
}

// ReadVersion implements store.Store.
func (s *Store) ReadVersion(ctx context.Context, typ, id string, vid uint64) (*store.Version, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	vs, err := s.readVersions(ctx, []versionRef{{typ, id, vid}})
	if err != nil {
		return nil, err
	}
	if vs[0] == nil {
		return nil, store.ErrNotFound
	}
	return vs[0], nil
}

type versionRef struct {
	typ, id string
	vid     uint64
}

// readVersions reads versions in one atomic round trip: each from the current record when it is the
// current version, from the superseded versions otherwise (nil when it does not exist).
func (s *Store) readVersions(ctx context.Context, refs []versionRef) ([]*store.Version, error) {
	cur := make([]*goredis.StringCmd, len(refs))
	old := make([]*goredis.StringCmd, len(refs))
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for i, r := range refs {
			cur[i] = p.Get(ctx, s.currentKey(r.typ, r.id))
			old[i] = p.HGet(ctx, s.versionsKey(r.typ, r.id), strconv.FormatUint(r.vid, 10))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(ctx, err)
	}
	out := make([]*store.Version, len(refs))
	for i, r := range refs {
		if b, err := cur[i].Bytes(); err == nil {
			v, err := decode(r.typ, r.id, b)
			if err != nil {
				return nil, err
			}
			if v.VersionID == r.vid {
				out[i] = v
				continue
			}
		}
		if b, err := old[i].Bytes(); err == nil {
			v, err := decode(r.typ, r.id, b)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
	}
	return out, nil
}

// historyPage is how many history entries a round trip reads.
const historyPage = 200

// History implements store.Store.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) ([]*store.Version, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if q.ID != "" {
		return s.instanceHistory(ctx, q)
	}
	key := s.systemKey()
	if q.Type != "" {
		key = s.typeKey(q.Type)
	}
	max := "+inf"
	if q.Before > 0 {
		max = "(" + strconv.FormatUint(q.Before, 10)
	}
	var out []*store.Version
	for {
		page := historyPage
		if q.Limit > 0 && q.Limit-len(out) < page {
			page = q.Limit - len(out)
		}
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Max: max, Min: "-inf", Count: int64(page)}).Result()
		if err != nil {
			return nil, unavailable(ctx, err)
		}
		if len(zs) == 0 {
			return out, nil
		}
		refs := make([]versionRef, len(zs))
		for i, z := range zs {
			typ, id, vid, err := codec.ParsePointer([]byte(z.Member.(string)), q.Type == "")
			if err != nil {
				return nil, store.Unavailable(err)
			}
			if q.Type != "" {
				typ = q.Type
			}
			refs[i] = versionRef{typ, id, vid}
		}
		vs, err := s.readVersions(ctx, refs)
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			if v == nil {
				return nil, store.Unavailable(fmt.Errorf("history points at a missing version %s/%s/%d", refs[i].typ, refs[i].id, refs[i].vid))
			}
			if !q.Since.IsZero() && v.LastUpdated.Before(q.Since) {
				return out, nil // lastUpdated never decreases along Seq
			}
			out = append(out, v)
			if q.Limit > 0 && len(out) >= q.Limit {
				return out, nil
			}
		}
		max = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
	}
}

// instanceHistory lists a resource's versions newest first: the current one, then the superseded ones.
func (s *Store) instanceHistory(ctx context.Context, q store.HistoryQuery) ([]*store.Version, error) {
	page := codec.NewHistoryPage(q)
	// The current record and the superseded ones, from one snapshot.
	cmds, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Get(ctx, s.currentKey(q.Type, q.ID))
		p.HGetAll(ctx, s.versionsKey(q.Type, q.ID))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(ctx, err)
	}
	curB, err := cmds[0].(*goredis.StringCmd).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil // never existed
	}
	older := cmds[1].(*goredis.MapStringStringCmd).Val()
	cur, err := decode(q.Type, q.ID, curB)
	if err != nil {
		return nil, err
	}
	if page.Keep(cur) {
		return page.Versions, nil
	}
	vids := make([]uint64, 0, len(older))
	for k := range older {
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return nil, store.Unavailable(fmt.Errorf("%s/%s: corrupt version field %q", q.Type, q.ID, k))
		}
		vids = append(vids, n)
	}
	sort.Slice(vids, func(i, j int) bool { return vids[i] > vids[j] })
	for _, vid := range vids {
		v, err := decode(q.Type, q.ID, []byte(older[strconv.FormatUint(vid, 10)]))
		if err != nil {
			return nil, err
		}
		if page.Keep(v) {
			break
		}
	}
	return page.Versions, nil
}

// maxAttempts bounds the retries of a commit that keeps colliding with other processes' commits.
const maxAttempts = 200

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, tx *store.Tx) ([]*store.Version, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	start := time.Now()
	out, err := s.commit(ctx, tx)
	if s.cfg.CommitObserver != nil {
		s.cfg.CommitObserver(time.Since(start), len(tx.Ops), err)
	}
	return out, err
}

func (s *Store) commit(ctx context.Context, tx *store.Tx) ([]*store.Version, error) {
	if err := codec.CheckDistinct(tx.Ops); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tmpls, err := codec.Templates(tx.Ops)
	if err != nil {
		return nil, err
	}
	s.lane.Lock()
	defer s.lane.Unlock()
	for attempt := 1; ; attempt++ {
		var out []*store.Version
		err := s.rdb.Watch(ctx, func(rtx *goredis.Tx) error {
			var err error
			out, err = s.attempt(ctx, rtx, tx, tmpls)
			return err
		}, s.seqKey())
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, goredis.TxFailedErr) {
			return nil, unavailable(ctx, err) // a *fhir.Error (a precondition) passes through unchanged
		}
		// Another process committed in between: decide again on what it wrote.
		if attempt >= maxAttempts {
			return nil, store.Unavailable(fmt.Errorf("redis: the commit collided with other writers %d times", attempt))
		}
		backoff := time.Duration(rand.IntN(100*min(attempt, 20))) * time.Microsecond
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// attempt reads what the transaction depends on, decides it, and writes it in one MULTI/EXEC, which
// fails (TxFailedErr) if another commit moved the sequence since the WATCH.
func (s *Store) attempt(ctx context.Context, rtx *goredis.Tx, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error) {
	ops := tx.Ops
	var seqCmd, clockCmd, headCmd *goredis.StringCmd
	curCmds := make([]*goredis.StringCmd, len(ops))
	revCmds := make([]*goredis.StringCmd, len(ops))
	_, err := rtx.Pipelined(ctx, func(p goredis.Pipeliner) error {
		seqCmd = p.Get(ctx, s.seqKey())
		clockCmd = p.Get(ctx, s.clockKey())
		headCmd = p.Get(ctx, s.chainHeadKey())
		for i, op := range ops {
			curCmds[i] = p.Get(ctx, s.currentKey(op.Type, op.ID))
			revCmds[i] = p.Get(ctx, s.reverseKey(op.Type, op.ID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	seq, err := uintOf(seqCmd)
	if err != nil {
		return nil, err
	}
	lastMS, err := uintOf(clockCmd)
	if err != nil {
		return nil, err
	}
	var chainSeq uint64
	var chainHash [32]byte
	if b, err := headCmd.Bytes(); err == nil {
		if chainSeq, chainHash, err = codec.DecodeChainHead(b); err != nil {
			return nil, err
		}
	}
	if tx.Check != nil {
		// The check reads through other connections; whatever it read stays true until EXEC, or EXEC
		// fails because a commit moved the sequence.
		if err := tx.Check(ctx); err != nil {
			return nil, err
		}
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	if last := time.UnixMilli(int64(lastMS)).UTC(); now.Before(last) {
		now = last // lastUpdated never decreases along Seq
	}
	startSeq, startChain := seq, chainSeq
	w := newWrites()
	out := make([]*store.Version, len(ops))
	for i := range ops {
		op := &ops[i]
		var cur *store.Version
		if b, err := curCmds[i].Bytes(); err == nil {
			if cur, err = decode(op.Type, op.ID, b); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, goredis.Nil) {
			return nil, err
		}
		v, err := codec.Plan(i, op, cur, tmpls[i], seq+1, now)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue // nothing to delete
		}
		seq++
		if cur != nil {
			w.hset(s.versionsKey(op.Type, op.ID), strconv.FormatUint(cur.VersionID, 10), codec.EncodeVersion(cur))
		}
		w.set(s.currentKey(op.Type, op.ID), codec.EncodeVersion(v))
		w.zadd(s.systemKey(), float64(seq), codec.Pointer(op.Type, op.ID, v.VersionID))
		w.zadd(s.typeKey(op.Type), float64(seq), codec.Pointer("", op.ID, v.VersionID))
		var old []store.IndexEntry
		if b, err := revCmds[i].Bytes(); err == nil {
			if old, err = codec.DecodeIndexList(b, ""); err != nil {
				return nil, err
			}
		}
		remove, add, next := codec.IndexDiff(old, op)
		for _, e := range remove {
			w.zrem(s.indexKey(op.Type, e.Param), codec.IndexTail(nil, e.Value, op.ID))
		}
		for _, e := range add {
			w.zadd(s.indexKey(op.Type, e.Param), 0, codec.IndexTail(nil, e.Value, op.ID))
		}
		if len(next) > 0 {
			w.set(s.reverseKey(op.Type, op.ID), codec.EncodeIndexList(next))
		} else if len(old) > 0 {
			w.del(s.reverseKey(op.Type, op.ID))
		}
		if v.Deleted {
			w.zrem(s.idsKey(op.Type), []byte(op.ID))
		} else if v.Created {
			w.zadd(s.idsKey(op.Type), 0, []byte(op.ID))
		}
		if op.Chain {
			chainSeq++
			link := store.ChainRecord{Seq: chainSeq, Type: op.Type, ID: op.ID, VersionID: v.VersionID, Prev: chainHash,
				Hash: store.ChainHash(chainHash, v.Body)}
			chainHash = link.Hash
			w.zadd(s.chainKey(), float64(chainSeq), append(binary.BigEndian.AppendUint64(nil, chainSeq), codec.EncodeChainLink(link)...))
		}
		w.changed[op.Type]++
		out[i] = v
	}
	if seq == startSeq {
		return out, nil // nothing to write
	}
	_, err = rtx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		w.apply(ctx, p)
		p.Set(ctx, s.seqKey(), seq, 0)
		p.Set(ctx, s.clockKey(), now.UnixMilli(), 0)
		if chainSeq != startChain {
			p.Set(ctx, s.chainHeadKey(), codec.EncodeChainHead(chainSeq, chainHash), 0)
		}
		for typ, n := range w.changed {
			p.HIncrBy(ctx, s.changesKey(), typ, n)
		}
		return nil
	})
	return out, err
}

func uintOf(c *goredis.StringCmd) (uint64, error) {
	b, err := c.Result()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(b, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: corrupt counter %q", b)
	}
	return n, nil
}

// writes collects a commit's writes, grouped per key so that a sorted set gets one ZADD.
type writes struct {
	order   []string
	sets    map[string][]byte
	dels    map[string]bool
	hsets   map[string][]any
	zadds   map[string][]goredis.Z
	zrems   map[string][]any
	changed map[string]int64
}

func newWrites() *writes {
	return &writes{sets: map[string][]byte{}, dels: map[string]bool{}, hsets: map[string][]any{},
		zadds: map[string][]goredis.Z{}, zrems: map[string][]any{}, changed: map[string]int64{}}
}

func (w *writes) touch(key string) {
	if _, ok := w.sets[key]; ok {
		return
	}
	if w.dels[key] || w.hsets[key] != nil || w.zadds[key] != nil || w.zrems[key] != nil {
		return
	}
	w.order = append(w.order, key)
}

func (w *writes) set(key string, v []byte) {
	w.touch(key)
	w.sets[key] = v
	delete(w.dels, key)
}

func (w *writes) del(key string) {
	w.touch(key)
	delete(w.sets, key)
	w.dels[key] = true
}

func (w *writes) hset(key, field string, v []byte) {
	w.touch(key)
	w.hsets[key] = append(w.hsets[key], field, v)
}

func (w *writes) zadd(key string, score float64, member []byte) {
	w.touch(key)
	w.zadds[key] = append(w.zadds[key], goredis.Z{Score: score, Member: string(member)})
}

func (w *writes) zrem(key string, member []byte) {
	w.touch(key)
	w.zrems[key] = append(w.zrems[key], string(member))
}

// apply queues the writes: removals before additions, so that an entry removed and added again by the
// same commit (two resources never share an entry) stays.
func (w *writes) apply(ctx context.Context, p goredis.Pipeliner) {
	for _, k := range w.order {
		if m := w.zrems[k]; len(m) > 0 {
			p.ZRem(ctx, k, m...)
		}
		if z := w.zadds[k]; len(z) > 0 {
			p.ZAdd(ctx, k, z...)
		}
		if h := w.hsets[k]; len(h) > 0 {
			p.HSet(ctx, k, h...)
		}
		if v, ok := w.sets[k]; ok {
			p.Set(ctx, k, v, 0)
		}
		if w.dels[k] {
			p.Del(ctx, k)
		}
	}
}

// scanPage is how many entries a scan reads per round trip.
const scanPage = 1000

// IndexScan implements store.Store.
func (s *Store) IndexScan(ctx context.Context, typ, param string, lo, hi []byte, fn func(value []byte, id string) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	min := "[" + string(codec.Escape(nil, lo))
	max := "+"
	if hi != nil {
		max = "(" + string(codec.Escape(nil, hi))
	}
	return s.lexScan(ctx, s.indexKey(typ, param), min, max, func(m string) (bool, error) {
		value, id, block, err := codec.SplitIndexTail([]byte(m))
		if err == nil && block { // this engine writes every entry on its own
			err = codec.ErrBadIndexKey
		}
		if err != nil {
			return false, err
		}
		return fn(value, id), nil
	})
}

// lexScan walks a sorted set of equal scores in member order, a page per round trip.
func (s *Store) lexScan(ctx context.Context, key, min, max string, fn func(member string) (bool, error)) error {
	for {
		ms, err := s.rdb.ZRangeByLex(ctx, key, &goredis.ZRangeBy{Min: min, Max: max, Count: scanPage}).Result()
		if err != nil {
			return unavailable(ctx, err)
		}
		for _, m := range ms {
			more, err := fn(m)
			if err != nil {
				return store.Unavailable(err)
			}
			if !more {
				return nil
			}
		}
		if len(ms) < scanPage {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		min = "(" + ms[len(ms)-1]
	}
}

// IndexEntries implements store.Store.
func (s *Store) IndexEntries(ctx context.Context, typ, id string) ([]store.IndexEntry, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	return s.indexList(ctx, typ, id, "")
}

func (s *Store) indexList(ctx context.Context, typ, id, param string) ([]store.IndexEntry, error) {
	b, err := s.rdb.Get(ctx, s.reverseKey(typ, id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	entries, err := codec.DecodeIndexList(b, param)
	return entries, store.Unavailable(err)
}

// IndexEntriesMany implements store.Store: one MGET.
func (s *Store) IndexEntriesMany(ctx context.Context, typ string, ids []string) ([][]store.IndexEntry, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	out := make([][]store.IndexEntry, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.reverseKey(typ, id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	for i, v := range vals {
		if b, ok := v.(string); ok {
			if out[i], err = codec.DecodeIndexList([]byte(b), ""); err != nil {
				return nil, store.Unavailable(err)
			}
		}
	}
	return out, nil
}

// IndexValues implements store.Store.
func (s *Store) IndexValues(ctx context.Context, typ, id, param string) ([][]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	entries, err := s.indexList(ctx, typ, id, param)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.Value
	}
	return out, nil
}

// ScanIDs implements store.Store.
func (s *Store) ScanIDs(ctx context.Context, typ string, fn func(id string) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.lexScan(ctx, s.idsKey(typ), "-", "+", func(m string) (bool, error) { return fn(m), nil })
}

// ChainRecords implements store.Chain.
func (s *Store) ChainRecords(ctx context.Context, fn func(store.ChainRecord) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	min := "-inf"
	for {
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.chainKey(), &goredis.ZRangeBy{Min: min, Max: "+inf", Count: scanPage}).Result()
		if err != nil {
			return unavailable(ctx, err)
		}
		for _, z := range zs {
			m := []byte(z.Member.(string))
			if len(m) < 8 {
				return store.Unavailable(codec.ErrBadPointer)
			}
			r, err := codec.DecodeChainLink(binary.BigEndian.Uint64(m[:8]), m[8:])
			if err != nil {
				return store.Unavailable(err)
			}
			if !fn(r) {
				return nil
			}
		}
		if len(zs) < scanPage {
			return nil
		}
		min = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
	}
}

// ChainLink implements store.Chain.
func (s *Store) ChainLink(ctx context.Context, seq uint64) (store.ChainRecord, error) {
	if err := s.enter(); err != nil {
		return store.ChainRecord{}, err
	}
	defer s.leave()
	score := strconv.FormatUint(seq, 10)
	ms, err := s.rdb.ZRangeByScore(ctx, s.chainKey(), &goredis.ZRangeBy{Min: score, Max: score}).Result()
	if err != nil {
		return store.ChainRecord{}, unavailable(ctx, err)
	}
	if len(ms) == 0 {
		return store.ChainRecord{}, store.ErrNotFound
	}
	m := []byte(ms[0])
	if len(m) < 8 {
		return store.ChainRecord{}, store.Unavailable(codec.ErrBadPointer)
	}
	r, err := codec.DecodeChainLink(binary.BigEndian.Uint64(m[:8]), m[8:])
	return r, store.Unavailable(err)
}

// ChainHead implements store.Chain.
func (s *Store) ChainHead(ctx context.Context) (uint64, [32]byte, error) {
	if err := s.enter(); err != nil {
		return 0, [32]byte{}, err
	}
	defer s.leave()
	b, err := s.rdb.Get(ctx, s.chainHeadKey()).Bytes()
	if errors.Is(err, goredis.Nil) {
		return 0, [32]byte{}, nil
	}
	if err != nil {
		return 0, [32]byte{}, unavailable(ctx, err)
	}
	seq, h, err := codec.DecodeChainHead(b)
	return seq, h, store.Unavailable(err)
}

// Changes implements store.Store: the count of writes of a type, kept in Redis, so that every process
// sees every other's writes.
func (s *Store) Changes(ctx context.Context, typ string) (uint64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	n, err := s.rdb.HGet(ctx, s.changesKey(), typ).Uint64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return n, unavailable(ctx, err)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return unavailable(ctx, s.rdb.Ping(ctx).Err())
}

// Close implements store.Store: it waits for operations in progress, then closes the connections.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.rdb.Close()
}

// Drop deletes every key under a prefix of the Redis at rawURL, with a connection of its own (tests
// clean up with it, after their stores are closed).
func Drop(ctx context.Context, rawURL, prefix string) error {
	if prefix == "" {
		return errors.New("redis: Drop needs a prefix")
	}
	opts, _, err := ParseURL(rawURL)
	if err != nil {
		return err
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, escapeGlob(prefix)+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
