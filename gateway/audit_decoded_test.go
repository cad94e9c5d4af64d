package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"fhirgate/fhir"
)

// Every AuditEvent built while the gateway's tests run is checked: the decoded form the sink indexes must
// be exactly what decoding its bytes gives, or the search index would not say what the event says; and
// stamping it without parsing must give the bytes a parsed stamp gives.
var decodedChecks struct {
	sync.Mutex
	n   int
	bad []string
}

func init() {
	auditDecodedCheck = func(rec AuditRecord) {
		body := rec.Body
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want map[string]any
		err := dec.Decode(&want)
		decodedChecks.Lock()
		defer decodedChecks.Unlock()
		decodedChecks.n++
		if err != nil || !reflect.DeepEqual(want, rec.decoded) {
			got, _ := json.Marshal(rec.decoded)
			decodedChecks.bad = append(decodedChecks.bad, fmt.Sprintf("event %s\n  decodes to %v\n  indexed as %s", body, want, got))
		}
		// The sink stamps it without parsing it: the same bytes as a parsed stamp.
		at := time.Date(2026, 11, 29, 10, 0, 0, 5e6, time.UTC)
		tm, ok := fhir.StampTemplateOfEncoded(body, "AuditEvent", rec.ID)
		stamped, err := fhir.Stamp(body, rec.ID, 1, at)
		if !ok || err != nil || !bytes.Equal(tm.Render(1, at), stamped) {
			decodedChecks.bad = append(decodedChecks.bad, fmt.Sprintf("event %s\n  is not stamped as parsed (template taken: %v, %v)", body, ok, err))
		}
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		auditDecodedCheck = nil // benchmarks measure the audit trail as it runs in production
	}
	code := m.Run()
	if bad := decodedChecks.bad; len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d of %d audit events are indexed from a decoded form that differs from their JSON; the first:\n%s\n",
			len(bad), decodedChecks.n, bad[0])
		code = 1
	}
	os.Exit(code)
}

// TestAuditDecodedMatchesJSON sends requests whose events fill every part of an AuditEvent (a read with
// consent, a search over several patients, a refusal, a write, an unidentified client, break-the-glass)
// and requires each event's decoded form to match its JSON. The other tests' events are checked too, by
// TestMain.
func TestAuditDecodedMatchesJSON(t *testing.T) {
	a := newAuthServer(t)
	house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house", "TREAT")
	adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
	btg := a.mint(t, "user/*.rs", "", "Practitioner/prac-house", "ETREAT")
	decodedChecks.Lock()
	before, bad := decodedChecks.n, len(decodedChecks.bad)
	decodedChecks.Unlock()

	a.get(t, house, "/Patient/pat-alice").wantStatus(t, 200)
	a.get(t, house, "/Observation?_count=50").wantStatus(t, 200)
	a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 404)
	a.get(t, btg, "/Patient/pat-david").wantStatus(t, 200)
	a.do(t, "GET", "/Patient/pat-alice", nil).wantStatus(t, 401)
	a.do(t, "POST", "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}}`),
		"Authorization: Bearer "+house).wantStatus(t, 201)

	decodedChecks.Lock()
	defer decodedChecks.Unlock()
	if n := decodedChecks.n - before; n < 6 {
		t.Fatalf("%d events checked for 6 requests", n)
	}
	if len(decodedChecks.bad) > bad {
		t.Fatalf("an event's decoded form differs from its JSON:\n%s", decodedChecks.bad[bad])
	}
}
