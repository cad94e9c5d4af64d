package commit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// mapReader is a Reader over a map of current versions and index lists, counting the lists it is asked for.
type mapReader struct {
	cur     map[string]*store.Version
	entries map[string][]store.IndexEntry
	asked   []string
	looked  []string // the current versions asked for
}

func (r *mapReader) Current(_ int, op *store.Op) (*store.Version, error) {
	r.looked = append(r.looked, op.Type+"/"+op.ID)
	return r.cur[op.Type+"/"+op.ID], nil
}

func (r *mapReader) Entries(_ int, op *store.Op) ([]store.IndexEntry, error) {
	r.asked = append(r.asked, op.Type+"/"+op.ID)
	return r.entries[op.Type+"/"+op.ID], nil
}

func put(typ, id string, index ...string) store.Op {
	op := store.Op{Type: typ, ID: id, Method: "PUT", Body: []byte(fmt.Sprintf(`{"resourceType":%q,"id":%q}`, typ, id))}
	for _, v := range index {
		op.Index = append(op.Index, store.IndexEntry{Param: "p", Value: []byte(v)})
	}
	return op
}

func plan(t *testing.T, p *Planner, st State, r Reader, ops ...store.Op) (*Plan, error) {
	t.Helper()
	tx := &store.Tx{Ops: ops}
	tmpls, err := Begin(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	return p.Plan(context.Background(), tx, tmpls, st, r)
}

func TestPlanNumbersVersionsAndLinks(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123_456_789, time.FixedZone("x", 3600))
	p := &Planner{Now: func() time.Time { return now }}
	st := State{Seq: 41, Clock: now.Add(-time.Hour), ChainSeq: 7, ChainHash: [32]byte{9}}
	old := &store.Version{Type: "Patient", ID: "a", VersionID: 3, Seq: 12}
	r := &mapReader{cur: map[string]*store.Version{"Patient/a": old, "Patient/gone": nil},
		entries: map[string][]store.IndexEntry{"Patient/a": {{Param: "p", Value: []byte("x")}, {Param: "p", Value: []byte("y")}}}}
	ev1 := store.Op{Type: "AuditEvent", ID: "e1", Method: "POST", Chain: true, Body: []byte(`{"resourceType":"AuditEvent","id":"e1"}`)}
	ev2 := store.Op{Type: "AuditEvent", ID: "e2", Method: "POST", Chain: true, Body: []byte(`{"resourceType":"AuditEvent","id":"e2"}`),
		Index: []store.IndexEntry{{Param: "type", Value: []byte("rest")}}}
	pl, err := plan(t, p, st, r, put("Patient", "a", "y", "z"), store.Op{Type: "Patient", ID: "gone", Delete: true}, ev1, ev2)
	if err != nil {
		t.Fatal(err)
	}
	want := now.UTC().Truncate(time.Millisecond)
	if !pl.Now.Equal(want) || pl.Now.Location() != time.UTC {
		t.Fatalf("instant %v, want %v in UTC", pl.Now, want)
	}
	if len(pl.Versions) != 4 || pl.Versions[1] != nil || len(pl.Writes) != 3 {
		t.Fatalf("versions %v, %d writes", pl.Versions, len(pl.Writes))
	}
	a := pl.Writes[0]
	if a.Prev != old || a.Version.VersionID != 4 || a.Version.Seq != 42 || a.Link != nil {
		t.Fatalf("update: %+v", a)
	}
	if len(a.Remove) != 1 || string(a.Remove[0].Value) != "x" || len(a.Add) != 1 || string(a.Add[0].Value) != "z" {
		t.Fatalf("index changes: remove %v add %v", a.Remove, a.Add)
	}
	if list, del := a.IndexList(); del || list == nil {
		t.Fatalf("index list: %q %v", list, del)
	}
	// Links continue the chain: each hashes the previous link's hash with the version's body.
	l1, l2 := pl.Writes[1].Link, pl.Writes[2].Link
	if l1 == nil || l1.Seq != 8 || l1.Prev != st.ChainHash || l1.Hash != store.ChainHash(st.ChainHash, pl.Versions[2].Body) {
		t.Fatalf("first link %+v", l1)
	}
	if l2 == nil || l2.Seq != 9 || l2.Prev != l1.Hash || l2.Hash != store.ChainHash(l1.Hash, pl.Versions[3].Body) || l2.VersionID != 1 {
		t.Fatalf("second link %+v", l2)
	}
	if pl.Versions[3].Seq != 44 || !pl.Versions[3].Chained {
		t.Fatalf("chained version %+v", pl.Versions[3])
	}
	if pl.To != (State{Seq: 44, Clock: want, ChainSeq: 9, ChainHash: l2.Hash}) || pl.From != st || !pl.ChainMoved() {
		t.Fatalf("state %+v from %+v", pl.To, pl.From)
	}
	// Only a resource that exists has a list to read.
	if fmt.Sprint(r.asked) != "[Patient/a]" {
		t.Fatalf("index lists asked for: %v", r.asked)
	}
	if ch := pl.Changed(); ch["Patient"] != 1 || ch["AuditEvent"] != 2 || len(ch) != 2 {
		t.Fatalf("changed %v", ch)
	}
}

// The clock never goes back along Seq, and a plan that writes nothing leaves the state as it was.
func TestPlanClampsTheClock(t *testing.T) {
	last := time.Date(2026, 3, 1, 10, 0, 0, 5_000_000, time.UTC)
	p := &Planner{Now: func() time.Time { return last.Add(-time.Minute) }}
	r := &mapReader{}
	pl, err := plan(t, p, State{Seq: 3, Clock: last}, r, put("Patient", "a"))
	if err != nil || !pl.Now.Equal(last) || !pl.Versions[0].LastUpdated.Equal(last) || pl.To.Clock != last {
		t.Fatalf("plan %+v, %v", pl, err)
	}
	pl, err = plan(t, p, State{Seq: 3, Clock: last}, r, store.Op{Type: "Patient", ID: "a", Delete: true})
	if err != nil || !pl.Empty() || pl.To != pl.From || pl.ChainMoved() {
		t.Fatalf("an empty plan moved the state: %+v, %v", pl, err)
	}
}

// The first precondition that fails fails the plan, and Check runs first.
func TestPlanFailures(t *testing.T) {
	p := &Planner{}
	r := &mapReader{cur: map[string]*store.Version{"Patient/a": {Type: "Patient", ID: "a", VersionID: 2}}}
	bad := put("Patient", "a")
	bad.IfMatch = 1
	_, err := plan(t, p, State{}, r, put("Patient", "b"), bad)
	var fe *fhir.Error
	if !errors.As(err, &fe) || fe.Kind != fhir.KindPreconditionFailed || fe.Expression != "Tx.op[1]" {
		t.Fatalf("err = %v", err)
	}
	refuse := errors.New("refused")
	tx := &store.Tx{Ops: []store.Op{put("Patient", "c")}, Check: func(context.Context) error { return refuse }}
	tmpls, _ := Begin(context.Background(), tx)
	if _, err := p.Plan(context.Background(), tx, tmpls, State{}, r); !errors.Is(err, refuse) {
		t.Fatalf("check: %v", err)
	}
	if _, err := Begin(context.Background(), &store.Tx{Ops: []store.Op{put("Patient", "x"), put("Patient", "x")}}); fhir.KindOf(err) != fhir.KindInvalid {
		t.Fatalf("duplicate: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Begin(ctx, &store.Tx{Ops: []store.Op{put("Patient", "x")}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// A deletion removes the list its resource had, and writes none when it had none.
func TestWriteIndexList(t *testing.T) {
	r := &mapReader{cur: map[string]*store.Version{"Patient/a": {VersionID: 1}, "Patient/b": {VersionID: 1}},
		entries: map[string][]store.IndexEntry{"Patient/a": {{Param: "p", Value: []byte("x")}}}}
	pl, err := plan(t, &Planner{}, State{}, r, store.Op{Type: "Patient", ID: "a", Delete: true}, store.Op{Type: "Patient", ID: "b", Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if list, del := pl.Writes[0].IndexList(); list != nil || !del {
		t.Fatalf("a: %q %v", list, del)
	}
	if list, del := pl.Writes[1].IndexList(); list != nil || del {
		t.Fatalf("b: %q %v", list, del)
	}
	list, _ := (&Write{Entries: []store.IndexEntry{{Param: "p", Value: []byte("v")}}}).IndexList()
	if got, err := codec.DecodeIndexList(list, ""); err != nil || len(got) != 1 || string(got[0].Value) != "v" {
		t.Fatalf("list %v %v", got, err)
	}
}

// Run observes every commit, failed ones too, and a closed gate refuses before anything runs.
func TestRunObservesAndGates(t *testing.T) {
	var seen []string
	p := &Planner{Observer: func(d time.Duration, ops int, err error) { seen = append(seen, fmt.Sprint(ops, err != nil)) }}
	var g Gate
	apply := func(ctx context.Context, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error) {
		return make([]*store.Version, len(tmpls)), nil
	}
	if _, err := p.Run(context.Background(), &g, &store.Tx{Ops: []store.Op{put("Patient", "a"), put("Patient", "b")}}, apply); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), &g, &store.Tx{Ops: []store.Op{{Type: "Patient"}}}, apply); err == nil {
		t.Fatal("an op without id was accepted")
	}
	closed := 0
	if err := g.Close(func() error { closed++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(func() error { closed++; return errors.New("twice") }); err != nil || closed != 1 {
		t.Fatalf("second close: %v, released %d times", err, closed)
	}
	if _, err := p.Run(context.Background(), &g, &store.Tx{Ops: []store.Op{put("Patient", "c")}}, apply); !errors.Is(err, store.ErrClosed) || fhir.KindOf(err) != fhir.KindUnavailable {
		t.Fatalf("closed: %v", err)
	}
	if fmt.Sprint(seen) != "[2 false 1 true]" {
		t.Fatalf("observed %v", seen)
	}
}

// A fresh chained op (an id the server just made) is planned without looking for a current version; a
// fresh op that does not chain, and a chained op that is not fresh, are looked up and refused when taken.
func TestPlanFreshChainedOpsAreNotLookedUp(t *testing.T) {
	p := &Planner{}
	taken := &store.Version{Type: "AuditEvent", ID: "taken", VersionID: 1, Chained: true}
	body := func(id string) []byte { return []byte(`{"resourceType":"AuditEvent","id":"` + id + `"}`) }
	r := &mapReader{cur: map[string]*store.Version{"AuditEvent/taken": taken}}
	fresh := store.Op{Type: "AuditEvent", ID: "new", Method: "POST", IfNoneExist: true, Chain: true, Fresh: true, Body: body("new")}
	pl, err := plan(t, p, State{}, r, fresh)
	if err != nil || len(pl.Writes) != 1 || pl.Writes[0].Link == nil || pl.Versions[0].VersionID != 1 {
		t.Fatalf("fresh chained op: %v %+v", err, pl)
	}
	if len(r.looked) != 0 {
		t.Fatalf("looked up %v for a fresh chained op", r.looked)
	}
	for _, op := range []store.Op{
		{Type: "AuditEvent", ID: "taken", Method: "POST", IfNoneExist: true, Chain: true, Body: body("taken")},
		{Type: "AuditEvent", ID: "taken", Method: "POST", IfNoneExist: true, Fresh: true, Body: body("taken")},
	} {
		r.looked = nil
		if _, err := plan(t, p, State{}, r, op); fhir.KindOf(err) != fhir.KindConflict {
			t.Errorf("chain %v, fresh %v, over a taken id: %v, want a conflict", op.Chain, op.Fresh, err)
		}
		if len(r.looked) != 1 {
			t.Errorf("chain %v, fresh %v: looked up %v", op.Chain, op.Fresh, r.looked)
		}
	}
}
