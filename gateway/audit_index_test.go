package gateway

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
)

// Every AuditEvent the audit sink stores while the gateway's tests run is checked: its bytes must be what
// encoding/json gives for the event; the index entries the auditor describes must be exactly those the
// generic indexer finds in the event's JSON, or a search would not find what the event says; and
// stamping it without parsing must give the bytes a parsed stamp gives.
var sinkChecks struct {
	sync.Mutex
	n   int
	bad []string
}

func init() {
	auditSinkCheck = func(svc *rest.Service, rec AuditRecord, op store.Op) {
		if rec.event == nil {
			return // not built by the auditor: indexed from its JSON
		}
		var problems []string
		if enc := fhir.MustJSON(rec.event); !bytes.Equal(enc, rec.Body) {
			problems = append(problems, fmt.Sprintf("it is not the bytes encoding/json gives:\n    %s", enc))
		}
		want, err := svc.IndexEntries("AuditEvent", rec.Body)
		if err != nil {
			problems = append(problems, "the generic indexer refuses it: "+err.Error())
		} else if w, g := entrySet(want), entrySet(op.Index); !slices.Equal(w, g) {
			problems = append(problems, fmt.Sprintf("its JSON indexes as\n    %s\n  the auditor described\n    %s",
				strings.Join(w, "\n    "), strings.Join(g, "\n    ")))
		}
		at := time.Date(2026, 11, 29, 10, 0, 0, 5e6, time.UTC)
		stamped, err := fhir.Stamp(rec.Body, rec.ID, 1, at)
		if op.Template == nil || err != nil || !bytes.Equal(op.Template.Render(1, at), stamped) {
			problems = append(problems, fmt.Sprintf("it is not stamped as a parsed stamp would (template %v, %v)", op.Template != nil, err))
		}
		sinkChecks.Lock()
		defer sinkChecks.Unlock()
		sinkChecks.n++
		for _, p := range problems {
			sinkChecks.bad = append(sinkChecks.bad, fmt.Sprintf("event %s\n  %s", rec.Body, p))
		}
	}
}

// entrySet is a list of entries as sorted distinct "param value" strings.
func entrySet(es []store.IndexEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %q", e.Param, e.Value))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		auditSinkCheck = nil // benchmarks measure the audit trail as it runs in production
	}
	code := m.Run()
	if bad := sinkChecks.bad; len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d problems in the %d audit events stored; the first:\n%s\n", len(bad), sinkChecks.n, bad[0])
		code = 1
	}
	os.Exit(code)
}

// TestAuditIndexMatchesJSON sends requests whose events fill every part of an AuditEvent (a read with
// consent, a search over several patients, a refusal, a write, an unidentified client, break-the-glass)
// and requires each event's described index to be its JSON's. The other tests' events are checked too,
// by TestMain.
func TestAuditIndexMatchesJSON(t *testing.T) {
	a := newAuthServer(t)
	house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house", "TREAT")
	adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
	btg := a.mint(t, "user/*.rs", "", "Practitioner/prac-house", "ETREAT")
	alice := a.mint(t, "patient/*.rs", "pat-alice", "Patient/pat-alice")
	sinkChecks.Lock()
	before, bad := sinkChecks.n, len(sinkChecks.bad)
	sinkChecks.Unlock()

	a.get(t, house, "/Patient/pat-alice").wantStatus(t, 200)
	a.get(t, house, "/Observation?_count=50").wantStatus(t, 200)
	a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 404)
	a.get(t, btg, "/Patient/pat-david").wantStatus(t, 200)
	a.get(t, alice, "/AuditEvent?patient=Patient/pat-alice").wantStatus(t, 200)
	a.do(t, "GET", "/Patient/pat-alice", nil).wantStatus(t, 401)
	a.do(t, "POST", "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}}`),
		"Authorization: Bearer "+house).wantStatus(t, 201)

	sinkChecks.Lock()
	defer sinkChecks.Unlock()
	if n := sinkChecks.n - before; n < 7 {
		t.Fatalf("%d events checked for 7 requests", n)
	}
	if len(sinkChecks.bad) > bad {
		t.Fatalf("%s", sinkChecks.bad[bad])
	}
}
