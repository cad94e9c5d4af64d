package audit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// Sink stores audit events durably: Append returns only once every event is stored (and chained), or
// fails. It is the trail's one device (in Vault's terms): the trail fails closed when it fails.
type Sink interface {
	Append(ctx context.Context, events []Record) error
}

// ProgressReporter is implemented by sinks that queue requests behind one another (StoreSink): Progress
// counts the commits completed so far. While it moves, a queued request is waiting on a store that works,
// not on one that hangs, so its deadline starts again (see AuditConfig.Deadline).
type ProgressReporter interface {
	Progress() uint64
}

// maxWait bounds the wait of one request for its audit record even while the store makes progress:
// past it, the server is overloaded and sheds the request with a 503.
const maxWait = 30 * time.Second

// Record is one AuditEvent to store, with its index entries and what the patient notices need to know
// of it.
type Record struct {
	ID   string
	Body []byte
	// Index holds the event's search index entries, and Template its body prepared for stamping, when the
	// trail built it (described value by value, not parsed: see describe); nil for an event reported by a
	// client, which the sink indexes from its JSON.
	Index    []store.IndexEntry
	Template *fhir.StampTemplate
	// Fresh is true when ID is one the trail made itself (time-ordered, random): the store need not
	// check that no event has it already (store.Op.Fresh).
	Fresh bool

	// Patient is the patient the event is about ("" for none); User the requesting user ("Practitioner/1",
	// "" for a backend service).
	Patient, User string
	// Accessed is true when the patient's data was served (not only refused).
	Accessed bool
	// BreakTheGlass is true when consent was overridden by break-the-glass.
	BreakTheGlass bool
	// Recorded is the event's recorded instant (ms precision, as stored).
	Recorded time.Time
}

// StoreSink appends audit events to the store, as chained AuditEvent resources indexed for search.
// Concurrent requests' events are committed together (group commit): while maxFlushers commits are in
// flight the next requests queue, and the next flusher commits the whole queue in one transaction, so
// that a busy server pays the store's per-commit cost once per group rather than once per request. Each
// Append still returns only once its own events are durable.
type StoreSink struct {
	store   store.Store
	indexer Indexer

	mu       sync.Mutex
	queue    []*pending
	flushers int // flushes in flight
	commits  atomic.Uint64
}

// Progress implements ProgressReporter: the group commits completed.
func (s *StoreSink) Progress() uint64 { return s.commits.Load() }

// maxGroup bounds the events of one group commit.
const maxGroup = 256

// maxFlushers group commits may be in flight at once: while one waits for its fsync, the next is
// prepared and handed to the store, whose log syncs it with the first or right after it. One at a time
// leaves the CPU idle during every fsync; more than two only makes the groups smaller (measured with
// BenchmarkReadAuditOn: 1 flusher 4,650-4,950 reads/s, 2 flushers 5,200-5,470, 4 flushers 4,580-5,030).
const maxFlushers = 2

type pending struct {
	ctx  context.Context
	ops  []store.Op
	done chan error
}

// Indexer gives the index entries of a resource body (the FHIR service's indexer), and starts the
// description of a resource its writer describes value by value.
type Indexer interface {
	IndexEntries(typ string, body []byte) ([]store.IndexEntry, error)
	Describe(typ string) *search.Description
}

// NewStoreSink returns a sink that stores events in st, indexed by indexer (the FHIR service).
func NewStoreSink(st store.Store, indexer Indexer) *StoreSink {
	return &StoreSink{store: st, indexer: indexer}
}

// Append implements Sink: all the events of a request in one commit, shared with other requests'.
func (s *StoreSink) Append(ctx context.Context, events []Record) error {
	ops := make([]store.Op, 0, len(events))
	for _, e := range events {
		op := store.Op{Type: "AuditEvent", ID: e.ID, Body: e.Body, Method: "POST", IfNoneExist: true, Chain: true, Fresh: e.Fresh,
			Index: e.Index, Template: e.Template}
		if op.Index == nil {
			var err error
			if op.Index, err = s.indexer.IndexEntries("AuditEvent", e.Body); err != nil {
				return err
			}
		}
		ops = append(ops, op)
	}
	p := &pending{ctx: ctx, ops: ops, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, p)
	if s.flushers < maxFlushers {
		s.flushers++
		s.mu.Unlock()
		s.flush()
	} else {
		s.mu.Unlock()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush commits the queue as one group, then hands the next group to a new flusher so that this
// request's answer is not held up by later ones.
func (s *StoreSink) flush() {
	s.mu.Lock()
	group, n := s.queue, 0
	for i, p := range group {
		if n+len(p.ops) > maxGroup && i > 0 {
			group = group[:i]
			break
		}
		n += len(p.ops)
	}
	s.queue = s.queue[len(group):]
	s.mu.Unlock()

	s.commit(group)

	s.mu.Lock()
	if len(s.queue) == 0 {
		s.flushers--
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	go s.flush()
}

// commit stores a group in one transaction. Requests whose deadline has passed are answered without
// being written; if the group fails, each request is retried alone so that one bad event (an id that
// exists already) cannot refuse the others.
func (s *StoreSink) commit(group []*pending) {
	live := group[:0:0]
	var ops []store.Op
	for _, p := range group {
		if err := p.ctx.Err(); err != nil {
			p.done <- err
			continue
		}
		live = append(live, p)
		ops = append(ops, p.ops...)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupContext(live)
	defer cancel()
	_, err := s.store.Commit(ctx, &store.Tx{Ops: ops})
	if err == nil {
		s.commits.Add(1)
	}
	if err == nil || len(live) == 1 {
		for _, p := range live {
			p.done <- err
		}
		return
	}
	for _, p := range live {
		_, err := s.store.Commit(p.ctx, &store.Tx{Ops: p.ops})
		if err == nil {
			s.commits.Add(1)
		}
		p.done <- err
	}
}

// groupContext lives until the latest deadline of the group's requests.
func groupContext(group []*pending) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, p := range group {
		d, ok := p.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
