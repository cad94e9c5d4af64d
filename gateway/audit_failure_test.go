package gateway

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// failingSink is an audit store that fails, is full, or hangs.
type failingSink struct {
	mode  string // "error", "full", "hang"
	calls atomic.Int32
}

func (f *failingSink) Append(ctx context.Context, events []AuditRecord) error {
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
			a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, audit: &AuditConfig{Sink: sink, Deadline: 300 * time.Millisecond}})
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
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, audit: &AuditConfig{Sink: sink, FailOpen: true}})
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
	auditor := a.mint(t, "system/AuditEvent.rs", "", "")
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

func (discardSink) Append(context.Context, []AuditRecord) error { return nil }
