package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLogsCarryNoPatient: a development server runs the demo scenario — reads, refusals by consent and
// by scope, requests without a token, break-the-glass (and so notices), a patient reading her own access
// history, writes — and its logs hold none of the demo patients' ids or names. (The start banner, printed
// for the developer, is not a log line: log lines are the structured ones.)
func TestLogsCarryNoPatient(t *testing.T) {
	addr := freeAddr(t)
	server := "http://" + addr
	p := launch(t, addr, "serve", "--dev", "--store", "file:"+t.TempDir(), "--addr", addr, "--base-url", server+"/fhir")
	tok := func(form ...string) string {
		t.Helper()
		v := map[string][]string{"grant_type": {"client_credentials"}, "client_id": {"logs-test"}}
		for i := 0; i+1 < len(form); i += 2 {
			v[form[i]] = []string{form[i+1]}
		}
		return issueToken(t, server, v)
	}
	martin := tok("scope", "user/*.cruds", "fhirUser", "Practitioner/prac-martin")
	house := tok("scope", "user/*.rs", "fhirUser", "Practitioner/prac-house")
	adviser := tok("scope", "user/*.rs", "fhirUser", "Practitioner/prac-adviser")
	btg := tok("scope", "user/*.rs", "fhirUser", "Practitioner/prac-adviser", "purpose_of_use", "BTG")
	alice := tok("scope", "patient/*.rs", "patient", "pat-alice", "fhirUser", "Patient/pat-alice")
	narrow := tok("scope", "user/Observation.rs", "fhirUser", "Practitioner/prac-house")
	for _, rq := range []struct{ method, path, token, body string }{
		{"GET", "/Patient/pat-alice", martin, ""},
		{"GET", "/Patient/pat-bob/$everything", martin, ""},
		{"GET", "/Patient/pat-bob", house, ""},
		{"GET", "/Condition/cond-chloe-1", martin, ""},
		{"GET", "/Patient/pat-alice", adviser, ""},
		{"GET", "/Patient/pat-alice", btg, ""},
		{"GET", "/Patient/pat-david", btg, ""},
		{"GET", "/Patient/pat-chloe", narrow, ""},
		{"GET", "/Patient/pat-alice", "", ""},
		{"GET", "/Patient?name=Dupont", "garbage", ""},
		{"GET", "/AuditEvent?patient=Patient/pat-alice", alice, ""},
		{"POST", "/Observation", martin, `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-bob"}}`},
		{"POST", "/Observation", martin, `{"resourceType":"Observation","status":"bad","subject":{"reference":"Patient/pat-bob"}}`},
		{"DELETE", "/Observation/obs-bob-01", house, ""},
	} {
		call(t, rq.method, server+"/fhir"+rq.path, rq.token, rq.body)
	}
	time.Sleep(300 * time.Millisecond) // the notices are written off the request path
	p.stop(t)
	secrets := []string{"pat-alice", "pat-bob", "pat-chloe", "pat-david", "cond-chloe", "obs-bob", "Dupont", "Leroy", "Bernard", "Petit", "Alice", "Chloé"}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "time=") {
			continue
		}
		lines++
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("a log line names %q: %s", s, line)
			}
		}
	}
	if lines < 5 || !strings.Contains(p.logs.String(), "patient notice") {
		t.Fatalf("%d log lines, no notice among them: the scenario did not run as meant\n%s", lines, p.logs)
	}
	if os.Getenv("FHIRGATE_SHOW_LOGS") != "" {
		t.Log(p.logs.String())
	}
}
