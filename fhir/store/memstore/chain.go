package memstore

import (
	"context"

	"fhirgate/fhir/store"
)

// ChainRecords implements store.Chain. It holds the read lock only while it copies a page of links,
// never while fn runs.
func (s *Store) ChainRecords(ctx context.Context, fn func(store.ChainRecord) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	for next := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.RLock()
		page := append([]store.ChainRecord(nil), s.chain[min(next, len(s.chain)):min(next+scanPage, len(s.chain))]...)
		s.mu.RUnlock()
		for _, r := range page {
			if !fn(r) {
				return nil
			}
		}
		if len(page) < scanPage {
			return nil
		}
		next += len(page)
	}
}

// ChainLink implements store.Chain.
func (s *Store) ChainLink(ctx context.Context, seq uint64) (store.ChainRecord, error) {
	if err := s.gate.Enter(); err != nil {
		return store.ChainRecord{}, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if seq > 0 && seq <= uint64(len(s.chain)) && s.chain[seq-1].Seq == seq {
		return s.chain[seq-1], nil // where a link always is
	}
	for _, r := range s.chain {
		if r.Seq == seq {
			return r, nil
		}
	}
	return store.ChainRecord{}, store.ErrNotFound
}

// ChainHead implements store.Chain.
func (s *Store) ChainHead(ctx context.Context) (uint64, [32]byte, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, [32]byte{}, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.ChainSeq, s.state.ChainHash, nil
}
