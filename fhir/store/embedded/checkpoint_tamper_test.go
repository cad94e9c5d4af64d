package embedded

// The audit trail against signed checkpoints (audit.Verify), on copies of a real store tampered with
// under the engine — in its records, and in its files: the hash chain alone names what was altered,
// removed, inserted or moved; the checkpoints name what was cut off the end, which leaves a chain as
// consistent as before.

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"fhirgate/audit"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
	"fhirgate/fhir/store/storetest/tampertest"
)

const checkpointedEvents = 30

// checkpointedStore is a closed store of chained events with signed checkpoints of its head at events
// 10, 20 and 30.
type checkpointedStore struct {
	*chainFixture
	checkpoints []audit.Checkpoint
	key         string
}

func buildCheckpointedStore(t *testing.T) *checkpointedStore {
	t.Helper()
	c := &checkpointedStore{}
	c.chainFixture = buildChainStoreThen(t, t.TempDir(), checkpointedEvents, 3, func(s *Store, _ *chainFixture) {
		c.checkpoints, c.key = tampertest.Sign(t, s, 10, 20, 30)
	})
	return c
}

// verifyCheckpoints runs audit.Verify on a store.
func (c *checkpointedStore) verify(t *testing.T, s *Store) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), s, c.checkpoints, c.key, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// openFiles copies the fixture's directory, lets tamper change its files, and opens the copy.
func (c *checkpointedStore) openFiles(t *testing.T, tamper func(dir string)) *Store {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, c.dir, dir)
	tamper(dir)
	s, err := Open(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newestLog returns the newest write-ahead log of a store directory.
func newestLog(t *testing.T, dir string) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no write-ahead log in the store")
	}
	sort.Strings(logs)
	return logs[len(logs)-1]
}

func TestCheckpointsCatchTampering(t *testing.T) {
	c := buildCheckpointedStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		open   func(t *testing.T) *Store
		seq    uint64 // the first bad position Verify must name (0: none, the trail holds)
		reason string
	}{
		{"untouched", func(t *testing.T) *Store { return c.openCopy(t) }, 0, ""},
		{"one byte flipped in an event", func(t *testing.T) *Store {
			s := c.openCopy(t)
			id := c.events[6]
			rawSet(t, s, currentKey("AuditEvent", id), flipOutcome(t, rawGet(t, s, currentKey("AuditEvent", id))))
			return s
		}, 7, "altered"},
		{"one byte flipped in a link", func(t *testing.T) *Store {
			s := c.openCopy(t)
			link := rawGet(t, s, chainKey(15))
			link[len(link)-1] ^= 1
			rawSet(t, s, chainKey(15), link)
			return s
		}, 15, ""},
		{"a record removed in the middle", func(t *testing.T) *Store {
			s := c.openCopy(t)
			rawDelete(t, s, chainKey(12))
			return s
		}, 12, "removed"},
		{"an event removed in the middle", func(t *testing.T) *Store {
			s := c.openCopy(t)
			rawDelete(t, s, versionKey("AuditEvent", c.events[11], 1))
			rawDelete(t, s, currentKey("AuditEvent", c.events[11]))
			return s
		}, 12, "removed"},
		{"a pair reordered", func(t *testing.T) *Store {
			s := c.openCopy(t)
			a, b := rawGet(t, s, chainKey(4)), rawGet(t, s, chainKey(5))
			rawSet(t, s, chainKey(4), b)
			rawSet(t, s, chainKey(5), a)
			return s
		}, 4, "reordered"},
		{"an event inserted", func(t *testing.T) *Store {
			s := c.openCopy(t)
			if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: "forged", Method: "POST", IfNoneExist: true,
				Body: auditEventBody("forged", 5, "Patient/pat-alice")}}}); err != nil {
				t.Fatal(err)
			}
			return s
		}, 0, "not in the chain"},
		{"an event spliced into the chain", func(t *testing.T) *Store {
			// A forged event with a correct link at position 10, the later links moved one up.
			s := c.openCopy(t)
			if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: "spliced", Method: "POST", IfNoneExist: true,
				Body: auditEventBody("spliced", 5, "Patient/pat-alice")}}}); err != nil {
				t.Fatal(err)
			}
			stored, err := s.ReadVersion(ctx, "AuditEvent", "spliced", 1)
			if err != nil {
				t.Fatal(err)
			}
			for seq := uint64(checkpointedEvents); seq >= 10; seq-- {
				rawSet(t, s, chainKey(seq+1), rawGet(t, s, chainKey(seq)))
			}
			prev, err := decodeChainLink(chainKey(9), rawGet(t, s, chainKey(9)))
			if err != nil {
				t.Fatal(err)
			}
			rawSet(t, s, chainKey(10), codec.EncodeChainLink(store.ChainRecord{Seq: 10, Type: "AuditEvent", ID: "spliced", VersionID: 1,
				Prev: prev.Hash, Hash: store.ChainHash(prev.Hash, stored.Body)}))
			return s
		}, 10, "inserted"},
		{"the tail cut, the head moved back", func(t *testing.T) *Store {
			// Events 26 to 30 and their links removed, the head rewritten to link 25: a chain as consistent
			// as a shorter one. Only the checkpoint of position 30 shows what went.
			s := c.openCopy(t)
			for seq := uint64(26); seq <= checkpointedEvents; seq++ {
				id := c.events[seq-1]
				rawDelete(t, s, chainKey(seq))
				rawDelete(t, s, versionKey("AuditEvent", id, 1))
				rawDelete(t, s, currentKey("AuditEvent", id))
			}
			prev, err := decodeChainLink(chainKey(25), rawGet(t, s, chainKey(25)))
			if err != nil {
				t.Fatal(err)
			}
			rawSet(t, s, keyChainHead, append(binary.BigEndian.AppendUint64(nil, 25), prev.Hash[:]...))
			return s
		}, 26, "cut off"},
		{"the newest log file deleted", func(t *testing.T) *Store {
			return c.openFiles(t, func(dir string) {
				if err := os.Remove(newestLog(t, dir)); err != nil {
					t.Fatal(err)
				}
			})
		}, 0, "cut off"},
		{"the log's tail truncated", func(t *testing.T) *Store {
			s := c.openFiles(t, func(dir string) {
				log := newestLog(t, dir)
				info, err := os.Stat(log)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(log, info.Size()*2/3); err != nil {
					t.Fatal(err)
				}
			})
			if seq, _, _ := s.ChainHead(ctx); seq >= checkpointedEvents {
				t.Fatalf("the truncation lost no event (head %d)", seq)
			}
			return s
		}, 0, "cut off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			// Without the checkpoints, a cut tail goes unnoticed: the chain that remains is consistent.
			rep := c.verify(t, s)
			if tc.seq == 0 && tc.reason == "" {
				if rep.Broken != nil {
					t.Fatalf("an untouched store is reported broken: %s", rep.Broken)
				}
				return
			}
			if rep.Broken == nil {
				t.Fatalf("the tampering went unnoticed (%d records, %d checkpoints)", rep.Chain.Records, rep.Checkpoints)
			}
			t.Logf("Verify: %s", rep.Broken)
			if tc.seq != 0 && rep.Broken.Seq != tc.seq {
				t.Errorf("the first bad position named is %d, want %d (%s)", rep.Broken.Seq, tc.seq, rep.Broken)
			}
			if tc.reason == "cut off" && rep.Chain != nil && rep.Broken.Seq != uint64(rep.Chain.Records)+1 {
				t.Errorf("a cut tail should be named at the first missing position, %d: %s", rep.Chain.Records+1, rep.Broken)
			}
			if !strings.Contains(rep.Broken.Reason, tc.reason) {
				t.Errorf("the reason %q does not say %q", rep.Broken.Reason, tc.reason)
			}
		})
	}
	t.Run("a checkpoint altered", func(t *testing.T) {
		cps := append([]audit.Checkpoint(nil), c.checkpoints...)
		cps[1].Seq = 19
		rep, err := audit.Verify(ctx, c.openCopy(t), cps, c.key, nil)
		if err != nil || rep.Broken == nil || !strings.Contains(rep.Broken.Reason, "signature") {
			t.Fatalf("an altered checkpoint: %v %v", rep, err)
		}
	})
	t.Run("checkpoints of another key", func(t *testing.T) {
		rep, err := audit.Verify(ctx, c.openCopy(t), c.checkpoints, audit.EphemeralSigner().PublicKey(), nil)
		if err != nil || rep.Broken == nil || !strings.Contains(rep.Broken.Reason, "key") {
			t.Fatalf("checkpoints of another key: %v %v", rep, err)
		}
	})
}
