// Package memstore is an in-memory storage engine: the whole storage contract (package store) —
// versions, history, atomic commits with preconditions, the search index, the audit chain — held in
// maps and slices under a lock, with no durability at all: everything is gone when the process ends or
// the store is closed. It serves tests, which want a store that opens in no time and leaves nothing
// behind, and the in-memory FHIR service. Its commits are decided by the same planner as the durable
// engines' (package commit), so that it gives the answers they give; it passes the conformance suite
// (storetest) and its audit chain verifies (store.VerifyChain) like theirs.
//
// The files: memstore.go the engine; commit.go the commit; read.go reads by id and version and the
// history; index.go index and id scans; chain.go the audit chain; sorted.go the sorted sets the scans
// walk.
package memstore

import (
	"context"
	"sync"
	"time"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/commit"
)

// Config configures the engine.
type Config struct {
	// Now is the clock (time.Now when nil); tests inject a fixed clock.
	Now func() time.Time
	// CommitObserver, when set, is told how long each commit took (metrics).
	CommitObserver func(d time.Duration, ops int, err error)
}

// Store is the in-memory engine. It is safe for concurrent use.
type Store struct {
	planner commit.Planner
	gate    commit.Gate

	// commitMu is the commit lane: one commit decides and applies at a time. A commit decides holding it
	// alone, so that its Check can read the store; it takes mu only to apply.
	commitMu sync.Mutex
	// mu guards the data below: held shared by reads, exclusively by a commit while it applies. Only
	// commits write, so the lane reads the data under commitMu alone.
	mu        sync.RWMutex
	state     commit.State
	resources map[ref]*resource
	system    []entry              // the system history, by Seq
	types     map[string][]entry   // each type's history, by Seq
	index     map[string]sortedSet // <type> 00 <param> -> index entry tails (codec.IndexTail)
	ids       map[string]sortedSet // type -> the ids that exist (not deleted)
	chain     []store.ChainRecord  // the audit chain: link n at n-1
	changes   map[string]uint64    // type -> versions written of the type

	recs records // the store's records (records.go)
}

var _ store.Store = (*Store)(nil)

// ref names a resource.
type ref struct{ typ, id string }

// resource is every version of a resource and the index entries of its current one.
type resource struct {
	versions []*store.Version // version n at n-1
	entries  []store.IndexEntry
}

// current returns the resource's current version.
func (r *resource) current() *store.Version { return r.versions[len(r.versions)-1] }

// entry is a history entry: a version, at its Seq.
type entry struct {
	seq uint64
	ref ref
	vid uint64
}

// New returns an empty store.
func New(cfg Config) *Store {
	return &Store{
		planner:   commit.Planner{Now: cfg.Now, Observer: cfg.CommitObserver},
		resources: map[ref]*resource{},
		types:     map[string][]entry{},
		index:     map[string]sortedSet{},
		ids:       map[string]sortedSet{},
		changes:   map[string]uint64{},
	}
}

// Changes implements store.Store.
func (s *Store) Changes(ctx context.Context, typ string) (uint64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changes[typ], nil
}

// Ping implements store.Store: an open store always serves.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	s.gate.Leave()
	return nil
}

// Close implements store.Store: it waits for operations in progress and lets the data go.
func (s *Store) Close() error {
	return s.gate.Close(func() error {
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.resources, s.system, s.types, s.index, s.ids, s.chain, s.changes = nil, nil, nil, nil, nil, nil, nil
		return nil
	})
}
