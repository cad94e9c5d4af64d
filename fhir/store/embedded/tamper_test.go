package embedded

// Tamper tests of the audit chain (docs/audit.md §4): a store holding a chain of AuditEvents is closed and
// copied, and the copy is altered under the engine, directly in Pebble, the way someone with access to
// the disk would; store.VerifyChain must then report the first record that was altered, removed,
// inserted or reordered, naming it (position and AuditEvent/<id>/_history/1) and saying what happened.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
	"fhirgate/fhir/store/storetest/tampertest"
)

// auditEventBody is an AuditEvent as the gateway writes one (abridged), about a patient.
func auditEventBody(id string, n int, patient string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q,`+
		`"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},`+
		`"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R",`+
		`"recorded":"2026-01-01T00:00:%02d.%03dZ","outcome":"0",`+
		`"agent":[{"who":{"reference":"Practitioner/prac-house"},"requestor":true}],"source":{"observer":{"reference":"Device/fhirgate"}},`+
		`"entity":[{"what":{"reference":%q}},{"what":{"reference":"Observation/obs-%d/_history/1"}}]}`, id, n/1000%60, n%1000, patient, n))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// chainFixture is a closed store directory with a chain of AuditEvents.
type chainFixture struct {
	dir    string
	events []string // AuditEvent ids, in chain order (event i is link i+1)
	head   [32]byte
}

// buildChainStore writes n AuditEvents in commits of up to perCommit events each, as audit.StoreSink
// does (POST, IfNoneExist, Chain), with other resources written between the commits, and closes the store.
func buildChainStore(tb testing.TB, dir string, n, perCommit int) *chainFixture {
	tb.Helper()
	return buildChainStoreThen(tb, dir, n, perCommit, nil)
}

// buildChainStoreThen is buildChainStore, calling last (when set) on the open store before it closes
// (the newest writes are then still in the write-ahead log only).
func buildChainStoreThen(tb testing.TB, dir string, n, perCommit int, last func(s *Store, f *chainFixture)) *chainFixture {
	tb.Helper()
	s, err := Open(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	f := &chainFixture{dir: dir}
	for i := 0; i < n; {
		var ops []store.Op
		for j := 0; j < perCommit && i < n; j, i = j+1, i+1 {
			id := fmt.Sprintf("ae-%06d", i)
			patient := []string{"Patient/pat-alice", "Patient/pat-bob", "Patient/pat-chloe"}[i%3]
			ops = append(ops, store.Op{Type: "AuditEvent", ID: id, Body: auditEventBody(id, i, patient), Method: "POST",
				IfNoneExist: true, Chain: true,
				Index: []store.IndexEntry{{Param: "patient", Value: []byte("r" + patient)}}})
			f.events = append(f.events, id)
		}
		// Something else between audit commits: an Observation write (not chained).
		obs := fmt.Sprintf(`{"resourceType":"Observation","id":"obs-%d","status":"final","code":{"text":"x"}}`, i)
		if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Observation", ID: fmt.Sprintf("obs-%d", i), Body: []byte(obs), Method: "PUT"}}}); err != nil {
			tb.Fatal(err)
		}
		if _, err := s.Commit(ctx, &store.Tx{Ops: ops}); err != nil {
			tb.Fatal(err)
		}
	}
	_, f.head, err = s.ChainHead(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if last != nil {
		last(s, f)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return f
}

// copyDir copies a closed store directory.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// openCopy copies the fixture's directory and opens the copy.
func (f *chainFixture) openCopy(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, f.dir, dir)
	s, err := Open(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (f *chainFixture) ref(i int) string { return "AuditEvent/" + f.events[i] + "/_history/1" }

// raw access to the copy, under the engine.
func rawGet(t *testing.T, s *Store, key []byte) []byte {
	t.Helper()
	v, ok, err := s.get(key)
	if err != nil || !ok {
		t.Fatalf("key %q: found %v, %v", key, ok, err)
	}
	return v
}

func rawSet(t *testing.T, s *Store, key, val []byte) {
	t.Helper()
	if err := s.db.Set(key, val, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func rawDelete(t *testing.T, s *Store, key []byte) {
	t.Helper()
	if err := s.db.Delete(key, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// flipOutcome rewrites a stored record so that its body says "outcome":"4" (tampertest.FlipOutcome).
func flipOutcome(t *testing.T, rec []byte) []byte { return tampertest.FlipOutcome(t, rec) }

func verify(t *testing.T, s *Store) *store.ChainReport {
	t.Helper()
	rep, err := store.VerifyChain(context.Background(), s, []string{"AuditEvent"}, nil)
	if err != nil {
		t.Fatalf("VerifyChain: %v", err)
	}
	return rep
}

// wantBroken checks the report names the record (seq 0: any position) and gives a reason containing
// every one of words.
func wantBroken(t *testing.T, rep *store.ChainReport, seq uint64, ref string, words ...string) {
	t.Helper()
	if rep.Broken == nil {
		t.Fatalf("VerifyChain says the chain is intact (%d records): the tampering went unnoticed", rep.Records)
	}
	t.Logf("VerifyChain: %s", rep.Broken)
	b := rep.Broken
	if seq != 0 && b.Seq != seq {
		t.Errorf("Broken names position %d, want %d (%s)", b.Seq, seq, b)
	}
	if b.Ref != ref {
		t.Errorf("Broken names %q, want %q (%s)", b.Ref, ref, b)
	}
	for _, w := range words {
		if !strings.Contains(b.Reason, w) {
			t.Errorf("Broken reason %q does not say %q", b.Reason, w)
		}
	}
}

const tamperEvents = 20

func TestChainTamper(t *testing.T) {
	f := buildChainStore(t, t.TempDir(), tamperEvents, 3)
	ctx := context.Background()

	t.Run("untouched copy is intact", func(t *testing.T) {
		s := f.openCopy(t)
		rep := verify(t, s)
		if rep.Broken != nil {
			t.Fatalf("an untouched copy is reported broken: %s", rep.Broken)
		}
		if rep.Records != tamperEvents || rep.Head != f.head {
			t.Fatalf("%d records, head %x; want %d, %x", rep.Records, rep.Head, tamperEvents, f.head)
		}
		// New events append to the chain of the copy, which still verifies.
		if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: "ae-new", Method: "POST", IfNoneExist: true, Chain: true,
			Body: auditEventBody("ae-new", 999, "Patient/pat-alice")}}}); err != nil {
			t.Fatal(err)
		}
		if rep := verify(t, s); rep.Broken != nil || rep.Records != tamperEvents+1 {
			t.Fatalf("after one more event: %d records, broken %v", rep.Records, rep.Broken)
		}
	})

	t.Run("cut one event's stored record short", func(t *testing.T) {
		// A naive edit of the stored bytes (the body is compressed, ADR 0008) leaves a record that no longer
		// decodes: the chain names it as altered, where a read refuses it.
		s := f.openCopy(t)
		k := 7
		id := f.events[k]
		rec := rawGet(t, s, currentKey("AuditEvent", id))
		rawSet(t, s, currentKey("AuditEvent", id), rec[:len(rec)-10])
		if _, err := s.Read(ctx, "AuditEvent", id); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("read of a cut record: %v", err)
		}
		wantBroken(t, verify(t, s), uint64(k+1), f.ref(k), "can no longer be read")
	})

	t.Run("edit one event", func(t *testing.T) {
		// An event is stored once, under its current key (a body moves to its version key only when a
		// newer version supersedes it, which never happens to an AuditEvent).
		s := f.openCopy(t)
		k := 7 // the 8th event
		id := f.events[k]
		if _, ok, _ := s.get(versionKey("AuditEvent", id, 1)); ok {
			t.Fatal("an AuditEvent's body is stored twice")
		}
		rawSet(t, s, currentKey("AuditEvent", id), flipOutcome(t, rawGet(t, s, currentKey("AuditEvent", id))))
		if v, _ := s.Read(ctx, "AuditEvent", id); !bytes.Contains(v.Body, []byte(`"outcome":"4"`)) {
			t.Fatal("the edit did not take")
		}
		wantBroken(t, verify(t, s), uint64(k+1), f.ref(k), "altered")
	})

	t.Run("edit one event, current record only", func(t *testing.T) {
		// The current record (c key) is what a read of AuditEvent/<id> and a search return: a patient or
		// an auditor would be shown the altered event. The chain check must notice it too.
		s := f.openCopy(t)
		k := 7
		id := f.events[k]
		rawSet(t, s, currentKey("AuditEvent", id), flipOutcome(t, rawGet(t, s, currentKey("AuditEvent", id))))
		if v, _ := s.Read(ctx, "AuditEvent", id); !bytes.Contains(v.Body, []byte(`"outcome":"4"`)) {
			t.Fatal("the edit did not take")
		}
		rep := verify(t, s)
		if rep.Broken == nil {
			t.Fatalf("BUG: AuditEvent/%s now reads \"outcome\":\"4\" (its current record was edited on disk), yet VerifyChain reports the chain intact (%d records): it checks only the version records", id, rep.Records)
		}
		wantBroken(t, rep, uint64(k+1), f.ref(k), "altered")
	})

	t.Run("delete one event", func(t *testing.T) {
		s := f.openCopy(t)
		k := 11
		id := f.events[k]
		rawDelete(t, s, versionKey("AuditEvent", id, 1))
		rawDelete(t, s, currentKey("AuditEvent", id))
		wantBroken(t, verify(t, s), uint64(k+1), f.ref(k), "removed")
	})

	t.Run("delete one link", func(t *testing.T) {
		s := f.openCopy(t)
		k := 11
		rawDelete(t, s, chainKey(uint64(k+1)))
		// The walk meets link k+2 where it expected k+1: position k+1 is the first bad one.
		wantBroken(t, verify(t, s), uint64(k+1), f.ref(k+1), "missing", "removed", fmt.Sprint(k+1))
	})

	t.Run("insert an event outside the chain", func(t *testing.T) {
		// Written through the engine without Chain, as a rogue writer would: every key but a link.
		s := f.openCopy(t)
		if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: "forged", Method: "POST", IfNoneExist: true,
			Body:  auditEventBody("forged", 5, "Patient/pat-alice"),
			Index: []store.IndexEntry{{Param: "patient", Value: []byte("rPatient/pat-alice")}}}}}); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, verify(t, s), 0, "AuditEvent/forged/_history/1", "not in the chain", "inserted")
	})

	t.Run("insert an event outside the chain, records and index only", func(t *testing.T) {
		// The version and current records and the patient index entry, but no history entries: the event
		// is read by id and found by AuditEvent?patient=Patient/pat-alice like any other.
		// Written by the engine without Chain, then its two history entries removed.
		s := f.openCopy(t)
		val := []byte("rPatient/pat-alice")
		vs, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: "forged2", Method: "POST", IfNoneExist: true,
			Body: auditEventBody("forged2", 5, "Patient/pat-alice"), Index: []store.IndexEntry{{Param: "patient", Value: val}}}}})
		if err != nil {
			t.Fatal(err)
		}
		rawDelete(t, s, systemKey(vs[0].Seq))
		rawDelete(t, s, typeKey("AuditEvent", vs[0].Seq))
		if _, err := s.Read(ctx, "AuditEvent", "forged2"); err != nil {
			t.Fatal(err)
		}
		found := false
		err = s.IndexScan(ctx, "AuditEvent", "patient", val, append(bytes.Clone(val), 0xFF), func(_ []byte, id string) bool {
			found = found || id == "forged2"
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Fatal("the forged event is not in the patient index")
		}
		rep := verify(t, s)
		if rep.Broken == nil {
			t.Fatalf("BUG: AuditEvent/forged2, readable by id and found by patient search, is not in the chain, yet VerifyChain reports it intact (%d records): it looks for unchained events only in the type history", rep.Records)
		}
		wantBroken(t, rep, 0, "AuditEvent/forged2/_history/1", "not in the chain")
	})

	t.Run("insert a link in the middle", func(t *testing.T) {
		// A forged event spliced in at position k+1 with a correct link (prev = hash of link k), the later
		// links renumbered one up, the head left alone (or moved: the walk fails first either way).
		s := f.openCopy(t)
		k := 9 // insert before the 10th event
		body := auditEventBody("spliced", 5, "Patient/pat-alice")
		if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: "spliced", Method: "POST", IfNoneExist: true, Body: body}}}); err != nil {
			t.Fatal(err)
		}
		stored, err := s.ReadVersion(ctx, "AuditEvent", "spliced", 1)
		if err != nil {
			t.Fatal(err)
		}
		for seq := uint64(tamperEvents); seq >= uint64(k+1); seq-- {
			rawSet(t, s, chainKey(seq+1), rawGet(t, s, chainKey(seq)))
		}
		prev, err := decodeChainLink(chainKey(uint64(k)), rawGet(t, s, chainKey(uint64(k))))
		if err != nil {
			t.Fatal(err)
		}
		link := store.ChainRecord{Seq: uint64(k + 1), Type: "AuditEvent", ID: "spliced", VersionID: 1, Prev: prev.Hash,
			Hash: store.ChainHash(prev.Hash, stored.Body)}
		rawSet(t, s, chainKey(uint64(k+1)), codec.EncodeChainLink(link))
		rep := verify(t, s)
		// The first record that was inserted is the spliced one, at position k+1; the record after it
		// (the original k+1, now k+2) was not touched, only renumbered — and its link, whose prev is the
		// same as the spliced link's, shows which of the two is the intruder.
		if rep.Broken != nil && rep.Broken.Ref != "AuditEvent/spliced/_history/1" {
			t.Errorf("BUG (imprecise): a link spliced in at position %d is reported as %q, which names the untouched record after it, not AuditEvent/spliced/_history/1", k+1, rep.Broken)
		}
		wantBroken(t, rep, uint64(k+1), "AuditEvent/spliced/_history/1", "inserted")
	})

	t.Run("swap two links", func(t *testing.T) {
		s := f.openCopy(t)
		i, j := 4, 13 // positions 5 and 14
		a, b := rawGet(t, s, chainKey(uint64(i+1))), rawGet(t, s, chainKey(uint64(j+1)))
		rawSet(t, s, chainKey(uint64(i+1)), b)
		rawSet(t, s, chainKey(uint64(j+1)), a)
		// Position 5 now holds event 14's link, which does not follow link 4.
		wantBroken(t, verify(t, s), uint64(i+1), f.ref(j), "reordered")
	})

	t.Run("remove the last link, leave the head", func(t *testing.T) {
		s := f.openCopy(t)
		rawDelete(t, s, chainKey(tamperEvents))
		rep := verify(t, s)
		if rep.Broken != nil && rep.Broken.Ref != f.ref(tamperEvents-1) {
			t.Errorf("BUG (imprecise): the last link's removal is reported as %q, not naming the event whose link went, %s (its version is still in the store, outside the chain)", rep.Broken, f.ref(tamperEvents-1))
		}
		wantBroken(t, rep, tamperEvents, f.ref(tamperEvents-1), "removed")
	})

	t.Run("remove the last link, rewrite the head", func(t *testing.T) {
		// A careful truncation: the head moved back to the previous link. The event left outside the
		// chain gives it away.
		s := f.openCopy(t)
		prev, err := decodeChainLink(chainKey(tamperEvents-1), rawGet(t, s, chainKey(tamperEvents-1)))
		if err != nil {
			t.Fatal(err)
		}
		rawDelete(t, s, chainKey(tamperEvents))
		rawSet(t, s, keyChainHead, append(binary.BigEndian.AppendUint64(nil, tamperEvents-1), prev.Hash[:]...))
		wantBroken(t, verify(t, s), 0, f.ref(tamperEvents-1), "not in the chain")
	})

	t.Run("alter the head", func(t *testing.T) {
		s := f.openCopy(t)
		head := rawGet(t, s, keyChainHead)
		head[8+5] ^= 0x01 // one bit of the hash
		rawSet(t, s, keyChainHead, head)
		rep := verify(t, s)
		wantBroken(t, rep, 0, "(end of chain)", "head", "altered")
		// The counts agree: the reason should say that the head's hash is not the last link's, not
		// "says 20 links, the chain has 20 (links removed at the end, ...)".
		if !strings.Contains(rep.Broken.Reason, "hash") {
			t.Errorf("BUG (minor): the reason %q does not say that the head's hash differs from the last link's", rep.Broken.Reason)
		}
	})

	t.Run("alter the head's count", func(t *testing.T) {
		s := f.openCopy(t)
		head := rawGet(t, s, keyChainHead)
		binary.BigEndian.PutUint64(head[:8], tamperEvents+3)
		rawSet(t, s, keyChainHead, head)
		wantBroken(t, verify(t, s), 0, "(end of chain)", "head", fmt.Sprint(tamperEvents+3), fmt.Sprint(tamperEvents))
	})
}

// BenchmarkVerifyChain measures store.VerifyChain over a chain of 50,000 AuditEvents (records/s). The
// store is built once (outside the measurement) and verified b.N times.
func BenchmarkVerifyChain(b *testing.B) {
	const n = 50000
	fix := buildChainStore(b, b.TempDir(), n, 200)
	b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
		s, err := Open(Config{Dir: fix.dir, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rep, err := store.VerifyChain(context.Background(), s, []string{"AuditEvent"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Broken != nil || rep.Records != n {
				b.Fatalf("%d records, broken %v", rep.Records, rep.Broken)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
