package gateway

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
)

// Every AuditEvent the trail stores in a test's server is checked (checkedSink): the index entries the
// trail describes must be exactly those the generic indexer finds in the event's JSON, or a search would not
// find what the event says; and stamping it without parsing must give the bytes a parsed stamp gives. (That
// its bytes are what encoding/json gives is the audit package's own test.) The test that made the server
// fails, by its own name, when one of its events breaks the rule.
type sinkChecks struct {
	sync.Mutex
	n   int
	bad []string
}

// checkedSink checks the events it is given, then stores them.
type checkedSink struct {
	audit.Sink
	svc    *rest.Service
	checks *sinkChecks
}

// checkEventsOf makes the test fail when its server's sink found a bad event.
func checkEventsOf(t testing.TB, c *sinkChecks) {
	t.Cleanup(func() {
		c.Lock()
		defer c.Unlock()
		if len(c.bad) > 0 {
			t.Errorf("%d problems in the %d audit events stored; the first:\n%s", len(c.bad), c.n, c.bad[0])
		}
	})
}

func (c checkedSink) Append(ctx context.Context, events []audit.Record) error {
	for _, rec := range events {
		if rec.Index == nil {
			continue // not built by the trail: indexed from its JSON
		}
		var problems []string
		want, err := c.svc.IndexEntries("AuditEvent", rec.Body)
		if err != nil {
			problems = append(problems, "the generic indexer refuses it: "+err.Error())
		} else if w, g := entrySet(want), entrySet(rec.Index); !slices.Equal(w, g) {
			problems = append(problems, fmt.Sprintf("its JSON indexes as\n    %s\n  the trail described\n    %s",
				strings.Join(w, "\n    "), strings.Join(g, "\n    ")))
		}
		at := time.Date(2026, 11, 29, 10, 0, 0, 5e6, time.UTC)
		stamped, err := fhir.Stamp(rec.Body, rec.ID, 1, at)
		if rec.Template == nil || err != nil || !bytes.Equal(rec.Template.Render(1, at), stamped) {
			problems = append(problems, fmt.Sprintf("it is not stamped as a parsed stamp would (template %v, %v)", rec.Template != nil, err))
		}
		c.checks.Lock()
		c.checks.n++
		for _, p := range problems {
			c.checks.bad = append(c.checks.bad, fmt.Sprintf("event %s\n  %s", rec.Body, p))
		}
		c.checks.Unlock()
	}
	return c.Sink.Append(ctx, events)
}

// Progress passes on the store sink's progress (the trail's deadline counts from it).
func (c checkedSink) Progress() uint64 { return c.Sink.(audit.ProgressReporter).Progress() }

// entrySet is a list of entries as sorted distinct "param value" strings.
func entrySet(es []store.IndexEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %q", e.Param, e.Value))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestAuditIndexMatchesJSON sends requests whose events fill every part of an AuditEvent (a read with
// consent, a search over several patients, a refusal, a write, an unidentified client, break-the-glass)
// and requires each event's described index to be its JSON's. (Every other test's events are checked too,
// by its server's checkedSink.)
func TestAuditIndexMatchesJSON(t *testing.T) {
	a := newAuthServer(t)
	checks := a.sinkChecks
	house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house", "TREAT")
	adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
	btg := a.mint(t, "user/*.rs", "", "Practitioner/prac-house", "ETREAT")
	alice := a.mint(t, "patient/*.rs", "pat-alice", "Patient/pat-alice")

	a.get(t, house, "/Patient/pat-alice").wantStatus(t, 200)
	a.get(t, house, "/Observation?_count=50").wantStatus(t, 200)
	a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 404)
	a.get(t, btg, "/Patient/pat-david").wantStatus(t, 200)
	a.get(t, alice, "/AuditEvent?patient=Patient/pat-alice").wantStatus(t, 200)
	a.do(t, "GET", "/Patient/pat-alice", nil).wantStatus(t, 401)
	a.do(t, "POST", "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}}`),
		"Authorization: Bearer "+house).wantStatus(t, 201)

	checks.Lock()
	defer checks.Unlock()
	if checks.n < 7 {
		t.Fatalf("%d events checked for 7 requests", checks.n)
	}
	if len(checks.bad) > 0 {
		t.Fatalf("%s", checks.bad[0])
	}
}
