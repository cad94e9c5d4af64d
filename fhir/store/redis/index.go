package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// scanPage is how many entries a scan reads per round trip.
const scanPage = 1000

// IndexScan implements store.Store.
func (s *Store) IndexScan(ctx context.Context, typ, param string, lo, hi []byte, fn func(value []byte, id string) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	start := "[" + string(codec.Escape(nil, lo))
	stop := "+"
	if hi != nil {
		stop = "(" + string(codec.Escape(nil, hi))
	}
	return s.lexScan(ctx, s.indexKey(typ, param), start, stop, func(m string) (bool, error) {
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

// lexScan walks a sorted set of equal scores in member order from start to stop (lexical range bounds,
// "[" inclusive, "(" exclusive, "-" and "+" open), a page per round trip.
func (s *Store) lexScan(ctx context.Context, key, start, stop string, fn func(member string) (bool, error)) error {
	for {
		ms, err := s.rdb.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: key, Start: start, Stop: stop, ByLex: true, Count: scanPage}).Result()
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
		start = "(" + ms[len(ms)-1]
	}
}

// IndexEntries implements store.Store.
func (s *Store) IndexEntries(ctx context.Context, typ, id string) ([]store.IndexEntry, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	b, err := s.indexList(ctx, typ, id)
	if b == nil || err != nil {
		return nil, err
	}
	entries, err := codec.DecodeIndexList(b, "")
	return entries, store.Unavailable(err)
}

// indexList reads a resource's list of index entries (nil when it has none).
func (s *Store) indexList(ctx context.Context, typ, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.reverseKey(typ, id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return b, unavailable(ctx, err)
}

// IndexEntriesMany implements store.Store: one MGET.
func (s *Store) IndexEntriesMany(ctx context.Context, typ string, ids []string) ([][]store.IndexEntry, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
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
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	b, err := s.indexList(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	values, err := codec.DecodeIndexValues(b, param) // none when the list is missing
	return values, store.Unavailable(err)
}

// ScanIDs implements store.Store.
func (s *Store) ScanIDs(ctx context.Context, typ string, fn func(id string) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	return s.lexScan(ctx, s.idsKey(typ), "-", "+", func(m string) (bool, error) { return fn(m), nil })
}
