// Package storetest is the conformance suite of the storage contract (package store). Every engine runs
// it against a real instance of itself:
//
//	func TestContract(t *testing.T) { storetest.Run(t, func(t *testing.T) store.Store { ... }) }
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// Factory returns a new, empty store for one test. The suite closes it.
type Factory func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"UpdateKeepsEveryVersion", testUpdateKeepsVersions},
		{"IfMatch", testIfMatch},
		{"IfNoneExist", testIfNoneExist},
		{"DeleteAndResurrect", testDeleteAndResurrect},
		{"TransactionIsAtomic", testTransactionAtomic},
		{"DuplicateInTransaction", testDuplicateInTransaction},
		{"CheckAbortsTransaction", testCheckAborts},
		{"CheckIsSerializable", testCheckSerializable},
		{"ChangesCountWrites", testChanges},
		{"HistoryLevelsAndPaging", testHistory},
		{"HistorySince", testHistorySince},
		{"ConcurrentIfMatchOneWins", testConcurrentIfMatch},
		{"ConcurrentWritersAllLand", testConcurrentWriters},
		{"NotFound", testNotFound},
		{"BatchReads", testBatchReads},
		{"IndexFollowsTheCurrentVersion", testIndex},
		{"IndexScanRangesAndOrder", testIndexScan},
		{"ScanIDsSkipsDeleted", testScanIDs},
		{"AuditChain", testAuditChain},
		{"AuditChainUnderConcurrency", testAuditChainConcurrent},
		{"ChainedReadsAtOnce", testChainedReadsAtOnce},
		{"Records", testRecords},
		{"RecordSwapIsAtomic", testRecordSwapRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func body(typ, id string, extra string) []byte {
	b := fmt.Sprintf(`{"resourceType":%q,"id":%q`, typ, id)
	if extra != "" {
		b += "," + extra
	}
	return []byte(b + "}")
}

func put(typ, id, extra string) store.Op {
	return store.Op{Type: typ, ID: id, Body: body(typ, id, extra), Method: "PUT"}
}

func commit(t *testing.T, s store.Store, ops ...store.Op) []*store.Version {
	t.Helper()
	vs, err := s.Commit(context.Background(), &store.Tx{Ops: ops})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if len(vs) != len(ops) {
		t.Fatalf("commit returned %d versions for %d ops", len(vs), len(ops))
	}
	return vs
}

func meta(t *testing.T, b []byte) (string, string) {
	t.Helper()
	var r struct {
		ID   string `json:"id"`
		Meta struct {
			VersionID   string `json:"versionId"`
			LastUpdated string `json:"lastUpdated"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("stored body is not JSON: %v: %s", err, b)
	}
	return r.Meta.VersionID, r.Meta.LastUpdated
}

func testCreateAndRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := store.Op{Type: "Patient", ID: "p1", Method: "POST", IfNoneExist: true,
		Body: []byte(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"77","profile":["http://x/p"]},"birthDate":"1970-01-01","multipleBirthInteger":2}`)}
	vs := commit(t, s, op)
	v := vs[0]
	if v.VersionID != 1 || v.Deleted || v.Seq == 0 || v.Method != "POST" || v.LastUpdated.IsZero() || !v.Created {
		t.Fatalf("version = %+v", v)
	}
	got, err := s.Read(ctx, "Patient", "p1")
	if err != nil {
		t.Fatal(err)
	}
	vid, lu := meta(t, got.Body)
	if vid != "1" || lu != fhir.FormatInstant(v.LastUpdated) {
		t.Fatalf("meta = %q %q, want 1 %q", vid, lu, fhir.FormatInstant(v.LastUpdated))
	}
	var m map[string]any
	if err := json.Unmarshal(got.Body, &m); err != nil {
		t.Fatal(err)
	}
	if m["birthDate"] != "1970-01-01" || m["multipleBirthInteger"] != float64(2) {
		t.Fatalf("body lost content: %s", got.Body)
	}
	if prof := m["meta"].(map[string]any)["profile"]; prof == nil {
		t.Fatalf("meta.profile dropped: %s", got.Body)
	}
	if string(got.Body) != string(v.Body) {
		t.Fatalf("read body differs from committed body:\n%s\n%s", got.Body, v.Body)
	}
	one, err := s.ReadVersion(ctx, "Patient", "p1", 1)
	if err != nil || string(one.Body) != string(got.Body) {
		t.Fatalf("ReadVersion = %v, %v", one, err)
	}
}

func testUpdateKeepsVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		vs := commit(t, s, put("Observation", "o1", fmt.Sprintf(`"status":"final","valueInteger":%d`, i)))
		if vs[0].VersionID != uint64(i) || vs[0].Created != (i == 1) {
			t.Fatalf("update %d got version %d", i, vs[0].VersionID)
		}
	}
	for i := 1; i <= 3; i++ {
		v, err := s.ReadVersion(ctx, "Observation", "o1", uint64(i))
		if err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		var m map[string]any
		if err := json.Unmarshal(v.Body, &m); err != nil {
			t.Fatal(err)
		}
		if m["valueInteger"] != float64(i) {
			t.Fatalf("version %d holds %v", i, m["valueInteger"])
		}
	}
	cur, _ := s.Read(ctx, "Observation", "o1")
	if cur.VersionID != 3 {
		t.Fatalf("current = %d", cur.VersionID)
	}
	h, err := s.History(ctx, store.HistoryQuery{Type: "Observation", ID: "o1"})
	if err != nil || len(h) != 3 || h[0].VersionID != 3 || h[2].VersionID != 1 {
		t.Fatalf("history = %v, %v", versions(h), err)
	}
}

func versions(vs []*store.Version) []string {
	var out []string
	for _, v := range vs {
		if v == nil {
			out = append(out, "nil")
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d(seq %d)", v.Ref(), v.VersionID, v.Seq))
	}
	return out
}

func testIfMatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	commit(t, s, put("Patient", "a", ""))
	op := put("Patient", "a", `"active":true`)
	op.IfMatch = 1
	commit(t, s, op)
	_, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{op}}) // version is 2 now
	if fhir.KindOf(err) != fhir.KindPreconditionFailed {
		t.Fatalf("stale If-Match: err = %v, want precondition failed", err)
	}
	missing := put("Patient", "nobody", "")
	missing.IfMatch = 1
	if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{missing}}); fhir.KindOf(err) != fhir.KindPreconditionFailed {
		t.Fatalf("If-Match on a missing resource: err = %v", err)
	}
	if _, err := s.Read(ctx, "Patient", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed If-Match created the resource: %v", err)
	}
}

func testIfNoneExist(t *testing.T, s store.Store) {
	op := put("Patient", "x", "")
	op.IfNoneExist = true
	commit(t, s, op)
	_, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{op}})
	if fhir.KindOf(err) != fhir.KindConflict {
		t.Fatalf("second create: err = %v, want conflict", err)
	}
}

func testDeleteAndResurrect(t *testing.T, s store.Store) {
	ctx := context.Background()
	commit(t, s, put("Patient", "d", ""))
	vs := commit(t, s, store.Op{Type: "Patient", ID: "d", Delete: true})
	if vs[0] == nil || !vs[0].Deleted || vs[0].VersionID != 2 || vs[0].Method != "DELETE" {
		t.Fatalf("delete version = %+v", vs[0])
	}
	cur, err := s.Read(ctx, "Patient", "d")
	if err != nil || !cur.Deleted || cur.Body != nil {
		t.Fatalf("read after delete = %+v, %v", cur, err)
	}
	again := commit(t, s, store.Op{Type: "Patient", ID: "d", Delete: true})
	if again[0] != nil {
		t.Fatalf("deleting a deleted resource wrote %+v", again[0])
	}
	absent := commit(t, s, store.Op{Type: "Patient", ID: "never", Delete: true})
	if absent[0] != nil {
		t.Fatalf("deleting an absent resource wrote %+v", absent[0])
	}
	back := commit(t, s, put("Patient", "d", `"active":true`))
	if back[0].VersionID != 3 || back[0].Deleted || !back[0].Created {
		t.Fatalf("resurrection = %+v", back[0])
	}
	h, _ := s.History(ctx, store.HistoryQuery{Type: "Patient", ID: "d"})
	if len(h) != 3 || !h[1].Deleted || !h[0].Created || h[1].Created || !h[2].Created {
		t.Fatalf("history keeps the deletion: %v", versions(h))
	}
}

func testTransactionAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	commit(t, s, put("Patient", "t1", ""))
	bad := put("Patient", "t1", `"active":false`)
	bad.IfMatch = 9
	_, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{put("Patient", "t2", ""), put("Observation", "t3", ""), bad}})
	if fhir.KindOf(err) != fhir.KindPreconditionFailed {
		t.Fatalf("err = %v", err)
	}
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Expression != "Tx.op[2]" {
		t.Fatalf("error names %q, want Tx.op[2]", fe.Expression)
	}
	for _, ref := range [][2]string{{"Patient", "t2"}, {"Observation", "t3"}} {
		if _, err := s.Read(ctx, ref[0], ref[1]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s/%s written by a failed transaction (%v)", ref[0], ref[1], err)
		}
	}
	if h, _ := s.History(ctx, store.HistoryQuery{}); len(h) != 1 {
		t.Fatalf("system history after failed tx: %v", versions(h))
	}
	vs := commit(t, s, put("Patient", "t2", ""), put("Observation", "t3", ""))
	if vs[0].LastUpdated != vs[1].LastUpdated || vs[1].Seq != vs[0].Seq+1 {
		t.Fatalf("one transaction, one instant, consecutive seqs: %+v %+v", vs[0], vs[1])
	}
}

func testDuplicateInTransaction(t *testing.T, s store.Store) {
	_, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{put("Patient", "dup", ""), put("Patient", "dup", "")}})
	if err == nil {
		t.Fatal("two writes of one resource in a transaction were accepted")
	}
}

func testCheckAborts(t *testing.T, s store.Store) {
	ctx := context.Background()
	refuse := errors.New("refused")
	_, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{put("Patient", "c", "")}, Check: func(ctx context.Context) error {
		return refuse
	}})
	if !errors.Is(err, refuse) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Read(ctx, "Patient", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a transaction whose check failed was written")
	}
	// A check sees earlier commits.
	commit(t, s, put("Patient", "seen", ""))
	var saw bool
	commit2 := &store.Tx{Ops: []store.Op{put("Patient", "c", "")}, Check: func(ctx context.Context) error {
		_, err := s.Read(ctx, "Patient", "seen")
		saw = err == nil
		return nil
	}}
	if _, err := s.Commit(ctx, commit2); err != nil || !saw {
		t.Fatalf("check did not see an earlier commit (err %v)", err)
	}
}

// testCheckSerializable: concurrent conditional creates (a check that nothing matches, then a create)
// leave exactly one resource, as If-None-Exist requires.
func testCheckSerializable(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var created atomic.Int32
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			_, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{put("Patient", fmt.Sprintf("only-%d", w), "")},
				Check: func(ctx context.Context) error {
					n := 0
					if err := s.ScanIDs(ctx, "Patient", func(string) bool { n++; return true }); err != nil {
						return err
					}
					if n > 0 {
						return errExists
					}
					return nil
				}})
			if err == nil {
				created.Add(1)
			} else if !errors.Is(err, errExists) {
				t.Errorf("commit: %v", err)
			}
		})
	}
	wg.Wait()
	n := 0
	if err := s.ScanIDs(ctx, "Patient", func(string) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if created.Load() != 1 || n != 1 {
		t.Fatalf("%d conditional creates succeeded, %d patients exist; want 1", created.Load(), n)
	}
}

var errExists = errors.New("a match exists")

// testChanges: the write count of a type moves with every committed version of that type only.
func testChanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	count := func(typ string) uint64 {
		n, err := s.Changes(ctx, typ)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	c0, p0 := count("Consent"), count("Patient")
	commit(t, s, put("Consent", "k", `"status":"active"`))
	c1 := count("Consent")
	if c1 <= c0 || count("Patient") != p0 {
		t.Fatalf("after a Consent write: Consent %d -> %d, Patient %d -> %d", c0, c1, p0, count("Patient"))
	}
	if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Consent", ID: "k", Body: body("Consent", "k", ""), Method: "PUT", IfMatch: 9}}}); err == nil {
		t.Fatal("a commit whose If-Match does not hold succeeded")
	}
	if count("Consent") != c1 {
		t.Fatal("a refused commit moved the count")
	}
	commit(t, s, store.Op{Type: "Consent", ID: "k", Delete: true})
	if count("Consent") <= c1 {
		t.Fatal("a deletion did not move the count")
	}
}

// testBatchReads: ReadMany and IndexEntriesMany answer like their single forms, in order, with nil for
// what does not exist and the deletion for what was deleted.
func testBatchReads(t *testing.T, s store.Store) {
	ctx := context.Background()
	commit(t, s, store.Op{Type: "Patient", ID: "b1", Method: "PUT", Body: body("Patient", "b1", ""),
		Index: []store.IndexEntry{{Param: "name", Value: []byte("ann")}}})
	commit(t, s, store.Op{Type: "Patient", ID: "b2", Method: "PUT", Body: body("Patient", "b2", ""),
		Index: []store.IndexEntry{{Param: "name", Value: []byte("bob")}, {Param: "gender", Value: []byte("m")}}})
	commit(t, s, store.Op{Type: "Patient", ID: "b2", Method: "PUT", Body: body("Patient", "b2", `"active":true`),
		Index: []store.IndexEntry{{Param: "name", Value: []byte("bob")}}})
	commit(t, s, put("Patient", "b3", ""))
	commit(t, s, store.Op{Type: "Patient", ID: "b3", Delete: true})
	ids := []string{"b2", "nope", "b1", "b3"}
	vs, err := s.ReadMany(ctx, "Patient", ids)
	if err != nil || len(vs) != 4 {
		t.Fatalf("ReadMany: %v %v", vs, err)
	}
	if vs[0] == nil || vs[0].ID != "b2" || vs[0].VersionID != 2 || vs[1] != nil || vs[2] == nil || vs[2].ID != "b1" ||
		vs[3] == nil || !vs[3].Deleted {
		t.Fatalf("ReadMany = %v", versions(vs))
	}
	es, err := s.IndexEntriesMany(ctx, "Patient", ids)
	if err != nil || len(es) != 4 {
		t.Fatalf("IndexEntriesMany: %v %v", es, err)
	}
	if len(es[0]) != 1 || string(es[0][0].Value) != "bob" || es[1] != nil || len(es[2]) != 1 || len(es[3]) != 0 {
		t.Fatalf("IndexEntriesMany = %v", es)
	}
	if vs, err := s.ReadMany(ctx, "Patient", nil); err != nil || len(vs) != 0 {
		t.Fatal("ReadMany of nothing")
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	commit(t, s, put("Patient", "h1", ""))
	commit(t, s, put("Observation", "h2", ""))
	commit(t, s, put("Patient", "h1", `"active":true`))
	commit(t, s, store.Op{Type: "Observation", ID: "h2", Delete: true})
	commit(t, s, put("Patient", "h3", ""))

	all, err := s.History(ctx, store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Patient/h3/1", "Observation/h2/2", "Patient/h1/2", "Observation/h2/1", "Patient/h1/1"}
	if got := refs(all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("system history = %v, want %v", got, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq >= all[i-1].Seq || all[i].LastUpdated.After(all[i-1].LastUpdated) {
			t.Fatalf("history not newest first at %d: %v", i, versions(all))
		}
	}
	pats, _ := s.History(ctx, store.HistoryQuery{Type: "Patient"})
	if got := refs(pats); fmt.Sprint(got) != "[Patient/h3/1 Patient/h1/2 Patient/h1/1]" {
		t.Fatalf("type history = %v", got)
	}
	// Paging: two at a time, continuing before the last seq seen.
	var paged []string
	var before uint64
	for {
		page, err := s.History(ctx, store.HistoryQuery{Limit: 2, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, refs(page)...)
		before = page[len(page)-1].Seq
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Fatalf("paged history = %v", paged)
	}
	// A page token taken before new writes stays correct after them.
	first, _ := s.History(ctx, store.HistoryQuery{Type: "Patient", Limit: 1})
	commit(t, s, put("Patient", "h4", ""))
	rest, _ := s.History(ctx, store.HistoryQuery{Type: "Patient", Before: first[0].Seq})
	if got := refs(rest); fmt.Sprint(got) != "[Patient/h1/2 Patient/h1/1]" {
		t.Fatalf("second page after a concurrent write = %v", got)
	}
	inst, _ := s.History(ctx, store.HistoryQuery{Type: "Patient", ID: "h1", Before: all[2].Seq})
	if got := refs(inst); fmt.Sprint(got) != "[Patient/h1/1]" {
		t.Fatalf("instance history before seq = %v", got)
	}
}

func refs(vs []*store.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s/%d", v.Ref(), v.VersionID))
	}
	return out
}

func testHistorySince(t *testing.T, s store.Store) {
	ctx := context.Background()
	commit(t, s, put("Patient", "s1", ""))
	time.Sleep(5 * time.Millisecond)
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	commit(t, s, put("Patient", "s2", ""))
	got, err := s.History(ctx, store.HistoryQuery{Since: mid})
	if err != nil || fmt.Sprint(refs(got)) != "[Patient/s2/1]" {
		t.Fatalf("since = %v, %v", refs(got), err)
	}
}

func testConcurrentIfMatch(t *testing.T, s store.Store) {
	commit(t, s, put("Patient", "race", ""))
	const n = 16
	var wins, fails atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			op := put("Patient", "race", fmt.Sprintf(`"gender":"other","id2":%d`, i))
			op.IfMatch = 1
			_, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{op}})
			switch fhir.KindOf(err) {
			case fhir.KindPreconditionFailed:
				fails.Add(1)
			default:
				if err == nil {
					wins.Add(1)
				} else {
					t.Errorf("unexpected error: %v", err)
				}
			}
		}(i)
	}
	wg.Wait()
	if wins.Load() != 1 || fails.Load() != n-1 {
		t.Fatalf("wins=%d fails=%d, want 1 and %d", wins.Load(), fails.Load(), n-1)
	}
	cur, _ := s.Read(context.Background(), "Patient", "race")
	if cur.VersionID != 2 {
		t.Fatalf("version = %d", cur.VersionID)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const n, per = 8, 25
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				op := put("Observation", fmt.Sprintf("w%d-%d", w, i), "")
				if _, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{op}}); err != nil {
					t.Errorf("commit: %v", err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	h, err := s.History(context.Background(), store.HistoryQuery{Type: "Observation"})
	if err != nil || len(h) != n*per {
		t.Fatalf("history has %d versions (%v), want %d", len(h), err, n*per)
	}
	seen := map[uint64]bool{}
	for i, v := range h {
		if seen[v.Seq] {
			t.Fatalf("seq %d used twice", v.Seq)
		}
		seen[v.Seq] = true
		if i > 0 && v.LastUpdated.After(h[i-1].LastUpdated) {
			t.Fatalf("lastUpdated decreases along seq at %d", i)
		}
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Read(ctx, "Patient", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Read: %v", err)
	}
	commit(t, s, put("Patient", "one", ""))
	if _, err := s.ReadVersion(ctx, "Patient", "one", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadVersion: %v", err)
	}
	if h, err := s.History(ctx, store.HistoryQuery{Type: "Patient", ID: "nope"}); err != nil || len(h) != 0 {
		t.Fatalf("history of nothing = %v, %v", h, err)
	}
}

func scan(t *testing.T, s store.Store, typ, param string, lo, hi []byte) []string {
	t.Helper()
	var out []string
	err := s.IndexScan(context.Background(), typ, param, lo, hi, func(v []byte, id string) bool {
		out = append(out, fmt.Sprintf("%q=%s", v, id))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testIndex(t *testing.T, s store.Store) {
	ctx := context.Background()
	op := put("Patient", "ix", "")
	op.Index = []store.IndexEntry{{Param: "family", Value: []byte("pchalmers")}, {Param: "gender", Value: []byte("cmale")}}
	commit(t, s, op)
	if got := scan(t, s, "Patient", "family", []byte("p"), []byte("q")); fmt.Sprint(got) != `["pchalmers"=ix]` {
		t.Fatalf("scan = %v", got)
	}
	// An update replaces the entries in the same commit: no stale hits, no missed hits.
	op.Index = []store.IndexEntry{{Param: "family", Value: []byte("pwindsor")}}
	commit(t, s, op)
	if got := scan(t, s, "Patient", "family", nil, nil); fmt.Sprint(got) != `["pwindsor"=ix]` {
		t.Fatalf("after update, scan = %v", got)
	}
	if got := scan(t, s, "Patient", "gender", nil, nil); len(got) != 0 {
		t.Fatalf("stale entry after update: %v", got)
	}
	entries, err := s.IndexEntries(ctx, "Patient", "ix")
	if err != nil || len(entries) != 1 || entries[0].Param != "family" || string(entries[0].Value) != "pwindsor" {
		t.Fatalf("IndexEntries = %v, %v", entries, err)
	}
	if vals, err := s.IndexValues(ctx, "Patient", "ix", "family"); err != nil || len(vals) != 1 || string(vals[0]) != "pwindsor" {
		t.Fatalf("IndexValues = %q, %v", vals, err)
	}
	if vals, err := s.IndexValues(ctx, "Patient", "ix", "gender"); err != nil || len(vals) != 0 {
		t.Fatalf("IndexValues of a dropped parameter = %q, %v", vals, err)
	}
	// A failed transaction leaves the index as it was.
	bad := put("Patient", "ix", "")
	bad.IfMatch = 1
	bad.Index = []store.IndexEntry{{Param: "family", Value: []byte("pnever")}}
	if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{bad}}); err == nil {
		t.Fatal("stale If-Match accepted")
	}
	if got := scan(t, s, "Patient", "family", nil, nil); fmt.Sprint(got) != `["pwindsor"=ix]` {
		t.Fatalf("after a failed commit, scan = %v", got)
	}
	commit(t, s, store.Op{Type: "Patient", ID: "ix", Delete: true})
	if got := scan(t, s, "Patient", "family", nil, nil); len(got) != 0 {
		t.Fatalf("entries survive the delete: %v", got)
	}
	if entries, _ := s.IndexEntries(ctx, "Patient", "ix"); len(entries) != 0 {
		t.Fatalf("IndexEntries after delete = %v", entries)
	}
}

func testIndexScan(t *testing.T, s store.Store) {
	values := map[string][]byte{
		"a": {'L', 0, 0, 1}, "b": {'L', 0, 1}, "c": {'L', 0xFF}, "d": {'L'}, "e": {'L', 0, 0}, "f": {'M'},
	}
	var ops []store.Op
	for id, v := range values {
		op := put("Observation", id, "")
		op.Index = []store.IndexEntry{{Param: "date", Value: v}, {Param: "other", Value: []byte("L")}}
		ops = append(ops, op)
	}
	commit(t, s, ops...)
	// Byte order of values, whatever zero bytes they hold; ties by id.
	got := scan(t, s, "Observation", "date", nil, nil)
	want := []string{`"L"=d`, `"L\x00\x00"=e`, `"L\x00\x00\x01"=a`, `"L\x00\x01"=b`, `"L\xff"=c`, `"M"=f`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scan order\n got %v\nwant %v", got, want)
	}
	got = scan(t, s, "Observation", "date", []byte{'L', 0, 0}, []byte{'L', 0xFF})
	if fmt.Sprint(got) != fmt.Sprint(want[1:4]) {
		t.Fatalf("range scan = %v, want %v", got, want[1:4])
	}
	if got := scan(t, s, "Observation", "other", []byte("L"), []byte("L\x00")); len(got) != 6 {
		t.Fatalf("equal values of several resources: %v", got)
	}
	n := 0
	if err := s.IndexScan(context.Background(), "Observation", "date", nil, nil, func([]byte, string) bool { n++; return n < 2 }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("scan did not stop when asked (%d calls)", n)
	}
	e, _ := s.IndexEntries(context.Background(), "Observation", "a")
	if len(e) != 2 {
		t.Fatalf("IndexEntries = %v", e)
	}
	for _, x := range e {
		if x.Param == "date" && string(x.Value) != string(values["a"]) {
			t.Fatalf("value with zero bytes read back as %q", x.Value)
		}
	}
}

func testScanIDs(t *testing.T, s store.Store) {
	commit(t, s, put("Patient", "b", ""), put("Patient", "a", ""), put("Patient", "c", ""), put("Observation", "a", ""))
	commit(t, s, store.Op{Type: "Patient", ID: "b", Delete: true})
	var ids []string
	if err := s.ScanIDs(context.Background(), "Patient", func(id string) bool { ids = append(ids, id); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[a c]" {
		t.Fatalf("ScanIDs = %v", ids)
	}
}

func event(i int) store.Op {
	id := fmt.Sprintf("ev%d", i)
	return store.Op{Type: "AuditEvent", ID: id, Method: "POST", IfNoneExist: true, Chain: true,
		Body: body("AuditEvent", id, fmt.Sprintf(`"recorded":"2026-01-01T00:00:%02dZ"`, i%60))}
}

func testAuditChain(t *testing.T, s store.Store) {
	ctx := context.Background()
	seq, head, err := s.ChainHead(ctx)
	if err != nil || seq != 0 || head != ([32]byte{}) {
		t.Fatalf("empty chain head = %d %x %v", seq, head, err)
	}
	var vs []*store.Version
	for i := 1; i <= 5; i++ {
		vs = append(vs, commit(t, s, event(i), put("Patient", fmt.Sprintf("p%d", i), ""))[0])
	}
	var prev [32]byte
	n := 0
	err = s.ChainRecords(ctx, func(r store.ChainRecord) bool {
		n++
		if r.Seq != uint64(n) || r.Prev != prev || r.Hash != store.ChainHash(prev, vs[n-1].Body) || r.ID != vs[n-1].ID {
			t.Fatalf("link %d = %+v", n, r)
		}
		prev = r.Hash
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("%d links, want 5 (only chained ops join the chain)", n)
	}
	seq, head, _ = s.ChainHead(ctx)
	if seq != 5 || head != prev {
		t.Fatalf("head = %d %x", seq, head)
	}
	if r, err := s.ChainLink(ctx, 3); err != nil || r.Seq != 3 || r.ID != vs[2].ID {
		t.Fatalf("link 3 = %+v, %v", r, err)
	}
	if _, err := s.ChainLink(ctx, 6); err != store.ErrNotFound {
		t.Fatalf("link 6: %v, want ErrNotFound", err)
	}
	rep, err := store.VerifyChain(ctx, s.(store.ChainStore), []string{"AuditEvent"}, nil)
	if err != nil || rep.Broken != nil || rep.Records != 5 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	// Audit events are written once: an update or delete of a chained resource is refused.
	again := event(1)
	again.IfNoneExist = false
	if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{again}}); err == nil {
		t.Fatal("a chained resource was rewritten")
	}
	// Also by writers that do not chain: a plain update or a delete.
	for _, op := range []store.Op{put("AuditEvent", "ev1", ""), {Type: "AuditEvent", ID: "ev1", Delete: true, Method: "DELETE"}} {
		_, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{op}})
		if fhir.KindOf(err) != fhir.KindNotAllowed {
			t.Fatalf("%s of a chained resource: %v, want KindNotAllowed", op.Method, err)
		}
	}
	if v, err := s.Read(ctx, "AuditEvent", "ev1"); err != nil || v.VersionID != 1 || v.Deleted || !v.Chained || !bytes.Equal(v.Body, vs[0].Body) {
		t.Fatalf("after refused writes, AuditEvent/ev1 = %+v, %v", v, err)
	}
	// A failed transaction leaves the chain as it was.
	bad := put("Patient", "p1", "")
	bad.IfMatch = 7
	if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{event(6), bad}}); err == nil {
		t.Fatal("stale If-Match accepted")
	}
	if seq, _, _ := s.ChainHead(ctx); seq != 5 {
		t.Fatalf("a failed transaction moved the chain head to %d", seq)
	}
	commit(t, s, event(6))
	if rep, _ := store.VerifyChain(ctx, s.(store.ChainStore), []string{"AuditEvent"}, nil); rep.Broken != nil || rep.Records != 6 {
		t.Fatalf("after a failed transaction: %+v", rep)
	}
}

// testChainedReadsAtOnce: chained resources are in the history and the search index as soon as their
// commit returns (an engine may write those entries later, but no reader may miss them).
func testChainedReadsAtOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	patients := []string{"rPatient/a", "rPatient/b", "rPatient/c"}
	var want []string // history, oldest first
	byPatient := map[string][]string{}
	for i := 0; i < 60; i++ {
		ev := event(i)
		p := patients[i%3]
		ev.Index = []store.IndexEntry{{Param: "patient", Value: []byte(p)}, {Param: "type", Value: []byte("crest")}, {Param: "request", Value: []byte(fmt.Sprint("u", i))}}
		ops := []store.Op{ev}
		if i%7 == 0 {
			ops = append(ops, put("Patient", fmt.Sprint("p", i), ""))
		}
		for _, v := range commit(t, s, ops...) {
			want = append(want, v.Ref())
		}
		byPatient[p] = append(byPatient[p], ev.ID)
		// The event just written is found by a value it alone has, and by its patient.
		if ids := scanIDs(t, s, "AuditEvent", "request", fmt.Sprint("u", i)); fmt.Sprint(ids) != "["+ev.ID+"]" {
			t.Fatalf("event %d: request index gives %v", i, ids)
		}
		if ids := scanIDs(t, s, "AuditEvent", "patient", p); len(ids) != len(byPatient[p]) {
			t.Fatalf("event %d: patient %s index gives %d ids, want %d", i, p, len(ids), len(byPatient[p]))
		}
	}
	if ids := scanIDs(t, s, "AuditEvent", "type", "crest"); len(ids) != 60 {
		t.Fatalf("type index gives %d ids, want 60", len(ids))
	}
	// The history, right after more commits (no index read in between).
	for i := 60; i < 70; i++ {
		for _, v := range commit(t, s, event(i), put("Patient", fmt.Sprint("q", i), "")) {
			want = append(want, v.Ref())
		}
	}
	hist, err := s.History(ctx, store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(hist) - 1; i >= 0; i-- {
		got = append(got, hist[i].Ref())
		if i > 0 && hist[i].Seq >= hist[i-1].Seq {
			t.Fatalf("history out of order at %d", i)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("system history (oldest first) = %v\nwant %v", got, want)
	}
	hist, err = s.History(ctx, store.HistoryQuery{Type: "AuditEvent", Limit: 5})
	if err != nil || len(hist) != 5 || hist[0].ID != "ev69" {
		t.Fatalf("newest AuditEvents = %d, %v", len(hist), err)
	}
}

func scanIDs(t *testing.T, s store.Store, typ, param, value string) []string {
	t.Helper()
	var ids []string
	err := s.IndexScan(context.Background(), typ, param, []byte(value), append([]byte(value), 0), func(_ []byte, id string) bool {
		ids = append(ids, id)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

func testAuditChainConcurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{event(w*100 + i)}}); err != nil {
					t.Errorf("commit: %v", err)
				}
			}
		}(w)
	}
	wg.Wait()
	rep, err := store.VerifyChain(context.Background(), s.(store.ChainStore), []string{"AuditEvent"}, nil)
	if err != nil || rep.Broken != nil || rep.Records != 160 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
}
