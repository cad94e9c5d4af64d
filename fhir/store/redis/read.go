package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
	"fhirgate/fhir/store/internal/commit"
)

// Read implements store.Store.
func (s *Store) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
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
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
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

// decode decodes the record of typ/id; a corrupt one is an unavailable store.
func decode(typ, id string, b []byte) (*store.Version, error) {
	v, err := codec.DecodeVersionOf(typ, id, b)
	if err != nil {
		return nil, store.Unavailable(err)
	}
	return v, nil
}

// ReadVersion implements store.Store.
func (s *Store) ReadVersion(ctx context.Context, typ, id string, vid uint64) (*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	vs, err := s.readVersions(ctx, []commit.Entry{{Type: typ, ID: id, VersionID: vid}})
	if err != nil {
		return nil, err
	}
	if vs[0] == nil {
		return nil, store.ErrNotFound
	}
	return vs[0], nil
}

// readVersions reads versions in one atomic round trip: each from the current record when it is the
// current version, from the superseded versions otherwise (nil when it does not exist).
func (s *Store) readVersions(ctx context.Context, refs []commit.Entry) ([]*store.Version, error) {
	cur := make([]*goredis.StringCmd, len(refs))
	old := make([]*goredis.StringCmd, len(refs))
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for i, r := range refs {
			cur[i] = p.Get(ctx, s.currentKey(r.Type, r.ID))
			old[i] = p.HGet(ctx, s.versionsKey(r.Type, r.ID), versionField(r.VersionID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(ctx, err)
	}
	out := make([]*store.Version, len(refs))
	for i, r := range refs {
		if b, err := cur[i].Bytes(); err == nil {
			v, err := decode(r.Type, r.ID, b)
			if err != nil {
				return nil, err
			}
			if v.VersionID == r.VersionID {
				out[i] = v
				continue
			}
		}
		if b, err := old[i].Bytes(); err == nil {
			v, err := decode(r.Type, r.ID, b)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
	}
	return out, nil
}

// Changes implements store.Store: the count of writes of a type, kept in Redis, so that every process
// sees every other's writes.
func (s *Store) Changes(ctx context.Context, typ string) (uint64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	n, err := s.rdb.HGet(ctx, s.changesKey(), typ).Uint64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return n, unavailable(ctx, err)
}
