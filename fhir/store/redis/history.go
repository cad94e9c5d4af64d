package redis

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/commit"
)

// historyPage is how many history entries a round trip reads.
const historyPage = 200

// History implements store.Store.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) ([]*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	if q.ID != "" {
		return s.instanceHistory(ctx, q)
	}
	return commit.Collect(ctx, q, s.historyEntries(ctx, q))
}

// historyEntries offers the versions of the system or a type history newest first, before q.Before: a
// page of entries and their versions per round trip, no more than the query can still take.
func (s *Store) historyEntries(ctx context.Context, q store.HistoryQuery) iter.Seq2[*store.Version, error] {
	return func(yield func(*store.Version, error) bool) {
		key := s.systemKey()
		if q.Type != "" {
			key = s.typeKey(q.Type)
		}
		upper := "+inf"
		if q.Before > 0 {
			upper = "(" + strconv.FormatUint(q.Before, 10)
		}
		offered := 0
		for {
			page := commit.Remaining(q, offered, historyPage)
			if page <= 0 {
				return
			}
			zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Max: upper, Min: "-inf", Count: int64(page)}).Result()
			if err != nil {
				yield(nil, unavailable(ctx, err))
				return
			}
			if len(zs) == 0 {
				return
			}
			entries := make([]commit.Entry, len(zs))
			for i, z := range zs {
				if entries[i], err = commit.ParseEntry(q, []byte(z.Member.(string))); err != nil {
					yield(nil, err)
					return
				}
			}
			vs, err := s.readVersions(ctx, entries)
			if err != nil {
				yield(nil, err)
				return
			}
			for i, v := range vs {
				if v == nil {
					yield(nil, entries[i].Missing(nil))
					return
				}
				if !yield(v, nil) {
					return
				}
				offered++
			}
			upper = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
		}
	}
}

// instanceHistory lists a resource's versions newest first: the current one, then the superseded ones.
func (s *Store) instanceHistory(ctx context.Context, q store.HistoryQuery) ([]*store.Version, error) {
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
	return commit.Collect(ctx, q, func(yield func(*store.Version, error) bool) {
		if !yield(cur, nil) {
			return
		}
		vids := make([]uint64, 0, len(older))
		for f := range older {
			vid, err := parseVersionField(f)
			if err != nil {
				yield(nil, store.Unavailable(fmt.Errorf("%s/%s: %w", q.Type, q.ID, err)))
				return
			}
			vids = append(vids, vid)
		}
		slices.Sort(vids)
		for _, vid := range slices.Backward(vids) {
			v, err := decode(q.Type, q.ID, []byte(older[versionField(vid)]))
			if !yield(v, err) || err != nil {
				return
			}
		}
	})
}
