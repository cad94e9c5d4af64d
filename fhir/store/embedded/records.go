package embedded

import (
	"bytes"
	"context"

	"github.com/cockroachdb/pebble/v2"

	"fhirgate/fhir/store"
)

// The store's records (store.Records), under x <ns> 00 <key>. One process owns the files, so a mutex
// makes SwapRecord atomic; every write is synced before it returns.

// recordKey is the key of a record.
func recordKey(ns, key string) []byte {
	k := make([]byte, 0, 2+len(ns)+len(key))
	k = append(k, pRecord)
	k = append(k, ns...)
	k = append(k, 0)
	return append(k, key...)
}

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, ns, key string) ([]byte, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	b, ok, err := s.get(recordKey(ns, key))
	if err != nil {
		return nil, store.Unavailable(err)
	}
	if !ok {
		return nil, store.ErrNotFound
	}
	return b, nil
}

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, ns, key string, value []byte) error {
	_, err := s.swapRecord(ns, key, nil, value, true)
	return err
}

// SwapRecord implements store.Records.
func (s *Store) SwapRecord(ctx context.Context, ns, key string, old, value []byte) (bool, error) {
	return s.swapRecord(ns, key, old, value, false)
}

// DeleteRecord implements store.Records.
func (s *Store) DeleteRecord(ctx context.Context, ns, key string) error {
	_, err := s.swapRecord(ns, key, nil, nil, true)
	return err
}

// swapRecord writes (or, for a nil value, deletes) a record if it is old, or whatever it is when always.
func (s *Store) swapRecord(ns, key string, old, value []byte, always bool) (bool, error) {
	if err := s.gate.Enter(); err != nil {
		return false, err
	}
	defer s.gate.Leave()
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	k := recordKey(ns, key)
	if !always {
		cur, ok, err := s.get(k)
		if err != nil {
			return false, store.Unavailable(err)
		}
		if ok != (old != nil) || !bytes.Equal(cur, old) {
			return false, nil
		}
	}
	var err error
	if value == nil {
		err = s.db.Delete(k, pebble.Sync)
	} else {
		err = s.db.Set(k, value, pebble.Sync)
	}
	if err != nil {
		return false, store.Unavailable(err)
	}
	return true, nil
}

// ListRecords implements store.Records.
func (s *Store) ListRecords(ctx context.Context, ns string, fn func(key string, value []byte) bool) (err error) {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	prefix := recordKey(ns, "")
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return store.Unavailable(err)
	}
	defer closeIter(it, &err, store.Unavailable)
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[len(prefix):]), bytes.Clone(it.Value())) {
			break
		}
	}
	return store.Unavailable(it.Error())
}
