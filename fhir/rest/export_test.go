package rest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/fhir/search"
)

// Bulk Data $export (https://hl7.org/fhir/uv/bulkdata/export.html): kick-off, status, manifest and files;
// every resource through the guard's Read, so that what it refuses is simply absent.

// patientHidingGuard allows everything but one patient's data, as a Consent refusing the client would.
type patientHidingGuard struct {
	rest.AllowAll
	patient string
}

func (g patientHidingGuard) Read(_ context.Context, _ *rest.Request, f *search.Facts) error {
	if slices.Contains(f.DataPatients(), g.patient) || f.Ref() == g.patient {
		return fhir.NotFound(f.Type, f.ID)
	}
	return nil
}

// blockingGuard holds every Read until release is closed (a job that stays running, without timing).
type blockingGuard struct {
	rest.AllowAll
	release chan struct{}
}

func (g blockingGuard) Read(ctx context.Context, _ *rest.Request, _ *search.Facts) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exportEnv is a service with three patients (p1, p2, p3), two observations each, an organization, and
// a Group of p1 and p2; audited collects the patients whose export was recorded.
type exportEnv struct {
	*resttest.Env
	exports *rest.Exports
	dir     string
	audited chan string
}

func newExportEnv(t *testing.T, cfg rest.ExportConfig) *exportEnv {
	t.Helper()
	env := resttest.New(t)
	for _, p := range []string{"p1", "p2", "p3"} {
		env.Put(t, patient(p, "Family"+p, "female"))
		env.Put(t, observation(p+"-o1", "Patient/"+p))
		env.Put(t, observation(p+"-o2", "Patient/"+p))
	}
	env.Put(t, `{"resourceType":"Organization","id":"org1","name":"Clinic"}`)
	env.Put(t, `{"resourceType":"Group","id":"g1","type":"person","actual":true,`+
		`"member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p2"}}]}`)
	x := &exportEnv{Env: env, audited: make(chan string, 1000)}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	x.dir = cfg.Dir
	cfg.Audit = func(_ context.Context, a rest.ExportAudit) error {
		for _, ps := range a.Request.Ledger.Noted() {
			for _, p := range ps {
				x.audited <- a.Job + " " + p
			}
		}
		return nil
	}
	var err error
	if x.exports, err = rest.NewExports(env.Service, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.exports.Close(); err != nil {
			t.Error(err)
		}
	})
	return x
}

func kickoff(typ, id, caller string, params url.Values) *rest.Request {
	return &rest.Request{Interaction: rest.Operation, Operation: "export", Type: typ, ID: id, Params: params,
		RespondAsync: true, Caller: caller}
}

// jobOf returns the job id of a kick-off's Content-Location.
func jobOf(t *testing.T, resp *rest.Response) string {
	t.Helper()
	resttest.WantStatus(t, resp, 202)
	id, ok := strings.CutPrefix(resp.ContentLocation, resttest.BaseURL+"/$export-poll/")
	if !ok {
		t.Fatalf("Content-Location %q is not a status URL", resp.ContentLocation)
	}
	return id
}

func poll(job, caller string) *rest.Request {
	return &rest.Request{Interaction: rest.Operation, Operation: "export-poll", ID: job, Caller: caller}
}

type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
}

// download reads every file of a manifest as the caller: the refs written, per type, checking that each
// file has as many lines as its count.
func (x *exportEnv) download(t *testing.T, g rest.Guard, caller string, m manifest) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, o := range m.Output {
		tail, ok := strings.CutPrefix(o.URL, resttest.BaseURL+"/$export-file/")
		job, name, ok2 := strings.Cut(tail, "/")
		if !ok || !ok2 {
			t.Fatalf("file URL %q", o.URL)
		}
		resp, err := x.Service.Do(context.Background(), g, &rest.Request{Interaction: rest.Operation,
			Operation: "export-file", ID: job, VersionID: name, Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		if resp.ContentType != "application/fhir+ndjson" || resp.BodyFile == "" {
			t.Fatalf("file answered as %q %q", resp.ContentType, resp.BodyFile)
		}
		f, err := os.Open(resp.BodyFile)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r struct{ ResourceType, ID string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %d of %s: %v", lines+1, name, err)
			}
			if r.ResourceType != o.Type {
				t.Errorf("%s in the %s file", r.ResourceType, o.Type)
			}
			out[o.Type] = append(out[o.Type], r.ResourceType+"/"+r.ID)
			lines++
		}
		_ = f.Close()
		if lines != o.Count {
			t.Errorf("%s: %d lines, manifest count %d", name, lines, o.Count)
		}
	}
	for _, refs := range out {
		slices.Sort(refs)
	}
	return out
}

// finished waits for the jobs and returns the manifest of job.
func (x *exportEnv) finished(t *testing.T, g rest.Guard, job, caller string) manifest {
	t.Helper()
	x.exports.Wait()
	resp, err := x.Service.Do(context.Background(), g, poll(job, caller))
	if err != nil {
		t.Fatal(err)
	}
	resttest.WantStatus(t, resp, 200)
	var m manifest
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatal(err)
	}
	if !m.RequiresAccessToken || m.TransactionTime == "" || !strings.Contains(m.Request, "$export") {
		t.Errorf("manifest %s", resp.Body)
	}
	return m
}

func TestExportKickoffToDownload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		typ, id string
		params  url.Values
		want    map[string][]string
	}{
		{"patient level", "Patient", "", nil, map[string][]string{
			"Group":       {"Group/g1"}, // in p1's and p2's compartments, written once
			"Patient":     {"Patient/p1", "Patient/p2", "Patient/p3"},
			"Observation": {"Observation/p1-o1", "Observation/p1-o2", "Observation/p2-o1", "Observation/p2-o2", "Observation/p3-o1", "Observation/p3-o2"},
		}},
		{"group", "Group", "g1", nil, map[string][]string{
			"Group":       {"Group/g1"},
			"Patient":     {"Patient/p1", "Patient/p2"},
			"Observation": {"Observation/p1-o1", "Observation/p1-o2", "Observation/p2-o1", "Observation/p2-o2"},
		}},
		{"_type", "Patient", "", url.Values{"_type": {"Observation"}, "_outputFormat": {"application/fhir+ndjson"}}, map[string][]string{
			"Observation": {"Observation/p1-o1", "Observation/p1-o2", "Observation/p2-o1", "Observation/p2-o2", "Observation/p3-o1", "Observation/p3-o2"},
		}},
		{"system level", "", "", url.Values{"_type": {"Patient,Organization,Group"}}, map[string][]string{
			"Patient":      {"Patient/p1", "Patient/p2", "Patient/p3"},
			"Organization": {"Organization/org1"},
			"Group":        {"Group/g1"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newExportEnv(t, rest.ExportConfig{MaxPerFile: 4})
			job := jobOf(t, x.Must(t, kickoff(tc.typ, tc.id, "client-a", tc.params)))
			m := x.finished(t, x.Guard, job, "client-a")
			got := x.download(t, x.Guard, "client-a", m)
			if len(got) != len(tc.want) {
				t.Errorf("types %v, want %v", got, tc.want)
			}
			for typ, refs := range tc.want {
				if !slices.Equal(got[typ], refs) {
					t.Errorf("%s\n got %v\nwant %v", typ, got[typ], refs)
				}
			}
			for _, o := range m.Output {
				if o.Count > 4 {
					t.Errorf("a file of %d resources, more than MaxPerFile", o.Count)
				}
			}
		})
	}
}

func TestExportKickoffRefusals(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	for _, tc := range []struct {
		name   string
		req    *rest.Request
		status int
	}{
		{"no Prefer: respond-async", &rest.Request{Interaction: rest.Operation, Operation: "export", Type: "Patient", Caller: "c"}, 400},
		{"another output format", kickoff("Patient", "", "c", url.Values{"_outputFormat": {"text/csv"}}), 400},
		{"a bad _since", kickoff("Patient", "", "c", url.Values{"_since": {"yesterday"}}), 400},
		{"an unknown type", kickoff("Patient", "", "c", url.Values{"_type": {"Nonsense"}}), 400},
		{"a type outside the compartment", kickoff("Patient", "", "c", url.Values{"_type": {"Organization"}}), 400},
		{"an unsupported parameter", kickoff("Patient", "", "c", url.Values{"_bogus": {"1"}}), 400},
		{"an unknown group", kickoff("Group", "nope", "c", nil), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := x.Do(tc.req)
			if got := fhir.KindOf(err).Status(); got != tc.status {
				t.Errorf("status %d (%v), want %d", got, err, tc.status)
			}
		})
	}
}

// TestExportConsent: a patient the guard refuses to the exporting client is absent from every file and
// from the counts, and not audited; another client's export has them.
func TestExportConsent(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	refusing := patientHidingGuard{patient: "Patient/p2"}
	resp, err := x.Service.Do(context.Background(), refusing, kickoff("Patient", "", "client-a", nil))
	if err != nil {
		t.Fatal(err)
	}
	jobA := jobOf(t, resp)
	jobB := jobOf(t, x.Must(t, kickoff("Patient", "", "client-b", nil)))
	mA := x.finished(t, refusing, jobA, "client-a")
	a := x.download(t, refusing, "client-a", mA)
	for typ, refs := range a {
		for _, ref := range refs {
			if strings.HasPrefix(ref, "Patient/p2") || strings.HasPrefix(ref, "Observation/p2-") {
				t.Errorf("%s in client-a's %s file", ref, typ)
			}
		}
	}
	total := 0
	for _, o := range mA.Output {
		total += o.Count
	}
	if total != 6 {
		t.Errorf("client-a's manifest counts %d resources, want 6 (p2's 3 withheld)", total)
	}
	b := x.download(t, x.Guard, "client-b", x.finished(t, x.Guard, jobB, "client-b"))
	if !slices.Contains(b["Patient"], "Patient/p2") || !slices.Contains(b["Observation"], "Observation/p2-o1") {
		t.Errorf("client-b's export lacks p2: %v", b)
	}
	close(x.audited)
	got := map[string]bool{}
	for a := range x.audited {
		got[a] = true
	}
	for _, p := range []string{"p1", "p3"} {
		if !got[jobA+" Patient/"+p] || !got[jobB+" Patient/"+p] {
			t.Errorf("Patient/%s's export not audited for both jobs: %v", p, got)
		}
	}
	if got[jobA+" Patient/p2"] || !got[jobB+" Patient/p2"] {
		t.Errorf("p2 audited for the export that withheld them, or not for the one that had them: %v", got)
	}
}

// TestExportOwner: only the client that started an export sees its status and files; others are
// answered as for an export that does not exist.
func TestExportOwner(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	job := jobOf(t, x.Must(t, kickoff("Patient", "", "client-a", nil)))
	m := x.finished(t, x.Guard, job, "client-a")
	for _, req := range []*rest.Request{
		poll(job, "client-b"),
		poll("00000000-0000-4000-8000-000000000000", "client-a"),
		poll("../../etc", "client-a"),
		{Interaction: rest.Operation, Operation: "export-file", ID: job, VersionID: "Patient-1.ndjson", Caller: "client-b"},
		{Interaction: rest.Operation, Operation: "export-file", ID: job, VersionID: "job.json", Caller: "client-a"},
		{Interaction: rest.Operation, Operation: "export-cancel", ID: job, Caller: "client-b"},
	} {
		_, err := x.Do(req)
		resttest.WantError(t, err, 404, "not-found", "")
	}
	if len(m.Output) == 0 {
		t.Fatal("no output")
	}
}

// TestExportCancel: DELETE on the status URL removes the export and its files.
func TestExportCancel(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	job := jobOf(t, x.Must(t, kickoff("Patient", "", "client-a", nil)))
	x.finished(t, x.Guard, job, "client-a")
	resttest.WantStatus(t, x.Must(t, &rest.Request{Interaction: rest.Operation, Operation: "export-cancel", ID: job, Caller: "client-a"}), 202)
	if _, err := os.Stat(filepath.Join(x.dir, job)); !os.IsNotExist(err) {
		t.Errorf("the export's folder is still there: %v", err)
	}
	_, err := x.Do(poll(job, "client-a"))
	resttest.WantError(t, err, 404, "not-found", "")
}

// TestExportBusy: beyond MaxJobs running, a kick-off is 429 with Retry-After; a running job's status is
// 202 with X-Progress; a cancelled running job leaves nothing.
func TestExportBusy(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{MaxJobs: 1, RetryAfter: 7})
	g := blockingGuard{release: make(chan struct{})}
	ctx := context.Background()
	// A job that blocks in the guard stays running.
	job := startJob(t, x.Service, g, kickoff("Patient", "", "client-a", nil))
	busy, err := x.Service.Do(ctx, rest.AllowAll{}, kickoff("Patient", "", "client-b", nil))
	if err != nil {
		t.Fatal(err)
	}
	resttest.WantStatus(t, busy, 429)
	if busy.Headers["Retry-After"] != "7" {
		t.Errorf("Retry-After %q", busy.Headers["Retry-After"])
	}
	st, err := x.Service.Do(ctx, g, poll(job, "client-a"))
	if err != nil {
		t.Fatal(err)
	}
	resttest.WantStatus(t, st, 202)
	if st.Headers["X-Progress"] == "" || st.Headers["Retry-After"] != "7" {
		t.Errorf("running status headers %v", st.Headers)
	}
	resttest.WantStatus(t, x.Must(t, &rest.Request{Interaction: rest.Operation, Operation: "export-cancel", ID: job, Caller: "client-a"}), 202)
	x.exports.Wait()
	if _, err := os.Stat(filepath.Join(x.dir, job)); !os.IsNotExist(err) {
		t.Errorf("the cancelled export's folder is still there: %v", err)
	}
	close(g.release)
}

// TestExportRetention: a finished export's files are deleted once the retention has passed.
func TestExportRetention(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{Retention: time.Hour})
	job := jobOf(t, x.Must(t, kickoff("Patient", "", "client-a", nil)))
	x.finished(t, x.Guard, job, "client-a")
	x.Clock.Advance(59 * time.Minute)
	x.Must(t, poll(job, "client-a"))
	x.Clock.Advance(2 * time.Minute)
	_, err := x.Do(poll(job, "client-a"))
	resttest.WantError(t, err, 404, "not-found", "")
	if _, err := os.Stat(filepath.Join(x.dir, job)); !os.IsNotExist(err) {
		t.Errorf("the expired export's folder is still there: %v", err)
	}
}

// TestExportAuditFailure: a patient whose export cannot be recorded fails the export: no record, no data.
func TestExportAuditFailure(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	x.exports.Close() // replaced below by exports whose audit fails
	e, err := rest.NewExports(x.Service, rest.ExportConfig{Dir: x.dir, Audit: func(context.Context, rest.ExportAudit) error {
		return fhir.NotFound("AuditEvent", "x") // any failure
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	job := jobOf(t, x.Must(t, kickoff("Patient", "", "client-a", nil)))
	e.Wait()
	_, err = x.Do(poll(job, "client-a"))
	resttest.WantError(t, err, 500, "exception", "")
	files, _ := filepath.Glob(filepath.Join(x.dir, job, "*.ndjson"))
	if len(files) != 1 || filepath.Base(files[0]) != "OperationOutcome-error.ndjson" {
		t.Errorf("files left by a failed export: %v", files)
	}
}

// FuzzExportRequests: any kick-off parameters, job id or file name is answered, never a panic, and never
// a file outside the export's folder.
func FuzzExportRequests(f *testing.F) {
	f.Add("_type", "Patient,Observation", "11111111-2222-4333-8444-555555555555", "Patient-1.ndjson")
	f.Add("_since", "2024-01-01T00:00:00Z", "../../etc", "../job.json")
	f.Add("_outputFormat", "ndjson", "", "")
	f.Fuzz(func(t *testing.T, name, value, job, file string) {
		env := resttest.New(t)
		e, err := rest.NewExports(env.Service, rest.ExportConfig{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.Close() }()
		_, _ = env.Do(kickoff("Patient", "", "c", url.Values{name: {value}}))
		_, _ = env.Do(poll(job, "c"))
		resp, err := env.Do(&rest.Request{Interaction: rest.Operation, Operation: "export-file", ID: job, VersionID: file, Caller: "c"})
		if err == nil && resp.BodyFile != "" && strings.Contains(file, "/") {
			t.Errorf("served %s for the name %q", resp.BodyFile, file)
		}
		e.Wait()
	})
}

// TestExportShutdown: an export running when the server shuts down ends failed, not removed: its status
// URL says so after the restart.
func TestExportShutdown(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	g := blockingGuard{release: make(chan struct{})}
	defer close(g.release)
	job := startJob(t, x.Service, g, kickoff("Patient", "", "client-a", nil))
	if err := x.exports.Close(); err != nil {
		t.Fatal(err)
	}
	e, err := rest.NewExports(x.Service, rest.ExportConfig{Dir: x.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	_, err = x.Do(poll(job, "client-a"))
	resttest.WantError(t, err, 500, "exception", "")
}
