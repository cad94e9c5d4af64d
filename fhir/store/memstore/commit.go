package memstore

import (
	"context"
	"slices"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
	"fhirgate/fhir/store/internal/commit"
)

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, tx *store.Tx) ([]*store.Version, error) {
	return s.planner.Run(ctx, &s.gate, tx, s.commit)
}

// commit runs in Commit with the bodies parsed (commit.Planner.Run): the planner decides in the lane,
// then the plan is applied at once, under the write lock, so that a reader sees all of it or none.
func (s *Store) commit(ctx context.Context, tx *store.Tx, tmpls []*fhir.StampTemplate) ([]*store.Version, error) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	plan, err := s.planner.Plan(ctx, tx, tmpls, s.state, laneReader{s})
	if err != nil {
		return nil, err
	}
	if plan.Empty() {
		return plan.Versions, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range plan.Writes {
		s.apply(&plan.Writes[i])
	}
	s.state = plan.To
	return plan.Versions, nil
}

// apply writes what one op of a plan writes. The store keeps its own copies: the caller keeps the
// versions Commit returns, and the op's index values.
func (s *Store) apply(w *commit.Write) {
	op, v := w.Op, w.Version
	k := ref{op.Type, op.ID}
	r := s.resources[k]
	if r == nil {
		r = &resource{}
		s.resources[k] = r
	}
	r.versions = append(r.versions, cloneVersion(v))
	e := entry{seq: v.Seq, ref: k, vid: v.VersionID}
	s.system = append(s.system, e)
	s.types[op.Type] = append(s.types[op.Type], e)
	for _, x := range w.Remove {
		ik := indexKey(op.Type, x.Param)
		s.index[ik] = s.index[ik].remove(string(codec.IndexTail(nil, x.Value, op.ID)))
	}
	for _, x := range w.Add {
		ik := indexKey(op.Type, x.Param)
		s.index[ik] = s.index[ik].add(string(codec.IndexTail(nil, x.Value, op.ID)))
	}
	r.entries = cloneEntries(w.Entries)
	if v.Deleted {
		s.ids[op.Type] = s.ids[op.Type].remove(op.ID)
	} else if v.Created {
		s.ids[op.Type] = s.ids[op.Type].add(op.ID)
	}
	if w.Link != nil {
		s.chain = append(s.chain, *w.Link)
	}
	s.changes[op.Type]++
}

// indexKey names the sorted set of a parameter's index entries.
func indexKey(typ, param string) string { return typ + "\x00" + param }

// laneReader reads for the planner, in the lane: only commits write, so it needs no lock of the data.
type laneReader struct{ s *Store }

// Current implements commit.Reader.
func (r laneReader) Current(_ int, op *store.Op) (*store.Version, error) {
	if res := r.s.resources[ref{op.Type, op.ID}]; res != nil {
		return res.current(), nil
	}
	return nil, nil
}

// Entries implements commit.Reader.
func (r laneReader) Entries(_ int, op *store.Op) ([]store.IndexEntry, error) {
	if res := r.s.resources[ref{op.Type, op.ID}]; res != nil {
		return res.entries, nil
	}
	return nil, nil
}

// cloneVersion copies a version, its body included.
func cloneVersion(v *store.Version) *store.Version {
	c := *v
	c.Body = slices.Clone(v.Body)
	return &c
}

// cloneEntries copies index entries, their values included (nil when there are none).
func cloneEntries(entries []store.IndexEntry) []store.IndexEntry {
	if len(entries) == 0 {
		return nil
	}
	out := make([]store.IndexEntry, len(entries))
	for i, e := range entries {
		out[i] = store.IndexEntry{Param: e.Param, Value: slices.Clone(e.Value)}
	}
	return out
}
