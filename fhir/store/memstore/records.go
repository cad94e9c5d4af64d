package memstore

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"fhirgate/fhir/store"
)

// records are the store's records (store.Records): namespace -> key -> value, under their own lock.
type records struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, ns, key string) ([]byte, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	v, ok := s.recs.m[ns][key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(v), nil
}

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, ns, key string, value []byte) error {
	_, err := s.swap(ns, key, nil, value, true)
	return err
}

// SwapRecord implements store.Records.
func (s *Store) SwapRecord(ctx context.Context, ns, key string, old, value []byte) (bool, error) {
	return s.swap(ns, key, old, value, false)
}

// DeleteRecord implements store.Records.
func (s *Store) DeleteRecord(ctx context.Context, ns, key string) error {
	_, err := s.swap(ns, key, nil, nil, true)
	return err
}

// swap writes (or, for a nil value, deletes) a record if it is old, or whatever it is when always.
func (s *Store) swap(ns, key string, old, value []byte, always bool) (bool, error) {
	if err := s.gate.Enter(); err != nil {
		return false, err
	}
	defer s.gate.Leave()
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	cur, ok := s.recs.m[ns][key]
	if !always && (ok != (old != nil) || !bytes.Equal(cur, old)) {
		return false, nil
	}
	if value == nil {
		delete(s.recs.m[ns], key)
		return true, nil
	}
	if s.recs.m == nil {
		s.recs.m = map[string]map[string][]byte{}
	}
	if s.recs.m[ns] == nil {
		s.recs.m[ns] = map[string][]byte{}
	}
	s.recs.m[ns][key] = slices.Clone(value)
	return true, nil
}

// ListRecords implements store.Records.
func (s *Store) ListRecords(ctx context.Context, ns string, fn func(key string, value []byte) bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	s.recs.mu.Lock()
	keys := make([]string, 0, len(s.recs.m[ns]))
	for k := range s.recs.m[ns] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = slices.Clone(s.recs.m[ns][k])
	}
	s.recs.mu.Unlock()
	for i, k := range keys {
		if !fn(k, vals[i]) {
			return nil
		}
	}
	return nil
}
