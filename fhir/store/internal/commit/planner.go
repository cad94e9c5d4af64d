// Package commit is what every storage engine shares above its own I/O: the gate that closes a store
// (Gate), the checks of a transaction before it takes the engine's commit lane (Begin), the planner that
// decides it inside the lane (preconditions, version numbers, the store-wide sequence, a lastUpdated that
// never goes back, index changes, audit chain links), the commit observer's timing, and the paging of
// history (Collect). An engine reads what the planner asks for, through a Reader, and writes what the
// Plan says in one atomic write of its own (a Pebble batch, a Redis MULTI/EXEC, a map under a mutex).
//
// The byte formats stay in codec: this package decides, codec encodes.
package commit

import (
	"context"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// Observer is told how long a commit took, how many operations it had and how it ended (metrics).
type Observer func(d time.Duration, ops int, err error)

// Planner decides an engine's commits. Its zero value uses time.Now and observes nothing.
type Planner struct {
	// Now is the clock (time.Now when nil); tests inject a fixed clock.
	Now func() time.Time
	// Observer, when set, is told of every commit Run runs.
	Observer Observer
}

// Run is an engine's Commit around its own part, apply: it passes the store's gate (a closed store
// refuses), checks the transaction (Begin), runs apply with the parsed bodies (apply takes the engine's
// lane and calls Plan inside it), and tells the Observer how long it all took and how it ended.
func (p *Planner) Run(ctx context.Context, g *Gate, tx *store.Tx,
	apply func(ctx context.Context, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error)) ([]*store.Version, error) {
	if err := g.Enter(); err != nil {
		return nil, err
	}
	defer g.Leave()
	start := time.Now()
	out, err := run(ctx, tx, apply)
	if p.Observer != nil {
		p.Observer(time.Since(start), len(tx.Ops), err)
	}
	return out, err
}

func run(ctx context.Context, tx *store.Tx,
	apply func(ctx context.Context, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error)) ([]*store.Version, error) {
	tmpls, err := Begin(ctx, tx)
	if err != nil {
		return nil, err
	}
	return apply(ctx, tx, tmpls)
}

// State is where a store's commits stand: what the next commit continues from.
type State struct {
	// Seq is the last sequence number given.
	Seq uint64
	// Clock is the last lastUpdated given (zero when none was).
	Clock time.Time
	// ChainSeq and ChainHash are the audit chain's head: the last link's position and hash.
	ChainSeq  uint64
	ChainHash [32]byte
}

// Reader reads, for Plan, what a transaction's operations depend on, as the store stands inside the
// commit's lane. Its errors pass through Plan unchanged.
type Reader interface {
	// Current returns the current version of the resource of op i (a deletion when it is deleted), nil
	// when it never existed.
	Current(i int, op *store.Op) (*store.Version, error)
	// Entries returns the stored index entries of the resource of op i. Plan asks only about resources
	// that exist (Current gave a version): a resource that never existed has none.
	Entries(i int, op *store.Op) ([]store.IndexEntry, error)
}

// Plan is a decided transaction: what Commit answers, and what the engine writes in one atomic write.
type Plan struct {
	// Versions has one version per op, nil for a delete that had nothing to delete: Commit's answer.
	Versions []*store.Version
	// Writes are the ops that write, in transaction order.
	Writes []Write
	// Now is the commit's instant, the lastUpdated of every new version.
	Now time.Time
	// From is the state the commit started from, To the state after it (From when nothing is written):
	// the engine keeps To, or writes it with the plan.
	From, To State
}

// Write is what one op writes.
type Write struct {
	Op *store.Op
	// Prev is the version superseded (nil when the resource never existed): its record moves from the
	// resource's current record to its older versions.
	Prev *store.Version
	// Version is the new version: the resource's current record, and an entry of the system history and
	// of the type history at Version.Seq.
	Version *store.Version
	// Link is the op's audit chain link (Op.Chain), nil for an op that does not chain.
	Link *store.ChainRecord
	// Remove and Add are the search index entries that go and that come; Entries is the resource's new
	// list of entries (none once deleted).
	Remove, Add, Entries []store.IndexEntry
	// hadEntries is true when the resource had a stored list of entries.
	hadEntries bool
}

// IndexList returns what becomes of the resource's stored list of index entries: its new encoding
// (list, to store), or its removal (del), or neither when there was no list and there is none.
func (w *Write) IndexList() (list []byte, del bool) {
	if len(w.Entries) > 0 {
		return codec.EncodeIndexList(w.Entries), false
	}
	return nil, w.hadEntries
}

// Empty reports whether the plan writes nothing (every op a delete of nothing).
func (p *Plan) Empty() bool { return len(p.Writes) == 0 }

// ChainMoved reports whether the plan appends to the audit chain, so that the chain head is written.
func (p *Plan) ChainMoved() bool { return p.To.ChainSeq != p.From.ChainSeq }

// Changed returns the number of versions the plan writes of each type (Store.Changes).
func (p *Plan) Changed() map[string]uint64 {
	n := make(map[string]uint64, len(p.Writes))
	for _, w := range p.Writes {
		n[w.Op.Type]++
	}
	return n
}

// Plan decides tx (its bodies parsed by Begin) against the store as r reads it, continuing from st. It
// runs tx.Check first; takes the commit's instant from the clock, never before st.Clock, so that
// lastUpdated never decreases along Seq; decides every op (Decide), which fails the whole transaction on
// the first precondition that does not hold; numbers the new versions from st.Seq and the audit chain
// links from st.ChainSeq, each link hashing the previous one's hash with the version's body; and works
// out each resource's index changes. It writes nothing: a failed plan leaves the store as it was.
func (p *Planner) Plan(ctx context.Context, tx *store.Tx, tmpls []*fhir.StampTemplate, st State, r Reader) (*Plan, error) {
	if tx.Check != nil {
		if err := tx.Check(ctx); err != nil {
			return nil, err
		}
	}
	now := p.instant(st.Clock)
	plan := &Plan{Versions: make([]*store.Version, len(tx.Ops)), Now: now, From: st, To: st}
	next := &plan.To
	for i := range tx.Ops {
		op := &tx.Ops[i]
		var cur *store.Version
		if !op.Chain || !op.Fresh {
			var err error
			if cur, err = r.Current(i, op); err != nil {
				return nil, err
			}
		}
		v, err := Decide(i, op, cur, tmpls[i], next.Seq+1, now)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue // nothing to delete
		}
		next.Seq++
		var old []store.IndexEntry
		if cur != nil {
			if old, err = r.Entries(i, op); err != nil {
				return nil, err
			}
		}
		w := Write{Op: op, Prev: cur, Version: v, hadEntries: len(old) > 0}
		w.Remove, w.Add, w.Entries = IndexDiff(old, op)
		if op.Chain {
			next.ChainSeq++
			w.Link = &store.ChainRecord{Seq: next.ChainSeq, Type: op.Type, ID: op.ID, VersionID: v.VersionID,
				Prev: next.ChainHash, Hash: store.ChainHash(next.ChainHash, v.Body)}
			next.ChainHash = w.Link.Hash
		}
		plan.Versions[i] = v
		plan.Writes = append(plan.Writes, w)
	}
	if !plan.Empty() {
		next.Clock = now
	}
	return plan, nil
}

// instant is a commit's instant: the clock to the millisecond (what a record keeps), in UTC, and never
// before last.
func (p *Planner) instant(last time.Time) time.Time {
	clock := p.Now
	if clock == nil {
		clock = time.Now
	}
	now := clock().UTC().Truncate(time.Millisecond)
	if now.Before(last) {
		now = last // lastUpdated never decreases along Seq
	}
	return now
}
