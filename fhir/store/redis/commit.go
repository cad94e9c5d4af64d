package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
	"fhirgate/fhir/store/internal/commit"
)

// maxAttempts bounds the retries of a commit that keeps colliding with other processes' commits.
const maxAttempts = 200

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, tx *store.Tx) ([]*store.Version, error) {
	return s.planner.Run(ctx, &s.gate, tx, s.commit)
}

// commit runs in Commit with the bodies parsed (commit.Planner.Run): one attempt after another until
// one lands, each on a fresh WATCH.
func (s *Store) commit(ctx context.Context, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error) {
	s.lane.Lock()
	defer s.lane.Unlock()
	for attempt := 1; ; attempt++ {
		var out []*store.Version
		err := s.rdb.Watch(ctx, func(rtx *goredis.Tx) error {
			var err error
			out, err = s.attempt(ctx, rtx, tx, tmpls)
			return err
		}, s.seqKey())
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, goredis.TxFailedErr) {
			return nil, unavailable(ctx, err) // a *fhir.Error (a precondition) passes through unchanged
		}
		// Another process committed in between: decide again on what it wrote.
		if attempt >= maxAttempts {
			return nil, store.Unavailable(fmt.Errorf("redis: the commit collided with other writers %d times", attempt))
		}
		backoff := time.Duration(rand.IntN(100*min(attempt, 20))) * time.Microsecond
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// attempt reads what the transaction depends on, has the planner decide it, and writes the plan in one
// MULTI/EXEC, which fails (TxFailedErr) if another commit moved the sequence since the WATCH.
func (s *Store) attempt(ctx context.Context, rtx *goredis.Tx, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error) {
	ops := tx.Ops
	var seqCmd, clockCmd, headCmd *goredis.StringCmd
	r := pipelined{cur: make([]*goredis.StringCmd, len(ops)), rev: make([]*goredis.StringCmd, len(ops))}
	_, err := rtx.Pipelined(ctx, func(p goredis.Pipeliner) error {
		seqCmd = p.Get(ctx, s.seqKey())
		clockCmd = p.Get(ctx, s.clockKey())
		headCmd = p.Get(ctx, s.chainHeadKey())
		for i, op := range ops {
			r.cur[i] = p.Get(ctx, s.currentKey(op.Type, op.ID))
			r.rev[i] = p.Get(ctx, s.reverseKey(op.Type, op.ID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	st, err := stateOf(seqCmd, clockCmd, headCmd)
	if err != nil {
		return nil, err
	}
	// tx.Check reads through other connections; whatever it read stays true until EXEC, or EXEC fails
	// because a commit moved the sequence.
	plan, err := s.planner.Plan(ctx, tx, tmpls, st, r)
	if err != nil {
		return nil, err
	}
	if plan.Empty() {
		return plan.Versions, nil // nothing to write
	}
	w := newWrites()
	for i := range plan.Writes {
		s.queue(w, &plan.Writes[i])
	}
	_, err = rtx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		w.apply(ctx, p)
		p.Set(ctx, s.seqKey(), plan.To.Seq, 0)
		p.Set(ctx, s.clockKey(), plan.To.Clock.UnixMilli(), 0)
		if plan.ChainMoved() {
			p.Set(ctx, s.chainHeadKey(), codec.EncodeChainHead(plan.To.ChainSeq, plan.To.ChainHash), 0)
		}
		for typ, n := range plan.Changed() {
			p.HIncrBy(ctx, s.changesKey(), typ, int64(n))
		}
		return nil
	})
	return plan.Versions, err
}

// queue adds one op's writes: its records, its history entries, its index changes, its place among the
// ids that exist, its audit chain link.
func (s *Store) queue(w *writes, x *commit.Write) {
	op, v := x.Op, x.Version
	if x.Prev != nil {
		w.hset(s.versionsKey(op.Type, op.ID), versionField(x.Prev.VersionID), codec.EncodeVersion(x.Prev))
	}
	w.set(s.currentKey(op.Type, op.ID), codec.EncodeVersion(v))
	w.zadd(s.systemKey(), float64(v.Seq), codec.Pointer(op.Type, op.ID, v.VersionID))
	w.zadd(s.typeKey(op.Type), float64(v.Seq), codec.Pointer("", op.ID, v.VersionID))
	for _, e := range x.Remove {
		w.zrem(s.indexKey(op.Type, e.Param), codec.IndexTail(nil, e.Value, op.ID))
	}
	for _, e := range x.Add {
		w.zadd(s.indexKey(op.Type, e.Param), 0, codec.IndexTail(nil, e.Value, op.ID))
	}
	switch list, del := x.IndexList(); {
	case list != nil:
		w.set(s.reverseKey(op.Type, op.ID), list)
	case del:
		w.del(s.reverseKey(op.Type, op.ID))
	}
	if v.Deleted {
		w.zrem(s.idsKey(op.Type), []byte(op.ID))
	} else if v.Created {
		w.zadd(s.idsKey(op.Type), 0, []byte(op.ID))
	}
	if x.Link != nil {
		w.zadd(s.chainKey(), float64(x.Link.Seq), chainMember(*x.Link))
	}
}

// stateOf is where the commits stand, from the sequence, clock and chain head keys as the WATCH read them.
func stateOf(seqCmd, clockCmd, headCmd *goredis.StringCmd) (commit.State, error) {
	var st commit.State
	var err error
	if st.Seq, err = uintOf(seqCmd); err != nil {
		return st, err
	}
	lastMS, err := uintOf(clockCmd)
	if err != nil {
		return st, err
	}
	st.Clock = time.UnixMilli(int64(lastMS)).UTC()
	if b, err := headCmd.Bytes(); err == nil {
		if st.ChainSeq, st.ChainHash, err = codec.DecodeChainHead(b); err != nil {
			return st, err
		}
	}
	return st, nil
}

// uintOf reads a counter (0 when it is not set yet).
func uintOf(c *goredis.StringCmd) (uint64, error) {
	b, err := c.Result()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseCounter(b)
}

// pipelined reads for the planner what the attempt's pipeline read under the WATCH: each op's current
// record and index list.
type pipelined struct {
	cur, rev []*goredis.StringCmd
}

// Current implements commit.Reader.
func (r pipelined) Current(i int, op *store.Op) (*store.Version, error) {
	b, err := r.cur[i].Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decode(op.Type, op.ID, b)
}

// Entries implements commit.Reader.
func (r pipelined) Entries(i int, _ *store.Op) ([]store.IndexEntry, error) {
	b, err := r.rev[i].Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return codec.DecodeIndexList(b, "")
}
