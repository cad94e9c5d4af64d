package memstore

import (
	"context"
	"iter"
	"sort"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/commit"
)

// Read implements store.Store.
func (s *Store) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.resources[ref{typ, id}]
	if r == nil {
		return nil, store.ErrNotFound
	}
	return cloneVersion(r.current()), nil
}

// ReadMany implements store.Store.
func (s *Store) ReadMany(ctx context.Context, typ string, ids []string) ([]*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*store.Version, len(ids))
	for i, id := range ids {
		if r := s.resources[ref{typ, id}]; r != nil {
			out[i] = cloneVersion(r.current())
		}
	}
	return out, nil
}

// ReadVersion implements store.Store.
func (s *Store) ReadVersion(ctx context.Context, typ, id string, vid uint64) (*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := s.version(ref{typ, id}, vid)
	if v == nil {
		return nil, store.ErrNotFound
	}
	return cloneVersion(v), nil
}

// version returns a version as stored (nil when there is none); the caller holds mu.
func (s *Store) version(k ref, vid uint64) *store.Version {
	r := s.resources[k]
	if r == nil || vid == 0 || vid > uint64(len(r.versions)) {
		return nil
	}
	return r.versions[vid-1]
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) ([]*store.Version, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if q.ID != "" {
		return commit.Collect(ctx, q, s.instanceVersions(ref{q.Type, q.ID}))
	}
	log := s.system
	if q.Type != "" {
		log = s.types[q.Type]
	}
	return commit.Collect(ctx, q, s.logVersions(log, q.Before))
}

// instanceVersions offers a resource's versions newest first; the caller holds mu.
func (s *Store) instanceVersions(k ref) iter.Seq2[*store.Version, error] {
	return func(yield func(*store.Version, error) bool) {
		r := s.resources[k]
		if r == nil {
			return
		}
		for i := len(r.versions) - 1; i >= 0; i-- {
			if !yield(cloneVersion(r.versions[i]), nil) {
				return
			}
		}
	}
}

// logVersions offers the versions of a history (the system's or a type's) before a sequence number (0:
// all), newest first; the caller holds mu.
func (s *Store) logVersions(log []entry, before uint64) iter.Seq2[*store.Version, error] {
	return func(yield func(*store.Version, error) bool) {
		end := len(log)
		if before > 0 {
			end = sort.Search(len(log), func(i int) bool { return log[i].seq >= before })
		}
		for i := end - 1; i >= 0; i-- {
			e := log[i]
			v := s.version(e.ref, e.vid)
			if v == nil {
				yield(nil, commit.Entry{Type: e.ref.typ, ID: e.ref.id, VersionID: e.vid}.Missing(nil))
				return
			}
			if !yield(cloneVersion(v), nil) {
				return
			}
		}
	}
}
