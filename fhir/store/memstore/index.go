package memstore

import (
	"context"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// IndexScan implements store.Store. The entries are kept as their tails (codec.IndexTail), so that they
// sort as the other engines' do: by value byte-wise, then by id.
func (s *Store) IndexScan(ctx context.Context, typ, param string, lo, hi []byte, fn func(value []byte, id string) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	k := indexKey(typ, param)
	var scanErr error
	s.walk(func() sortedSet { return s.index[k] }, string(codec.Escape(nil, lo)), string(codec.Escape(nil, hi)), hi != nil,
		func(tail string) bool {
			if scanErr = ctx.Err(); scanErr != nil {
				return false
			}
			value, id, _, err := codec.SplitIndexTail([]byte(tail))
			if err != nil {
				scanErr = store.Unavailable(err)
				return false
			}
			return fn(value, id)
		})
	return scanErr
}

// IndexEntries implements store.Store.
func (s *Store) IndexEntries(ctx context.Context, typ, id string) ([]store.IndexEntry, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.entries(ref{typ, id}), nil
}

// entries returns a copy of a resource's index entries (nil when it has none); the caller holds mu.
func (s *Store) entries(k ref) []store.IndexEntry {
	if r := s.resources[k]; r != nil {
		return cloneEntries(r.entries)
	}
	return nil
}

// IndexEntriesMany implements store.Store.
func (s *Store) IndexEntriesMany(ctx context.Context, typ string, ids []string) ([][]store.IndexEntry, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]store.IndexEntry, len(ids))
	for i, id := range ids {
		out[i] = s.entries(ref{typ, id})
	}
	return out, nil
}

// IndexValues implements store.Store.
func (s *Store) IndexValues(ctx context.Context, typ, id, param string) ([][]byte, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	entries := s.entries(ref{typ, id})
	if entries == nil {
		return nil, nil
	}
	out := [][]byte{}
	for _, e := range entries {
		if e.Param == param {
			out = append(out, e.Value)
		}
	}
	return out, nil
}

// ScanIDs implements store.Store.
func (s *Store) ScanIDs(ctx context.Context, typ string, fn func(id string) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	var scanErr error
	s.walk(func() sortedSet { return s.ids[typ] }, "", "", false, func(id string) bool {
		if scanErr = ctx.Err(); scanErr != nil {
			return false
		}
		return fn(id)
	})
	return scanErr
}
