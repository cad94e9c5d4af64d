package redis

// The audit trail of a Redis store against signed checkpoints (audit.Verify), tampered with in Redis
// itself, as someone with access to it would: the hash chain names what was altered, removed, inserted or
// moved; the checkpoints name what was cut off the end (a restored copy, a truncated append-only file),
// which leaves a chain as consistent as before.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/audit"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

const tamperEvents = 30

func auditEvent(id string, n int) store.Op {
	body := fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q,"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},`+
		`"action":"R","recorded":"2026-01-01T00:00:%02dZ","outcome":"0","agent":[{"who":{"reference":"Practitioner/p"},"requestor":true}],`+
		`"source":{"observer":{"reference":"Device/fhirgate"}},"entity":[{"what":{"reference":"Patient/p%d"}}]}`, id, n%60, n%3)
	return store.Op{Type: "AuditEvent", ID: id, Body: []byte(body), Method: "POST", IfNoneExist: true, Chain: true}
}

// chainedStore writes tamperEvents chained events in commits of three and signs checkpoints of positions
// 10, 20 and 30.
func chainedStore(t *testing.T) (*Store, []audit.Checkpoint, string) {
	t.Helper()
	s := openTest(t)
	ctx := context.Background()
	for i := 0; i < tamperEvents; i += 3 {
		var ops []store.Op
		for j := i; j < i+3; j++ {
			ops = append(ops, auditEvent(fmt.Sprintf("ae-%02d", j), j))
		}
		if _, err := s.Commit(ctx, &store.Tx{Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	signer := audit.EphemeralSigner()
	var cps []audit.Checkpoint
	for _, seq := range []uint64{10, 20, 30} {
		link, err := s.ChainLink(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.ReadVersion(ctx, link.Type, link.ID, link.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, signer.Sign(seq, link.Hash, link.Type+"/"+link.ID, v.LastUpdated, v.LastUpdated))
	}
	return s, cps, signer.PublicKey()
}

// linkMember returns the chain's member at a position (the link as stored).
func linkMember(t *testing.T, s *Store, seq uint64) string {
	t.Helper()
	score := fmt.Sprint(seq)
	ms, err := s.rdb.ZRangeByScore(context.Background(), s.chainKey(), &goredis.ZRangeBy{Min: score, Max: score}).Result()
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
			i := bytes.Index(b, []byte(`"outcome":"0"`))
			if i < 0 {
				t.Fatalf("no outcome in %q", b)
			}
			b[i+len(`"outcome":"`)] = '4'
			s.rdb.Set(ctx, k, b, 0)
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
			op := auditEvent("forged", 5)
			op.Chain = false
			if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{op}}); err != nil {
				t.Fatal(err)
			}
		}, 0, "not in the chain"},
		{"the tail cut, the head moved back", func(t *testing.T, s *Store) {
			// A copy restored from before events 26 to 30, or an append-only file cut there.
			s.rdb.ZRemRangeByScore(ctx, s.chainKey(), "26", "30")
			for i := 25; i < tamperEvents; i++ {
				id := fmt.Sprintf("ae-%02d", i)
				s.rdb.Del(ctx, s.currentKey("AuditEvent", id), s.versionsKey("AuditEvent", id))
				s.rdb.ZRem(ctx, s.idsKey("AuditEvent"), id)
			}
			m := []byte(linkMember(t, s, 25))
			link, err := codec.DecodeChainLink(binary.BigEndian.Uint64(m[:8]), m[8:])
			if err != nil {
				t.Fatal(err)
			}
			s.rdb.Set(ctx, s.chainHeadKey(), codec.EncodeChainHead(25, link.Hash), 0)
		}, 26, "cut off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cps, key := chainedStore(t)
			tc.tamper(t, s)
			rep, err := audit.Verify(ctx, s, cps, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.seq == 0 && tc.reason == "" {
				if rep.Broken != nil {
					t.Fatalf("an untouched store is reported broken: %s", rep.Broken)
				}
				return
			}
			if rep.Broken == nil {
				t.Fatalf("the tampering went unnoticed (%d records)", rep.Chain.Records)
			}
			t.Logf("Verify: %s", rep.Broken)
			if tc.seq != 0 && rep.Broken.Seq != tc.seq {
				t.Errorf("the first bad position named is %d, want %d", rep.Broken.Seq, tc.seq)
			}
			if !strings.Contains(rep.Broken.Reason, tc.reason) {
				t.Errorf("the reason %q does not say %q", rep.Broken.Reason, tc.reason)
			}
		})
	}
}
