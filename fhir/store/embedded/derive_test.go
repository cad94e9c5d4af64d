package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"fhirgate/fhir/store"
)

// TestDerivedAfterCrash: audit events committed but not yet derived when the process dies (their history
// and index entries were still pending) are derived again when the store is opened: found by the
// index, listed in the history, the chain intact, and the sequence continuing after them.
func TestDerivedAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	s.deriveMu.Lock() // the deriver is stuck: every event below stays pending
	var last *store.Version
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("ae-%02d", i)
		ops := []store.Op{{Type: "AuditEvent", ID: id, Method: "POST", IfNoneExist: true, Chain: true,
			Body:  auditEventBody(id, i, "Patient/pat-alice"),
			Index: []store.IndexEntry{{Param: "patient", Value: []byte("rPatient/pat-alice")}, {Param: "entity", Value: []byte("r" + id)}}}}
		if i%10 == 0 {
			ops = append(ops, store.Op{Type: "Patient", ID: fmt.Sprint("p", i), Method: "PUT", Body: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p%d"}`, i))})
		}
		vs, err := s.Commit(ctx, &store.Tx{Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		last = vs[len(vs)-1]
	}
	if n := s.npending.Load(); n != 40 {
		t.Fatalf("%d events pending, want 40", n)
	}
	// What a crash leaves on disk: the synced commits, nothing derived.
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	s.deriveMu.Unlock()
	s.Close()

	r := open(t, crashed)
	defer r.Close()
	if b, _, _ := r.get(keyDerived); binary.BigEndian.Uint64(b) != 40 {
		t.Fatalf("derived position after recovery %d, want 40", binary.BigEndian.Uint64(b))
	}
	var ids []string
	if err := r.IndexScan(ctx, "AuditEvent", "patient", []byte("rPatient/pat-alice"), []byte("rPatient/pat-alice\x00"), func(_ []byte, id string) bool {
		ids = append(ids, id)
		return true
	}); err != nil || len(ids) != 40 {
		t.Fatalf("patient index after recovery: %d ids, %v", len(ids), err)
	}
	hist, err := r.History(ctx, store.HistoryQuery{Type: "AuditEvent"})
	if err != nil || len(hist) != 40 || hist[0].ID != "ae-39" || hist[39].ID != "ae-00" {
		t.Fatalf("AuditEvent history after recovery: %d versions, %v", len(hist), err)
	}
	if rep := verify(t, r); rep.Broken != nil || rep.Records != 40 {
		t.Fatalf("chain after recovery: %d records, broken %v", rep.Records, rep.Broken)
	}
	vs, err := r.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Patient", ID: "after", Method: "PUT", Body: []byte(`{"resourceType":"Patient","id":"after"}`)}}})
	if err != nil || vs[0].Seq != last.Seq+1 {
		t.Fatalf("first commit after recovery has seq %d, want %d (%v)", vs[0].Seq, last.Seq+1, err)
	}
}

// TestDerivedBlocks: a batch of events writes each (parameter, value) once, as one block listing the
// events that have it; a scan gives back every event, in value order.
func TestDerivedBlocks(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	s.deriveMu.Lock()
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("ae-%02d", i)
		patient := []string{"rPatient/a", "rPatient/b", "rPatient/c"}[i%3]
		if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "AuditEvent", ID: id, Method: "POST", IfNoneExist: true, Chain: true,
			Body: auditEventBody(id, i, patient), Index: []store.IndexEntry{{Param: "patient", Value: []byte(patient)}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	s.deriveMu.Unlock()
	var got []string
	if err := s.IndexScan(ctx, "AuditEvent", "patient", []byte("r"), nil, func(v []byte, id string) bool {
		got = append(got, string(v)+" "+id)
		return true
	}); err != nil || len(got) != 30 {
		t.Fatalf("scan: %d entries, %v", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if bytes.Compare([]byte(got[i-1][:10]), []byte(got[i][:10])) > 0 {
			t.Fatalf("entries out of value order: %q before %q", got[i-1], got[i])
		}
	}
	keys := 0
	it, _ := s.db.NewIter(nil)
	prefix := indexParamPrefix("AuditEvent", "patient")
	for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
		keys++
	}
	it.Close()
	if keys != 3 {
		t.Fatalf("30 events of 3 patients wrote %d patient index keys, want 3 blocks", keys)
	}
	// A scan that stops early stops inside a block too.
	n := 0
	if err := s.IndexScan(ctx, "AuditEvent", "patient", []byte("r"), nil, func([]byte, string) bool { n++; return n < 4 }); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("scan asked to stop after 4 went on to %d", n)
	}
}
