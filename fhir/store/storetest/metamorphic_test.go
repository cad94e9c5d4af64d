package storetest_test

// A metamorphic test of the engines, in the spirit of Pebble's: one random sequence of operations,
// generated from a seed, runs on every engine — embedded (Pebble in a temporary directory), redis (a key
// prefix of its own on the test Redis, removed afterwards) and memstore — with one shared clock that the
// test moves (forwards, not at all, and backwards, which the planner must clamp), and every answer of
// every engine must be the same: versions (ids, version numbers, sequence numbers, lastUpdated, bodies,
// flags), errors (kind, code, expression, details), history pages, index scans, index entries, id
// scans, write counts and the audit chain. Nothing is normalised but what the contract leaves open: an
// empty list may be nil or empty; and IndexScan promises value order only, so the ids of one value may
// come in any order (the embedded engine gives an audit event's entries in the order their index was
// derived, in batches, the others by id), and a scan stopped inside a value may have taken any of its ids.
//
// Reproduce a failure with -metamorphic.seed=N (and -metamorphic.ops=M for a longer run).

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/memstore"
	"fhirgate/fhir/store/redis"
	"fhirgate/fhir/store/redis/redistest"
	"fhirgate/internal/sharedtest"
)

var (
	metaSeed = flag.Uint64("metamorphic.seed", 0, "run TestMetamorphic with this seed only (0: its own seeds)")
	metaOps  = flag.Int("metamorphic.ops", 300, "operations per seed in TestMetamorphic")
)

// metaSeeds are the seeds TestMetamorphic runs.
var metaSeeds = []uint64{1, 2, 3, 42, 20260301}

func TestMetamorphic(t *testing.T) {
	seeds := metaSeeds
	if *metaSeed != 0 {
		seeds = []uint64{*metaSeed}
	}
	url := testRedis(t)
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			start := time.Now()
			h := newHarness(t, seed, url)
			for i := 0; i < *metaOps; i++ {
				h.step(i)
			}
			h.finish()
			t.Logf("seed %d: %d operations on %s in %v: %d commits (%d refused: %v), %d reads; %d versions, %d audit events",
				seed, *metaOps, strings.Join(h.names(), ", "), time.Since(start).Round(time.Millisecond),
				h.commits, h.refused, h.refusals, h.reads, h.lastSeq, h.events)
		})
	}
}

// testRedis returns the test Redis, or "" when there is none (outside CI, where sharedtest.RedisURL
// skips): the comparison then runs on the other engines. Under CI a missing Redis fails the test.
func testRedis(t *testing.T) string {
	var url string
	t.Run("redis", func(t *testing.T) { url = sharedtest.RedisURL(t) })
	return url
}

// clock is the clock every engine of a run shares; the test sets it before each operation.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time { return time.Unix(0, c.ns.Load()) }

type engine struct {
	name string
	st   store.Store
}

// resource is what the harness knows of a resource, from the answers (which every engine agreed on).
type resource struct {
	vid     uint64
	deleted bool
	chained bool
}

type harness struct {
	t       *testing.T
	rng     *rand.Rand
	clock   *clock
	engines []engine

	known    map[string]*resource // "Type/id"
	events   int                  // audit events created
	lastSeq  uint64
	instants []time.Time // every lastUpdated given

	commits, refused, reads int
	refusals                map[string]int // refused commits by error kind
}

var quiet = slog.New(slog.DiscardHandler)

func newHarness(t *testing.T, seed uint64, redisURL string) *harness {
	h := &harness{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), clock: &clock{}, known: map[string]*resource{}, refusals: map[string]int{}}
	h.clock.ns.Store(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	ctx := context.Background()
	emb, err := embedded.Open(embedded.Config{Dir: t.TempDir(), Now: h.clock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	h.engines = append(h.engines, engine{"memstore", memstore.New(memstore.Config{Now: h.clock.now})}, engine{"embedded", emb})
	if redisURL != "" {
		var b [6]byte
		crand.Read(b[:])
		prefix := "fhirgate-test:metamorphic:" + hex.EncodeToString(b[:]) + ":"
		rs, err := redis.Open(ctx, redis.Config{URL: redisURL, Prefix: prefix, AcceptDataLoss: true, Now: h.clock.now, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			rs.Close()
			if err := redistest.Drop(context.Background(), redisURL, prefix); err != nil {
				t.Errorf("removing %s: %v", prefix, err)
			}
		})
		h.engines = append(h.engines, engine{"redis", rs})
	}
	t.Cleanup(func() { h.engines[0].st.Close() })
	return h
}

func (h *harness) names() []string {
	var out []string
	for _, e := range h.engines {
		out = append(out, e.name)
	}
	return out
}

// all runs one operation on every engine and fails unless every engine gives the same answer. It returns
// the first engine's.
func (h *harness) all(i int, what string, fn func(st store.Store) (any, error)) (any, error) {
	h.t.Helper()
	first := h.compare(i, what, fn)
	return first.v, first.err
}

// same runs one operation on every engine and fails unless every engine gives the same answer, an error
// being an answer like any other.
func (h *harness) same(i int, what string, fn func(st store.Store) (any, error)) {
	h.t.Helper()
	h.compare(i, what, fn)
}

// outcome is an engine's answer to an operation.
type outcome struct {
	v   any
	err error
}

// compare runs one operation on every engine and fails unless every engine gives the same answer. It
// returns the first engine's.
func (h *harness) compare(i int, what string, fn func(st store.Store) (any, error)) outcome {
	h.t.Helper()
	var first outcome
	var want string
	for n, e := range h.engines {
		v, err := fn(e.st)
		got := answer(v, err)
		if n == 0 {
			first, want = outcome{v, err}, got
			continue
		}
		if got != want {
			h.t.Fatalf("operation %d, %s:\n%s answers\n\t%s\n%s answers\n\t%s", i, what, h.engines[0].name, want, e.name, got)
		}
	}
	return first
}

// answer renders an answer to compare: every field of a version, every entry, the error's kind and texts.
func answer(v any, err error) string {
	if err != nil {
		var fe *fhir.Error
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "error: not found"
		case errors.As(err, &fe):
			return fmt.Sprintf("error: %v code=%q expr=%q details=%q diag=%q", fe.Kind, fe.Code, fe.Expression, fe.Details, fe.Diagnostics)
		default:
			return "error: " + err.Error()
		}
	}
	switch v := v.(type) {
	case *store.Version:
		return version(v)
	case []*store.Version:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = version(x)
		}
		return fmt.Sprintf("%d: [%s]", len(v), strings.Join(out, "; "))
	case []store.IndexEntry:
		return entries(v)
	case [][]store.IndexEntry:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = entries(x)
		}
		return "[" + strings.Join(out, " ") + "]"
	case [][]byte:
		return fmt.Sprintf("%q", v) // nil and empty alike
	default:
		return fmt.Sprintf("%+v", v)
	}
}

func version(v *store.Version) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%s/%s v%d seq=%d at=%s del=%v created=%v chained=%v method=%s body=%s",
		v.Type, v.ID, v.VersionID, v.Seq, v.LastUpdated.UTC().Format(time.RFC3339Nano), v.Deleted, v.Created, v.Chained, v.Method, v.Body)
}

func entries(es []store.IndexEntry) string {
	var b strings.Builder
	b.WriteString("{")
	for _, e := range es {
		fmt.Fprintf(&b, "%s=%q ", e.Param, e.Value)
	}
	return b.String() + "}" // nil and empty alike
}

// Resources the operations pick from: a few of each type, so that they meet again.
var (
	plainTypes = []string{"Patient", "Observation"}
	names      = [][]byte{[]byte("ann"), []byte("bob"), []byte("L"), []byte("L\x00"), []byte("L\x00\x01"), []byte("L\xff"), {}, []byte("zed")}
)

func (h *harness) pick(n int) int { return h.rng.IntN(n) }

func (h *harness) chance(p float64) bool { return h.rng.Float64() < p }

// plainRef picks a Patient or an Observation, one of twelve ids (some never written).
func (h *harness) plainRef() (string, string) {
	typ := plainTypes[h.pick(len(plainTypes))]
	return typ, fmt.Sprintf("%s%d", strings.ToLower(typ[:1]), h.pick(12))
}

// eventRef picks an audit event, mostly one that exists.
func (h *harness) eventRef() (string, string) {
	return "AuditEvent", fmt.Sprintf("ae-%d", h.pick(h.events+2))
}

func (h *harness) anyRef() (string, string) {
	if h.chance(0.2) {
		return h.eventRef()
	}
	return h.plainRef()
}

// moveClock moves the shared clock: mostly a little forwards (by less than a millisecond, often), at times
// not at all, or backwards, or by minutes.
func (h *harness) moveClock() {
	var d time.Duration
	switch r := h.pick(20); {
	case r < 12:
		d = time.Duration(h.pick(2500)) * time.Microsecond
	case r < 15:
	case r < 17:
		d = -time.Duration(h.pick(5000)) * time.Microsecond
	default:
		d = time.Duration(h.pick(600)) * time.Second
	}
	h.clock.ns.Add(int64(d))
}

// body is a resource's JSON as writers give it: sometimes with a meta of its own (whose versionId and
// lastUpdated the store replaces), sometimes prepared as a template.
func (h *harness) body(op *store.Op) {
	n := h.pick(1000)
	switch h.pick(3) {
	case 0:
		op.Body = fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"n":%d}`, op.Type, op.ID, n)
	case 1:
		op.Body = fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"versionId":"99","tag":[{"code":"t%d"}]},"n":%d}`, op.Type, op.ID, n%3, n)
	default:
		op.Body = fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"source":"#s%d"},"text":"ü\u0000%d"}`, op.Type, op.ID, n%4, n)
		if t, ok := fhir.StampTemplateOfEncoded(op.Body, op.Type, op.ID); ok {
			op.Template = t
		}
	}
}

func (h *harness) index(typ string) []store.IndexEntry {
	var out []store.IndexEntry
	for range h.pick(4) {
		switch typ {
		case "Patient":
			out = append(out, store.IndexEntry{Param: "name", Value: names[h.pick(len(names))]})
		default:
			out = append(out, store.IndexEntry{Param: "date", Value: []byte{byte(h.pick(3)), byte(h.pick(256))}})
		}
	}
	if h.chance(0.5) {
		out = append(out, store.IndexEntry{Param: "gender", Value: [][]byte{[]byte("male"), []byte("female")}[h.pick(2)]})
	}
	return out
}

// plainOp is a write of a Patient or an Observation: a create, an update with or without If-Match (right
// or stale), or a delete.
func (h *harness) plainOp() store.Op {
	typ, id := h.plainRef()
	op := store.Op{Type: typ, ID: id, Method: "PUT"}
	cur := h.known[typ+"/"+id]
	switch r := h.pick(10); {
	case r < 2:
		op.Method, op.IfNoneExist = "POST", true
	case r < 5:
		op.IfMatch = 1 + uint64(h.pick(3))
		if cur != nil && h.chance(0.7) {
			op.IfMatch = cur.vid
		}
	case r < 7:
		op.Delete, op.Method = true, "DELETE"
		if cur != nil && h.chance(0.3) {
			op.IfMatch = cur.vid
		}
	case r < 8:
		op.Method = "PATCH"
	}
	if !op.Delete {
		h.body(&op)
		op.Index = h.index(typ)
	} else if h.chance(0.3) {
		op.Index = h.index(typ) // a deletion has no entries, whatever it is given
	}
	return op
}

// eventOp is an audit chain append, mostly of a new event; sometimes of an event that exists (refused),
// or a write of an existing event that does not chain (refused too).
func (h *harness) eventOp() store.Op {
	id := fmt.Sprintf("ae-%d", h.events)
	op := store.Op{Type: "AuditEvent", ID: id, Method: "POST", IfNoneExist: true, Chain: true}
	switch r := h.pick(20); {
	case r == 0 && h.events > 0:
		_, op.ID = h.eventRef()
	case r == 1 && h.events > 0:
		_, op.ID = h.eventRef()
		op.Chain, op.IfNoneExist, op.Method = false, false, "PUT"
	case r == 2 && h.events > 0:
		_, op.ID = h.eventRef()
		op.Chain, op.IfNoneExist, op.Delete, op.Method = false, false, true, "DELETE"
	default:
		h.events++ // a new id, whether or not its commit lands
	}
	if !op.Delete {
		h.body(&op)
		op.Index = []store.IndexEntry{{Param: "patient", Value: fmt.Appendf(nil, "rPatient/p%d", h.pick(4))},
			{Param: "type", Value: []byte("rest")}}
	}
	return op
}

// step generates and runs operation i on every engine.
func (h *harness) step(i int) {
	h.moveClock()
	switch r := h.pick(100); {
	case r < 45:
		h.commit(i)
	default:
		h.read(i, r)
	}
}

// commit runs a transaction of one to five writes, some of which may fail it (a stale If-Match, a
// create of what exists, a resource written twice, a refusing Check), and learns what it wrote.
func (h *harness) commit(i int) {
	var ops []store.Op
	n := 1 + h.pick(5)
	if h.chance(0.5) {
		n = 1
	}
	for len(ops) < n {
		op := h.plainOp()
		if h.chance(0.3) {
			op = h.eventOp()
		}
		dup := slices.ContainsFunc(ops, func(o store.Op) bool { return o.Type == op.Type && o.ID == op.ID })
		if dup && !h.chance(0.1) {
			continue // a resource written twice fails the transaction: now and then only
		}
		ops = append(ops, op)
	}
	checkKind := h.pick(10) // 0: a Check that refuses; 1: one that reads the store and may refuse
	limit := 4 + h.pick(12)
	desc := describe(ops, checkKind)
	h.commits++
	v, err := h.all(i, "commit "+desc, func(st store.Store) (any, error) {
		tx := &store.Tx{Ops: ops}
		switch checkKind {
		case 0:
			tx.Check = func(context.Context) error {
				return &fhir.Error{Kind: fhir.KindPreconditionFailed, Code: "duplicate", Details: "the check refuses"}
			}
		case 1:
			tx.Check = func(ctx context.Context) error {
				n := 0
				if err := st.ScanIDs(ctx, "Patient", func(string) bool { n++; return true }); err != nil {
					return err
				}
				if n > limit {
					return &fhir.Error{Kind: fhir.KindConflict, Code: "conflict", Details: fmt.Sprintf("%d patients exist", n)}
				}
				return nil
			}
		}
		return st.Commit(context.Background(), tx)
	})
	if err != nil {
		h.refused++
		h.refusals[fhir.KindOf(err).String()]++
		return
	}
	for _, x := range v.([]*store.Version) {
		if x == nil {
			continue
		}
		h.known[x.Type+"/"+x.ID] = &resource{vid: x.VersionID, deleted: x.Deleted, chained: x.Chained}
		h.lastSeq = x.Seq
		h.instants = append(h.instants, x.LastUpdated)
	}
}

func describe(ops []store.Op, check int) string {
	var parts []string
	for _, op := range ops {
		s := op.Method + " " + op.Type + "/" + op.ID
		if op.IfMatch != 0 {
			s += fmt.Sprintf(" If-Match=%d", op.IfMatch)
		}
		if op.IfNoneExist {
			s += " If-None-Exist"
		}
		if op.Chain {
			s += " chained"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("[%s] check=%d", strings.Join(parts, ", "), check)
}

// query is a history query over a level the harness picks, with limits, positions and instants taken
// from what it has seen.
func (h *harness) query() store.HistoryQuery {
	var q store.HistoryQuery
	switch h.pick(3) {
	case 1:
		q.Type = []string{"Patient", "Observation", "AuditEvent"}[h.pick(3)]
	case 2:
		q.Type, q.ID = h.anyRef()
	}
	if h.chance(0.5) {
		q.Limit = 1 + h.pick(6)
	}
	if h.chance(0.3) {
		q.Before = 1 + uint64(h.pick(int(h.lastSeq)+2))
	}
	if h.chance(0.3) && len(h.instants) > 0 {
		q.Since = h.instants[h.pick(len(h.instants))].Add(time.Duration(h.pick(3)-1) * time.Millisecond)
	}
	return q
}

// read runs one of the reads.
func (h *harness) read(i, r int) {
	h.reads++
	ctx := context.Background()
	switch {
	case r < 52:
		typ, id := h.anyRef()
		h.same(i, "Read "+typ+"/"+id, func(st store.Store) (any, error) { return st.Read(ctx, typ, id) })
	case r < 57:
		typ, _ := h.plainRef()
		var ids []string
		for range h.pick(7) {
			_, id := h.plainRef()
			ids = append(ids, strings.ToLower(typ[:1])+id[1:])
		}
		h.same(i, fmt.Sprintf("ReadMany %s %v", typ, ids), func(st store.Store) (any, error) { return st.ReadMany(ctx, typ, ids) })
		h.same(i, fmt.Sprintf("IndexEntriesMany %s %v", typ, ids), func(st store.Store) (any, error) { return st.IndexEntriesMany(ctx, typ, ids) })
	case r < 63:
		typ, id := h.anyRef()
		var vid uint64
		if cur := h.known[typ+"/"+id]; cur != nil {
			vid = uint64(h.pick(int(cur.vid) + 2))
		}
		h.same(i, fmt.Sprintf("ReadVersion %s/%s/%d", typ, id, vid), func(st store.Store) (any, error) { return st.ReadVersion(ctx, typ, id, vid) })
	case r < 73:
		q := h.query()
		h.same(i, fmt.Sprintf("History %+v", q), func(st store.Store) (any, error) { return st.History(ctx, q) })
	case r < 76:
		h.pages(i)
	case r < 84:
		h.scan(i)
	case r < 88:
		typ, id := h.plainRef()
		param := []string{"name", "gender", "date", "nothing"}[h.pick(4)]
		h.same(i, "IndexEntries "+typ+"/"+id, func(st store.Store) (any, error) { return st.IndexEntries(ctx, typ, id) })
		h.same(i, "IndexValues "+typ+"/"+id+" "+param, func(st store.Store) (any, error) { return st.IndexValues(ctx, typ, id, param) })
	case r < 91:
		typ := []string{"Patient", "Observation", "AuditEvent", "Nothing"}[h.pick(4)]
		stop := h.pick(6)
		h.same(i, "ScanIDs "+typ, func(st store.Store) (any, error) {
			var ids []string
			err := st.ScanIDs(ctx, typ, func(id string) bool { ids = append(ids, id); return stop == 0 || len(ids) < stop })
			return ids, err
		})
		h.same(i, "Changes "+typ, func(st store.Store) (any, error) { return st.Changes(ctx, typ) })
	case r < 96:
		seq := uint64(h.pick(h.events + 2))
		h.same(i, "ChainHead", func(st store.Store) (any, error) {
			n, head, err := st.ChainHead(ctx)
			return fmt.Sprintf("%d %x", n, head), err
		})
		h.same(i, fmt.Sprint("ChainLink ", seq), func(st store.Store) (any, error) { return st.ChainLink(ctx, seq) })
	default:
		h.same(i, "ChainRecords", func(st store.Store) (any, error) { return chain(st) })
	}
}

// pages pages through the system history or a type's, a few versions at a time.
func (h *harness) pages(i int) {
	q := store.HistoryQuery{Limit: 1 + h.pick(5)}
	if h.chance(0.5) {
		q.Type = []string{"Patient", "Observation", "AuditEvent"}[h.pick(3)]
	}
	h.same(i, fmt.Sprintf("History pages %+v", q), func(st store.Store) (any, error) {
		var all []*store.Version
		for q := q; ; {
			page, err := st.History(context.Background(), q)
			if err != nil || len(page) == 0 {
				return all, err
			}
			all = append(all, page...)
			q.Before = page[len(page)-1].Seq
		}
	})
}

// scan runs an index scan over a range of values, to its end or stopping early.
func (h *harness) scan(i int) {
	typ, param := "Patient", []string{"name", "gender"}[h.pick(2)]
	bound := func() []byte {
		if h.chance(0.3) {
			return nil
		}
		return names[h.pick(len(names))]
	}
	switch h.pick(3) {
	case 1:
		typ, param = "Observation", "date"
		bound = func() []byte {
			if h.chance(0.3) {
				return nil
			}
			return []byte{byte(h.pick(3)), byte(h.pick(256))}
		}
	case 2:
		typ, param = "AuditEvent", []string{"patient", "type"}[h.pick(2)]
		bound = func() []byte {
			if h.chance(0.3) {
				return nil
			}
			return fmt.Appendf(nil, "rPatient/p%d", h.pick(5))
		}
	}
	lo, hi := bound(), bound()
	stop := h.pick(8)
	h.same(i, fmt.Sprintf("IndexScan %s %s [%q, %q) stop=%d", typ, param, lo, hi, stop), func(st store.Store) (any, error) {
		var got []scanned
		err := st.IndexScan(context.Background(), typ, param, lo, hi, func(v []byte, id string) bool {
			got = append(got, scanned{string(v), id})
			return stop == 0 || len(got) < stop
		})
		return inValueOrder(got, stop != 0 && len(got) == stop), err
	})
}

// scanned is an index entry an IndexScan gave.
type scanned struct{ value, id string }

// inValueOrder renders a scan's entries as the contract orders them: by value, each value's ids as a
// set. When the scan stopped (cut), the ids of the last value are any of its ids: only their number
// counts.
func inValueOrder(got []scanned, cut bool) string {
	var out []string
	for start := 0; start < len(got); {
		end := start + 1
		for end < len(got) && got[end].value == got[start].value {
			end++
		}
		var ids []string
		for _, e := range got[start:end] {
			ids = append(ids, e.id)
		}
		slices.Sort(ids)
		if cut && end == len(got) {
			ids = []string{fmt.Sprintf("(any %d)", len(ids))}
		}
		out = append(out, fmt.Sprintf("%q=%v", got[start].value, ids))
		start = end
	}
	return strings.Join(out, " ")
}

func chain(st store.Store) ([]store.ChainRecord, error) {
	var out []store.ChainRecord
	err := st.ChainRecords(context.Background(), func(r store.ChainRecord) bool { out = append(out, r); return true })
	return out, err
}

// finish compares everything every engine holds: the whole system history, every resource's, the
// chain, the ids, the counts; and the audit chain verifies on every engine.
func (h *harness) finish() {
	ctx := context.Background()
	const i = -1
	h.same(i, "the whole system history", func(st store.Store) (any, error) { return st.History(ctx, store.HistoryQuery{}) })
	var refs []string
	for ref := range h.known {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		typ, id, _ := strings.Cut(ref, "/")
		h.same(i, "the history of "+ref, func(st store.Store) (any, error) {
			return st.History(ctx, store.HistoryQuery{Type: typ, ID: id})
		})
		h.same(i, "the index entries of "+ref, func(st store.Store) (any, error) { return st.IndexEntries(ctx, typ, id) })
	}
	for _, typ := range []string{"Patient", "Observation", "AuditEvent"} {
		h.same(i, "the ids of "+typ, func(st store.Store) (any, error) {
			var ids []string
			err := st.ScanIDs(ctx, typ, func(id string) bool { ids = append(ids, id); return true })
			return ids, err
		})
		h.same(i, "the changes of "+typ, func(st store.Store) (any, error) { return st.Changes(ctx, typ) })
	}
	h.same(i, "the chain", func(st store.Store) (any, error) { return chain(st) })
	h.same(i, "VerifyChain", func(st store.Store) (any, error) {
		rep, err := store.VerifyChain(ctx, st.(store.ChainStore), []string{"AuditEvent"}, nil)
		if err == nil && rep.Broken != nil {
			return nil, fmt.Errorf("the chain is broken: %s", rep.Broken)
		}
		return rep, err
	})
	for _, e := range h.engines {
		if err := e.st.Ping(ctx); err != nil {
			h.t.Fatalf("%s: %v", e.name, err)
		}
	}
	newest, _ := h.all(i, "the newest version", func(st store.Store) (any, error) {
		vs, err := st.History(ctx, store.HistoryQuery{Limit: 1})
		if err != nil || len(vs) == 0 {
			return uint64(0), err
		}
		return vs[0].Seq, nil
	})
	if newest.(uint64) != h.lastSeq {
		h.t.Fatalf("the newest version has seq %d, the last commit the harness saw wrote %d", newest, h.lastSeq)
	}
}
