package redis

import (
	"context"
	"errors"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// ChainRecords implements store.Chain.
func (s *Store) ChainRecords(ctx context.Context, fn func(store.ChainRecord) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	from := "-inf"
	for {
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.chainKey(), &goredis.ZRangeBy{Min: from, Max: "+inf", Count: scanPage}).Result()
		if err != nil {
			return unavailable(ctx, err)
		}
		for _, z := range zs {
			r, err := decodeChainMember([]byte(z.Member.(string)))
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
		from = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
	}
}

// ChainLink implements store.Chain.
func (s *Store) ChainLink(ctx context.Context, seq uint64) (store.ChainRecord, error) {
	if err := s.gate.Enter(); err != nil {
		return store.ChainRecord{}, err
	}
	defer s.gate.Leave()
	score := strconv.FormatUint(seq, 10)
	ms, err := s.rdb.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.chainKey(), Start: score, Stop: score, ByScore: true}).Result()
	if err != nil {
		return store.ChainRecord{}, unavailable(ctx, err)
	}
	if len(ms) == 0 {
		return store.ChainRecord{}, store.ErrNotFound
	}
	r, err := decodeChainMember([]byte(ms[0]))
	return r, store.Unavailable(err)
}

// ChainHead implements store.Chain.
func (s *Store) ChainHead(ctx context.Context) (uint64, [32]byte, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, [32]byte{}, err
	}
	defer s.gate.Leave()
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
