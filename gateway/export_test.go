package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/fhir/rest"
)

// Bulk Data $export over HTTP with real signed tokens, on the demo population: Alice denies the insurer,
// so its adviser's export has nothing of hers, while a research backend's has; each client sees only its
// own export; every exported patient's history shows the export.

type exportManifest struct {
	RequiresAccessToken bool `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
}

// startExport kicks off an export as token and returns its status URL.
func (a *authServer) startExport(t *testing.T, token, path string) string {
	t.Helper()
	r := a.do(t, "GET", path, nil, "Authorization: Bearer "+token, "Prefer: respond-async")
	r.wantStatus(t, 202)
	loc := r.header.Get("Content-Location")
	if !strings.HasPrefix(loc, a.base+"/$export-poll/") {
		t.Fatalf("Content-Location %q", loc)
	}
	return loc
}

// exported waits for the exports, reads the manifest at status and every file it lists, checking that
// each file has as many lines as its count, and returns the ids written per type.
func (a *authServer) exported(t *testing.T, token, status string) map[string]map[string]bool {
	t.Helper()
	a.exports.Wait()
	r := a.do(t, "GET", status, nil, "Authorization: Bearer "+token)
	r.wantStatus(t, 200)
	var m exportManifest
	if err := json.Unmarshal(r.body, &m); err != nil || !m.RequiresAccessToken {
		t.Fatalf("manifest %s: %v", r.body, err)
	}
	out := map[string]map[string]bool{}
	for _, o := range m.Output {
		f := a.do(t, "GET", o.URL, nil, "Authorization: Bearer "+token)
		f.wantStatus(t, 200)
		if ct := f.header.Get("Content-Type"); ct != "application/fhir+ndjson" {
			t.Errorf("file Content-Type %q", ct)
		}
		a.do(t, "GET", o.URL, nil).wantStatus(t, 401)
		lines := 0
		sc := bufio.NewScanner(bytes.NewReader(f.body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var res struct{ ResourceType, ID string }
			if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if out[res.ResourceType] == nil {
				out[res.ResourceType] = map[string]bool{}
			}
			out[res.ResourceType][res.ID] = true
			lines++
		}
		if lines != o.Count {
			t.Errorf("%s: %d lines, count %d", o.URL, lines, o.Count)
		}
	}
	return out
}

// exportEvents counts the AuditEvents of a patient that record an export by a client.
func (a *authServer) exportEvents(t *testing.T, patient, client string) int {
	t.Helper()
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")
	r := a.do(t, "GET", "/AuditEvent?patient=Patient/"+patient+"&_count=1000", nil, "Authorization: Bearer "+auditor)
	r.wantStatus(t, 200)
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range b.Entry {
		if s := string(e.Resource); strings.Contains(s, `"$export"`) && strings.Contains(s, client) {
			n++
		}
	}
	return n
}

func TestExportOverHTTP(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir(), MaxPerFile: 25}})
	insurer := a.mintAs(t, "insurer-app", "user/*.rs", "", "Practitioner/prac-adviser")
	research := a.mintAs(t, "research-app", "system/*.rs", "", "")
	patientTok := a.mintAs(t, "patient-app", "patient/*.rs", "pat-alice", "Patient/pat-alice")
	const kick = "/Patient/$export?_type=Patient,Observation"

	a.do(t, "GET", kick, nil, "Prefer: respond-async").wantStatus(t, 401)
	a.do(t, "GET", kick, nil, "Authorization: Bearer "+insurer).wantStatus(t, 400)
	a.do(t, "GET", kick, nil, "Authorization: Bearer "+patientTok, "Prefer: respond-async").wantStatus(t, 403)

	insurerStatus := a.startExport(t, insurer, kick)
	researchStatus := a.startExport(t, research, kick)
	got := a.exported(t, insurer, insurerStatus)
	if got["Patient"]["pat-alice"] {
		t.Error("Alice, who denies the insurer, is in the insurer's export")
	}
	if !got["Patient"]["pat-chloe"] || len(got["Observation"]) == 0 {
		t.Errorf("the insurer's export lacks the patients who did not deny it: %v", got["Patient"])
	}
	other := a.exported(t, research, researchStatus)
	if !other["Patient"]["pat-alice"] {
		t.Error("Alice is absent from the research client's export")
	}

	// Another client, or none, learns nothing of an export; an expired token of its own client gets a 401.
	expired := a.mintExpired(t, "insurer-app", "user/*.rs", "Practitioner/prac-adviser")
	var m exportManifest
	mustJSON(t, a.do(t, "GET", insurerStatus, nil, "Authorization: Bearer "+insurer).body, &m)
	if len(m.Output) == 0 {
		t.Fatal("the insurer's manifest lists no file")
	}
	for _, target := range []string{insurerStatus, m.Output[0].URL} {
		a.do(t, "GET", target, nil, "Authorization: Bearer "+research).wantStatus(t, 404)
		a.do(t, "GET", target, nil).wantStatus(t, 401)
		a.do(t, "GET", target, nil, "Authorization: Bearer "+expired).wantStatus(t, 401)
	}
	a.do(t, "GET", insurerStatus, nil).wantStatus(t, 401)
	a.do(t, "DELETE", insurerStatus, nil, "Authorization: Bearer "+research).wantStatus(t, 404)

	if n := a.exportEvents(t, "pat-alice", "insurer-app"); n != 0 {
		t.Errorf("Alice's history shows %d exports by the insurer, who got nothing of hers", n)
	}
	if n := a.exportEvents(t, "pat-alice", "research-app"); n != 1 {
		t.Errorf("Alice's history shows %d exports by the research client, want 1", n)
	}
	if n := a.exportEvents(t, "pat-chloe", "insurer-app"); n != 1 {
		t.Errorf("Chloé's history shows %d exports by the insurer, want 1", n)
	}

	a.do(t, "DELETE", insurerStatus, nil, "Authorization: Bearer "+insurer).wantStatus(t, 202)
	a.do(t, "GET", insurerStatus, nil, "Authorization: Bearer "+insurer).wantStatus(t, 404)
}

// TestExportGroup: a Group export has its members only; an unknown Group is 404.
func TestExportGroup(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir()}})
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	grp := `{"resourceType":"Group","id":"cohort","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/pat-chloe"}},{"entity":{"reference":"Patient/pat-alice"}}]}`
	a.do(t, "PUT", "/Group/cohort", []byte(grp), "Authorization: Bearer "+admin).wantStatus(t, 201)
	research := a.mintAs(t, "research-app", "system/*.rs", "", "")

	a.do(t, "GET", "/Group/nope/$export", nil, "Authorization: Bearer "+research, "Prefer: respond-async").wantStatus(t, 404)
	status := a.startExport(t, research, "/Group/cohort/$export?_type=Patient")
	got := a.exported(t, research, status)
	if len(got["Patient"]) != 2 || !got["Patient"]["pat-chloe"] || !got["Patient"]["pat-alice"] {
		t.Errorf("the group export has %v, want its two members", got["Patient"])
	}
}

// TestExportRunning: while an export runs, its status is 202 with X-Progress and Retry-After, another
// kick-off beyond --export-max-jobs is 429 with Retry-After, and DELETE cancels it.
func TestExportRunning(t *testing.T) {
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir(),
		MaxJobs: 1, RetryAfter: 9, Audit: func(ctx context.Context, _ rest.ExportAudit) error {
			select { // the first patient's export waits until the test lets it go, or is cancelled
			case held <- struct{}{}:
			default:
			}
			select {
			case <-hold:
			case <-ctx.Done():
			}
			return ctx.Err()
		}}})
	defer close(hold)
	research := a.mintAs(t, "research-app", "system/*.rs", "", "")
	status := a.startExport(t, research, "/Patient/$export")
	<-held
	r := a.do(t, "GET", status, nil, "Authorization: Bearer "+research)
	r.wantStatus(t, 202)
	if r.header.Get("X-Progress") == "" || r.header.Get("Retry-After") != "9" {
		t.Errorf("running status headers %v", r.header)
	}
	busy := a.do(t, "GET", "/Patient/$export", nil, "Authorization: Bearer "+research, "Prefer: respond-async")
	busy.wantStatus(t, 429)
	if busy.header.Get("Retry-After") != "9" {
		t.Errorf("429 Retry-After %q", busy.header.Get("Retry-After"))
	}
	a.do(t, "DELETE", status, nil, "Authorization: Bearer "+research).wantStatus(t, 202)
	a.exports.Wait()
	a.do(t, "GET", status, nil, "Authorization: Bearer "+research).wantStatus(t, 404)
}

// auditEvents returns, as an auditor sees them, the AuditEvents that name a bulk export (by its id).
func (a *authServer) exportAuditEvents(t *testing.T, query, job string) []map[string]any {
	t.Helper()
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")
	r := a.do(t, "GET", "/AuditEvent?"+query+"&_count=1000", nil, "Authorization: Bearer "+auditor)
	r.wantStatus(t, 200)
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range b.Entry {
		raw, _ := json.Marshal(e.Resource)
		if bytes.Contains(raw, []byte(`{"system":"urn:fhirgate:export","value":"`+job+`"}`)) {
			out = append(out, e.Resource)
		}
	}
	return out
}

// TestExportConsentByPurpose: a payer exporting under HPAYMT gets nothing of David, whose Consent refuses
// payment purposes, while a care provider's export (TREAT) has him; the counts are those of the lines;
// David's history shows the export that included him, naming its id, its client and its purpose, and not
// the one that did not; each export's kick-off and end are recorded too, naming it, about no patient.
func TestExportConsentByPurpose(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir(), MaxPerFile: 7}})
	payer := a.mintAs(t, "payer-app", "system/*.rs", "", "", "HPAYMT")
	care := a.mintAs(t, "care-app", "system/*.rs", "", "", "TREAT")
	const kick = "/Patient/$export?_type=Patient,Observation,Condition"
	payerStatus := a.startExport(t, payer, kick)
	careStatus := a.startExport(t, care, kick)
	paid := a.exported(t, payer, payerStatus)
	cared := a.exported(t, care, careStatus)
	if paid["Patient"]["pat-david"] {
		t.Error("David, who refuses payment purposes, is in the payer's export")
	}
	if !cared["Patient"]["pat-david"] {
		t.Error("David is absent from the care provider's export")
	}
	if !paid["Patient"]["pat-chloe"] {
		t.Errorf("the payer's export lacks the patients who did not refuse it: %v", paid["Patient"])
	}
	jobOf := func(status string) string { return status[strings.LastIndex(status, "/")+1:] }
	payerJob, careJob := jobOf(payerStatus), jobOf(careStatus)

	if evs := a.exportAuditEvents(t, "patient=Patient/pat-david", payerJob); len(evs) != 0 {
		t.Errorf("David's history shows %d events of the payer's export, which had nothing of his", len(evs))
	}
	evs := a.exportAuditEvents(t, "patient=Patient/pat-david", careJob)
	if len(evs) != 1 {
		t.Fatalf("David's history shows %d events of the care provider's export, want 1", len(evs))
	}
	raw, _ := json.Marshal(evs[0])
	for _, want := range []string{`"display":"$export"`, `"care-app"`, `"code":"TREAT"`, `"code":"20","display":"Job"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("David's export event lacks %s: %s", want, raw)
		}
	}
	if evs := a.exportAuditEvents(t, "patient=Patient/pat-chloe", payerJob); len(evs) != 1 || !bytes.Contains(must(json.Marshal(evs)), []byte(`"code":"HPAYMT"`)) {
		t.Errorf("Chloé's history: %d events of the payer's export (want 1, for HPAYMT)", len(evs))
	}
	for _, job := range []string{payerJob, careJob} {
		n := 0
		for _, ev := range a.exportAuditEvents(t, "type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest", job) {
			if raw, _ := json.Marshal(ev); !bytes.Contains(raw, []byte(`"code":"1","display":"Patient"`)) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("export %s: %d events about no patient, want 2 (its kick-off and its end)", job, n)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// holdingSink holds the storing of the events of one client's requests until released: those requests
// stay in progress meanwhile. It counts the events of patients exported.
type holdingSink struct {
	audit.Sink
	client   string
	held     chan struct{} // told when a request is held
	release  chan struct{}
	exported *atomic.Int64
}

func (s holdingSink) Append(ctx context.Context, events []audit.Record) error {
	for _, ev := range events {
		if bytes.Contains(ev.Body, []byte(`"`+s.client+`"`)) {
			s.held <- struct{}{}
			<-s.release
		}
		if bytes.Contains(ev.Body, []byte(audit.ExportSystem)) && bytes.Contains(ev.Body, []byte(`"display":"Patient"}`)) {
			s.exported.Add(1) // a patient's export
		}
	}
	return s.Sink.Append(ctx, events)
}

// TestExportYieldsToLiveRequests: while a request is in progress (ExportYieldAt 1), an export exports no
// one (each patient may wait an hour here, MaxYield); when it ends, the export goes on to its end.
func TestExportYieldsToLiveRequests(t *testing.T) {
	var exported atomic.Int64
	held, release := make(chan struct{}, 1), make(chan struct{})
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir(), MaxYield: time.Hour},
		exportYieldAt: 1, wrapSink: func(s audit.Sink) audit.Sink {
			return holdingSink{Sink: s, client: "slow-app", held: held, release: release, exported: &exported}
		}})
	slow := a.mintAs(t, "slow-app", "system/*.rs", "", "")
	research := a.mintAs(t, "research-app", "system/*.rs", "", "")
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("GET", a.base+"/Patient/pat-chloe", nil)
		req.Header.Set("Authorization", "Bearer "+slow)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-held // the read is in progress, its audit held
	status := a.startExport(t, research, "/Patient/$export?_type=Patient")
	time.Sleep(300 * time.Millisecond) // time enough to export the demo population many times over
	if n := exported.Load(); n != 0 {
		t.Errorf("%d export events stored while a request was in progress", n)
	}
	a.do(t, "GET", status, nil, "Authorization: Bearer "+research).wantStatus(t, 202)
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("the held read ended %d", code)
	}
	if got := a.exported(t, research, status); !got["Patient"]["pat-chloe"] {
		t.Errorf("the export, once free to go on, lacks patients: %v", got["Patient"])
	}
	if exported.Load() == 0 {
		t.Error("no export event stored")
	}
}

// TestExportGuardKept: what an export keeps of its guard (to be resumed by another process) makes a guard
// for the same principal, with the same scopes and purpose, and holds no token.
func TestExportGuardKept(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir()}})
	tok := a.mintAs(t, "payer-app", "system/Patient.rs system/Observation.rs", "", "", "HPAYMT")
	r, err := http.NewRequest("GET", a.base+"/Patient", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	policy := a.srv.policy.(TokenPolicy)
	g, err := policy.GuardFor(r)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := saveExportGuard(g)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(kept, []byte(tok)) || bytes.Contains(kept, []byte(strings.Split(tok, ".")[2])) {
		t.Errorf("the token is kept: %s", kept)
	}
	restored, err := restoreExportGuard(policy.Access)(kept)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := restored.(Guard).Principal(), g.Principal(); !reflect.DeepEqual(got, want) {
		t.Errorf("restored principal\n %+v\nwant %+v", got, want)
	}
	if _, err := saveExportGuard(openGuard{}); err == nil {
		t.Error("a guard without a principal was kept")
	}
}
