package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fhirgate/audit"
)

// failingSink is an audit store that fails, is full, or hangs.
type failingSink struct {
	mode  string // "error", "full", "hang"
	calls atomic.Int32
}

func (f *failingSink) Append(ctx context.Context, events []audit.Record) error {
	f.calls.Add(1)
	switch f.mode {
	case "full":
		return syscall.ENOSPC
	case "hang":
		<-make(chan struct{}) // never answers, whatever the context says
	}
	return errors.New("audit store unreachable")
}

// TestAuditFailureClosed: when the access cannot be recorded — the store fails, is full, or hangs —
// the client gets a 503 without patient data, within the deadline.
func TestAuditFailureClosed(t *testing.T) {
	for _, mode := range []string{"error", "full", "hang"} {
		t.Run(mode, func(t *testing.T) {
			sink := &failingSink{mode: mode}
			a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, audit: &audit.Config{Sink: sink, Deadline: 300 * time.Millisecond}})
			tok := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
			start := time.Now()
			r := a.get(t, tok, "/Patient/pat-alice")
			elapsed := time.Since(start)
			r.wantStatus(t, 503)
			if strings.Contains(string(r.body), "Dupont") || r.header.Get("X-Consent-Decision") != "" {
				t.Fatalf("patient data left without an audit record: %s", r.body)
			}
			if code, _, _ := r.issue(t); code != "transient" {
				t.Fatalf("issue code %q", code)
			}
			if elapsed > 2*time.Second {
				t.Fatalf("the refusal took %s: the deadline was not honoured", elapsed)
			}
			if sink.calls.Load() == 0 {
				t.Fatal("the audit store was never asked")
			}
			// A search is refused the same way.
			a.get(t, tok, "/Observation?patient=pat-alice").wantStatus(t, 503)
		})
	}
}

// TestAuditFailureOpen: with --audit-failure open the response is served (and the failure logged).
func TestAuditFailureOpen(t *testing.T) {
	sink := &failingSink{mode: "full"}
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, audit: &audit.Config{Sink: sink, FailOpen: true}})
	r := a.get(t, a.mint(t, "user/*.rs", "", "Practitioner/prac-martin"), "/Patient/pat-alice")
	r.wantStatus(t, 200)
	if r.header.Get("X-Audit-Event") != "" {
		t.Fatal("an X-Audit-Event header names events that were not stored")
	}
}

// TestEveryResponseNamesItsAuditEvents: X-Audit-Event on successes and refusals, and the events exist.
func TestEveryResponseNamesItsAuditEvents(t *testing.T) {
	a := newAuthServer(t)
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")
	for _, tc := range []struct {
		name, token, path string
		status            int
	}{
		{"read", martin, "/Patient/pat-alice", 200},
		{"search", martin, "/Observation?patient=pat-bob&_count=2", 200},
		{"search of a whole type", martin, "/Observation?_count=3", 200},
		{"consent refusal", a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser"), "/Patient/pat-alice", 404},
		{"no token", "", "/Patient/pat-alice", 401},
		{"forbidden", a.mint(t, "openid", "", "Practitioner/prac-martin"), "/Patient/pat-alice", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.token != "" {
				h = append(h, "Authorization: Bearer "+tc.token)
			}
			r := a.do(t, "GET", tc.path, nil, h...)
			r.wantStatus(t, tc.status)
			refs := r.header.Get("X-Audit-Event")
			if refs == "" {
				t.Fatal("no X-Audit-Event header")
			}
			for _, ref := range strings.Split(refs, ", ") {
				if !strings.HasPrefix(ref, "AuditEvent/") {
					t.Fatalf("X-Audit-Event %q", refs)
				}
				ev := a.get(t, auditor, "/"+ref)
				ev.wantStatus(t, 200)
				if tc.status >= 400 && !strings.Contains(string(ev.body), `"outcome":"4"`) {
					t.Fatalf("a refusal recorded as %s", ev.body)
				}
			}
		})
	}
}

// discardSink stores nothing (the audit-off baseline of the benchmarks).
type discardSink struct{}

func (discardSink) Append(context.Context, []audit.Record) error { return nil }

// queuedSink stores one request at a time, each taking a while, and reports its progress like
// StoreSink: a store that works, under load.
type queuedSink struct {
	mu    sync.Mutex
	took  time.Duration
	done  atomic.Uint64
	stuck atomic.Bool // stop making progress
}

func (q *queuedSink) Append(ctx context.Context, events []audit.Record) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	time.Sleep(q.took)
	q.done.Add(1)
	return nil
}

func (q *queuedSink) Progress() uint64 { return q.done.Load() }

// TestAuditDeadlineUnderLoad: requests queued behind others' audit commits wait past the deadline while
// the store keeps completing commits (load is not a hang), and get their 503 within the deadline once
// it stops.
func TestAuditDeadlineUnderLoad(t *testing.T) {
	sink := &queuedSink{took: 100 * time.Millisecond}
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, audit: &audit.Config{Sink: sink, Deadline: 250 * time.Millisecond}})
	tok := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
	const n = 12 // the last waits about 1.2 s, well past the deadline
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { statuses <- a.get(t, tok, "/Patient/pat-alice").status })
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Fatalf("a request queued behind working commits got %d", s)
		}
	}
	if sink.done.Load() != n {
		t.Fatalf("%d commits for %d requests", sink.done.Load(), n)
	}
	sink.stuck.Store(true)
	start := time.Now()
	a.get(t, tok, "/Patient/pat-alice").wantStatus(t, 503)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("a store that stopped making progress answered after %s", elapsed)
	}
}
