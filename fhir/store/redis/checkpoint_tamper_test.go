package redis

// The audit trail of a Redis store against signed checkpoints (audit.Verify), tampered with in Redis
// itself, as someone with access to it would: the hash chain names what was altered, removed, inserted or
// moved; the checkpoints name what was cut off the end (a restored copy, a truncated append-only file),
// which leaves a chain as consistent as before.

import (
	"context"
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/audit"
	"fhirgate/fhir/store/internal/codec"
	"fhirgate/fhir/store/storetest/tampertest"
)

// chainedStore writes tampertest.Events chained events and signs checkpoints of positions 10, 20 and 30.
func chainedStore(t *testing.T) (*Store, []audit.Checkpoint, string) {
	t.Helper()
	s := openTest(t)
	tampertest.Build(t, s, nil)
	cps, key := tampertest.Sign(t, s, 10, 20, 30)
	return s, cps, key
}

// linkMember returns the chain's member at a position (the link as stored).
func linkMember(t *testing.T, s *Store, seq uint64) string {
	t.Helper()
	score := fmt.Sprint(seq)
	ms, err := s.rdb.ZRangeArgs(context.Background(), goredis.ZRangeArgs{Key: s.chainKey(), Start: score, Stop: score, ByScore: true}).Result()
	if err != nil || len(ms) != 1 {
		t.Fatalf("link %d: %v %v", seq, ms, err)
	}
	return ms[0]
}

func TestCheckpointsCatchTamperingRedis(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, s *Store)
		seq    uint64 // the first bad position Verify must name (0 with no reason: the trail holds)
		reason string
	}{
		{"untouched", func(*testing.T, *Store) {}, 0, ""},
		{"one byte flipped in an event", func(t *testing.T, s *Store) {
			k := s.currentKey("AuditEvent", "ae-06")
			b, err := s.rdb.Get(ctx, k).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			s.rdb.Set(ctx, k, tampertest.FlipOutcome(t, b), 0)
		}, 7, "altered"},
		{"a link removed in the middle", func(t *testing.T, s *Store) {
			s.rdb.ZRem(ctx, s.chainKey(), linkMember(t, s, 12))
		}, 12, "removed"},
		{"an event removed in the middle", func(t *testing.T, s *Store) {
			s.rdb.Del(ctx, s.currentKey("AuditEvent", "ae-11"), s.versionsKey("AuditEvent", "ae-11"))
		}, 12, "removed"},
		{"a pair reordered", func(t *testing.T, s *Store) {
			a, b := linkMember(t, s, 4), linkMember(t, s, 5)
			s.rdb.ZAdd(ctx, s.chainKey(), goredis.Z{Score: 5, Member: a}, goredis.Z{Score: 4, Member: b})
		}, 4, ""},
		{"an event inserted", func(t *testing.T, s *Store) {
			tampertest.Forge(t, s, "forged")
		}, 0, "not in the chain"},
		{"the tail cut, the head moved back", func(t *testing.T, s *Store) {
			// A copy restored from before events 26 to 30, or an append-only file cut there.
			s.rdb.ZRemRangeByScore(ctx, s.chainKey(), "26", "30")
			for i := 25; i < tampertest.Events; i++ {
				id := fmt.Sprintf("ae-%02d", i)
				s.rdb.Del(ctx, s.currentKey("AuditEvent", id), s.versionsKey("AuditEvent", id))
				s.rdb.ZRem(ctx, s.idsKey("AuditEvent"), id)
			}
			link, err := decodeChainMember([]byte(linkMember(t, s, 25)))
			if err != nil {
				t.Fatal(err)
			}
			s.rdb.Set(ctx, s.chainHeadKey(), codec.EncodeChainHead(25, link.Hash), 0)
		}, 26, "cut off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cps, key := chainedStore(t)
			tc.tamper(t, s)
			tampertest.Expect(t, s, cps, key, tampertest.Events, tc.seq, tc.reason)
		})
	}
}
