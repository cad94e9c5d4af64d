package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/gateway/throttle"
)

// The layers of the request path, added one at a time: what each costs a request over HTTP.
// token+consent+fsync-only has the audit trail on, building every event as token+consent+audit does,
// with the store sink replaced by one that only appends the events' bytes to a file and fdatasyncs it
// per group (syncSink): durability alone, the floor of any audit store that syncs before answering.
var pipelineLayers = []struct {
	name      string
	opts      func(b *testing.B) authOptions
	throttled bool // the serve command's default rate and in-flight limits
}{
	{"none", fixedOptions(authOptions{open: true, noConsent: true, noAudit: true}), false},
	{"token", fixedOptions(authOptions{consentDefault: "permit", denyStatus: 404, noConsent: true, noAudit: true}), false},
	{"token+consent", fixedOptions(authOptions{consentDefault: "permit", denyStatus: 404, noAudit: true}), false},
	{"token+consent+fsync-only", func(b *testing.B) authOptions {
		return authOptions{consentDefault: "permit", denyStatus: 404, audit: &audit.Config{Sink: newSyncSink(b)}}
	}, false},
	{"token+consent+audit", fixedOptions(authOptions{consentDefault: "permit", denyStatus: 404}), false},
	{"token+consent+audit+limits", fixedOptions(authOptions{consentDefault: "permit", denyStatus: 404}), true},
}

// fixedOptions returns a layer's options that need nothing of the benchmark.
func fixedOptions(opts authOptions) func(*testing.B) authOptions {
	return func(*testing.B) authOptions { return opts }
}

// layerOptions are a layer's options, with a limiter of its own when it is throttled.
func layerOptions(opts authOptions, throttled bool) authOptions {
	if throttled {
		opts.throttle = throttle.New(throttle.Config{Rate: 20_000, Burst: 40_000, MaxInFlight: 64})
	}
	return opts
}

// pipelineRequest is one request of a workload and the answer it must have.
type pipelineRequest struct {
	method, path string
	body         []byte
	status       int
	// created, when positive, is the number of entries of a transaction's response that must be 201s.
	created int
	// entries, when positive, is the least number of matches a search must return (checked once, before
	// the clock starts; in the loop a search's answer must hold entries).
	entries int
}

// pipelineWorkloads are what the clients of BenchmarkPipelineThroughput send: each a token's scopes
// and the requests its clients take in turn, as Dr Martin for treatment, whom every demo patient's
// consent admits. The searches are of data his patients' consents let him see in full, so that every
// layer returns the same entries (Chloé's PSY-labelled data would be left out of pages with consent on).
var pipelineWorkloads = []struct {
	name     string
	scopes   string
	requests []pipelineRequest
}{
	{"read", "user/*.rs", []pipelineRequest{
		{method: "GET", path: "/Patient/pat-alice", status: 200},
		{method: "GET", path: "/Observation/obs-bob-01", status: 200},
		{method: "GET", path: "/Patient/pat-david", status: 200},
		{method: "GET", path: "/Encounter/enc-chloe-1", status: 200},
	}},
	{"search", "user/*.rs", []pipelineRequest{
		{method: "GET", path: "/Observation?patient=pat-bob&_count=10", status: 200, entries: 10},
		{method: "GET", path: "/Condition?patient=pat-david", status: 200, entries: 3},
		{method: "GET", path: "/Observation?patient=pat-alice&_count=10", status: 200, entries: 10},
		{method: "GET", path: "/Encounter?patient=pat-bob", status: 200, entries: 3},
	}},
	{"create", "user/*.cruds", []pipelineRequest{
		{method: "POST", path: "/Observation", body: pipelineObservation("pat-bob"), status: 201},
		{method: "POST", path: "/Observation", body: pipelineObservation("pat-alice"), status: 201},
		{method: "POST", path: "/Observation", body: pipelineObservation("pat-david"), status: 201},
		{method: "POST", path: "/Observation", body: pipelineObservation("pat-chloe"), status: 201},
	}},
	{"transaction", "user/*.cruds", []pipelineRequest{
		{method: "POST", path: "", body: pipelineTransaction("pat-bob"), status: 200, created: 2},
		{method: "POST", path: "", body: pipelineTransaction("pat-alice"), status: 200, created: 2},
		{method: "POST", path: "", body: pipelineTransaction("pat-david"), status: 200, created: 2},
		{method: "POST", path: "", body: pipelineTransaction("pat-chloe"), status: 200, created: 2},
	}},
}

// pipelineObservation is a blood pressure reading of a demo patient, as a client creates it.
func pipelineObservation(patient string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final",` +
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},` +
		`"subject":{"reference":"Patient/` + patient + `"},"effectiveDateTime":"2025-06-02T09:30:00Z",` +
		`"component":[` +
		`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},` +
		`{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`)
}

// pipelineTransaction is a transaction of two creates for a demo patient: a blood glucose
// Observation and the Condition it is evidence of.
func pipelineTransaction(patient string) []byte {
	const obsURL = "urn:uuid:8f2b6c1e-4d3a-4b7e-9a51-0c2d7e6f1a01"
	return []byte(fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[`+
		`{"fullUrl":%q,"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","status":"final",`+
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}]},"subject":{"reference":"Patient/%s"},`+
		`"effectiveDateTime":"2025-06-02T09:30:00Z","valueQuantity":{"value":142,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}},`+
		`{"request":{"method":"POST","url":"Condition"},"resource":{"resourceType":"Condition",`+
		`"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},`+
		`"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"provisional"}]},`+
		`"code":{"coding":[{"system":"http://snomed.info/sct","code":"9414007","display":"Impaired glucose tolerance"}]},`+
		`"subject":{"reference":"Patient/%s"},"recordedDate":"2025-06-02","evidence":[{"detail":[{"reference":%q}]}]}}]}`,
		obsURL, patient, patient, obsURL))
}

// BenchmarkPipelineLatency: one client reading by id, one request at a time, through each set of
// layers; p50-µs is the median latency, so that the difference between two lines is what a layer adds
// to a request.
//
//	go test -run '^$' -bench PipelineLatency -benchtime 3000x ./gateway/
func BenchmarkPipelineLatency(b *testing.B) {
	for _, l := range pipelineLayers {
		b.Run(l.name, func(b *testing.B) {
			a := newAuthServer(b, layerOptions(l.opts(b), l.throttled))
			tok := a.mint(b, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
			client := &http.Client{Timeout: 10 * time.Second}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				pipelineRead(b, client, a.base+"/Patient/pat-alice", tok)
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}

// BenchmarkPipelineThroughput: for each workload (read by id, patient search, create, two-entry
// transaction), 16 clients per Go processor sending its requests through each set of layers:
// requests/s, and the median and 99th percentile of their latencies. On one CPU, clients and server
// sharing it, with the processors the serve command runs with there (GOMAXPROCS at least 4: its
// --min-procs):
//
//	go test -c -o /tmp/gw.test ./gateway/ && cd gateway && taskset -c 1 /tmp/gw.test -test.cpu 4 -test.run '^$' -test.bench 'PipelineThroughput' -test.benchtime 5000x
//
// -test.bench 'PipelineThroughput/read/' selects a workload, 'PipelineThroughput/.*/token\+consent$' a layer.
func BenchmarkPipelineThroughput(b *testing.B) {
	for _, w := range pipelineWorkloads {
		b.Run(w.name, func(b *testing.B) {
			for _, l := range pipelineLayers {
				b.Run(l.name, func(b *testing.B) {
					benchPipeline(b, layerOptions(l.opts(b), l.throttled), w.scopes, w.requests)
				})
			}
		})
	}
}

func benchPipeline(b *testing.B, opts authOptions, scopes string, requests []pipelineRequest) {
	a := newAuthServer(b, opts)
	tok := a.mint(b, scopes, "", "Practitioner/prac-martin", "TREAT")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// Each request once before the clock starts, its answer checked in full.
	for _, r := range requests {
		body, err := pipelineDo(client, a.base, tok, r)
		if err != nil {
			b.Fatal(err)
		}
		if r.entries > 0 {
			if n := len(refs(b, body, "match")); n < r.entries {
				b.Fatalf("%s: %d matches, want at least %d", r.path, n, r.entries)
			}
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for i := 0; pb.Next(); i++ {
			t0 := time.Now()
			if _, err := pipelineDo(client, a.base, tok, requests[i%len(requests)]); err != nil {
				b.Error(err)
				break
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if b.Failed() || len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

var (
	entryMark   = []byte(`"entry"`)
	createdMark = []byte(`"status":"201`)
)

// pipelineDo sends one request with the token and checks its answer (its status; that a search's
// answer holds entries; that a transaction created its entries), returning the body read in full.
func pipelineDo(client *http.Client, base, tok string, r pipelineRequest) ([]byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, base+r.path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode != r.status:
		return nil, fmt.Errorf("%s %s: status %d, want %d: %.300s", r.method, r.path, resp.StatusCode, r.status, got)
	case r.entries > 0 && !bytes.Contains(got, entryMark):
		return nil, fmt.Errorf("%s %s: no entries: %.300s", r.method, r.path, got)
	case r.created > 0 && bytes.Count(got, createdMark) != r.created:
		return nil, fmt.Errorf("%s %s: want %d entries created: %.300s", r.method, r.path, r.created, got)
	}
	return got, nil
}

// pipelineRead sends one GET with the token and requires a 200, reading the whole answer.
func pipelineRead(b *testing.B, client *http.Client, url, tok string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: status %d", url, resp.StatusCode)
	}
}
