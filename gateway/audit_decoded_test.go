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
)

// Every AuditEvent built while the gateway's tests run is checked: the decoded form the sink indexes must
// be exactly what decoding its bytes gives, or the search index would not say what the event says.
var decodedChecks struct {
	sync.Mutex
	n   int
	bad []string
}

func init() {
	auditDecodedCheck = func(body []byte, decoded map[string]any) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want map[string]any
		err := dec.Decode(&want)
		decodedChecks.Lock()
		defer decodedChecks.Unlock()
		decodedChecks.n++
		if err != nil || !reflect.DeepEqual(want, decoded) {
			got, _ := json.Marshal(decoded)
			decodedChecks.bad = append(decodedChecks.bad, fmt.Sprintf("event %s\n  decodes to %v\n  indexed as %s", body, want, got))
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
