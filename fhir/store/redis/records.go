package redis

import (
	"context"
	"errors"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store"
)

// The store's records (store.Records): a hash per namespace, rec:<ns>, field key -> value. A swap is a
// script, which Redis runs atomically whichever process sends it.

func (s *Store) recordsKey(ns string) string { return s.p + "rec:" + ns }

// swapScript sets (or, with no value argument, deletes) KEYS[1]'s field ARGV[1] if its value is ARGV[3]
// (ARGV[2] = "1") or if it has none (ARGV[2] = "0"); ARGV[4], when given, is the new value.
var swapScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[3] then
  return 0
end
if ARGV[4] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1`)

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, ns, key string) ([]byte, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	b, err := s.rdb.HGet(ctx, s.recordsKey(ns), key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	return b, store.Unavailable(err)
}

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, ns, key string, value []byte) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	return store.Unavailable(s.rdb.HSet(ctx, s.recordsKey(ns), key, value).Err())
}

// SwapRecord implements store.Records.
func (s *Store) SwapRecord(ctx context.Context, ns, key string, old, value []byte) (bool, error) {
	if err := s.gate.Enter(); err != nil {
		return false, err
	}
	defer s.gate.Leave()
	args := []any{key, "0", ""}
	if old != nil {
		args = []any{key, "1", old}
	}
	if value != nil {
		args = append(args, value)
	}
	n, err := swapScript.Run(ctx, s.rdb, []string{s.recordsKey(ns)}, args...).Int()
	if err != nil {
		return false, store.Unavailable(err)
	}
	return n == 1, nil
}

// DeleteRecord implements store.Records.
func (s *Store) DeleteRecord(ctx context.Context, ns, key string) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	return store.Unavailable(s.rdb.HDel(ctx, s.recordsKey(ns), key).Err())
}

// ListRecords implements store.Records: a namespace holds few records (the exports of the retention
// period), read at once and sorted.
func (s *Store) ListRecords(ctx context.Context, ns string, fn func(key string, value []byte) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	m, err := s.rdb.HGetAll(ctx, s.recordsKey(ns)).Result()
	if err != nil {
		return store.Unavailable(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !fn(k, []byte(m[k])) {
			return nil
		}
	}
	return nil
}
