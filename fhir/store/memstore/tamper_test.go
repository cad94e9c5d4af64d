package memstore

// The audit trail of an in-memory store against signed checkpoints (audit.Verify, which walks the chain
// with store.VerifyChain), tampered with in the engine's own data, as the other engines' tests tamper
// with Pebble keys and Redis keys: the hash chain names what was altered, removed, inserted or moved; the
// checkpoints name what was cut off the end. (There are no files to damage: the store has none.)

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"fhirgate/audit"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/storetest/tampertest"
)

// chainedStore writes tampertest.Events chained events, with a Patient in each commit, and signs
// checkpoints of positions 10, 20 and 30.
func chainedStore(t *testing.T) (*Store, []audit.Checkpoint, string) {
	t.Helper()
	s := New(Config{})
	t.Cleanup(func() { s.Close() })
	tampertest.Build(t, s, func(i int) []store.Op { return []store.Op{put("Patient", fmt.Sprint("p", i), "")} })
	cps, key := tampertest.Sign(t, s, 10, 20, 30)
	return s, cps, key
}

// removeEvent takes an event out of the store: its versions and its place among the ids.
func removeEvent(s *Store, id string) {
	delete(s.resources, ref{"AuditEvent", id})
	s.ids["AuditEvent"] = s.ids["AuditEvent"].remove(id)
}

func TestCheckpointsCatchTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, s *Store)
		seq    uint64 // the first bad position Verify must name (0: any)
		reason string // what its reason says ("" and seq 0: the trail holds)
	}{
		{"untouched", func(*testing.T, *Store) {}, 0, ""},
		{"one byte flipped in an event", func(t *testing.T, s *Store) {
			v := s.resources[ref{"AuditEvent", "ae-06"}].current()
			i := strings.Index(string(v.Body), `"outcome":"0"`)
			if i < 0 {
				t.Fatalf("no outcome in %s", v.Body)
			}
			v.Body[i+len(`"outcome":"`)] = '4'
		}, 7, "altered"},
		{"one byte flipped in a link", func(t *testing.T, s *Store) {
			s.chain[14].Hash[31] ^= 1
		}, 15, ""},
		{"a link removed in the middle", func(t *testing.T, s *Store) {
			s.chain = slices.Delete(s.chain, 11, 12)
		}, 12, "removed"},
		{"an event removed in the middle", func(t *testing.T, s *Store) {
			removeEvent(s, "ae-11")
		}, 12, "removed"},
		{"a pair reordered", func(t *testing.T, s *Store) {
			s.chain[3], s.chain[4] = s.chain[4], s.chain[3]
			s.chain[3].Seq, s.chain[4].Seq = 4, 5
		}, 4, "reordered"},
		{"an event inserted", func(t *testing.T, s *Store) {
			tampertest.Forge(t, s, "forged")
		}, 0, "not in the chain"},
		{"an event spliced into the chain", func(t *testing.T, s *Store) {
			// A forged event with a correct link at position 10, the later links moved one up.
			v := tampertest.Forge(t, s, "spliced")
			prev := s.chain[8]
			link := store.ChainRecord{Seq: 10, Type: "AuditEvent", ID: "spliced", VersionID: 1, Prev: prev.Hash,
				Hash: store.ChainHash(prev.Hash, v.Body)}
			s.chain = slices.Insert(s.chain, 9, link)
			for i := 10; i < len(s.chain); i++ {
				s.chain[i].Seq++
			}
		}, 10, "inserted"},
		{"the head altered", func(t *testing.T, s *Store) {
			s.state.ChainHash[5] ^= 1
		}, 0, "hash"},
		{"the tail cut, the head moved back", func(t *testing.T, s *Store) {
			// Events 26 to 30 and their links gone, the head at link 25: a chain as consistent as a
			// shorter one; only the checkpoint of position 30 shows what went.
			for i := 25; i < tampertest.Events; i++ {
				removeEvent(s, fmt.Sprintf("ae-%02d", i))
			}
			s.chain = s.chain[:25]
			s.state.ChainSeq, s.state.ChainHash = 25, s.chain[24].Hash
		}, 26, "cut off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The store has no goroutines of its own: nothing else touches its data while the test alters it.
			s, cps, key := chainedStore(t)
			tc.tamper(t, s)
			tampertest.Expect(t, s, cps, key, tampertest.Events, tc.seq, tc.reason)
		})
	}
}
