package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/population"
)

// recorder is a FHIR server that accepts every transaction Bundle and remembers a digest of each.
type recorder struct {
	mu      sync.Mutex
	digests []string
	ids     map[string]bool
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b struct {
		Entry []struct {
			Request struct{ URL string } `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad bundle", 400)
		return
	}
	rec.mu.Lock()
	rec.digests = append(rec.digests, fmt.Sprintf("%x", sha256.Sum256(body)))
	for _, e := range b.Entry {
		rec.ids[e.Request.URL] = true
	}
	rec.mu.Unlock()
	out := `{"resourceType":"Bundle","type":"transaction-response","entry":[` +
		strings.TrimSuffix(strings.Repeat(`{"response":{"status":"201 Created"}},`, len(b.Entry)), ",") + `]}`
	w.Header().Set("Content-Type", "application/fhir+json")
	reply(w, out)
}

func populateInto(t *testing.T, seed int64, patients int) (*recorder, PopulateResult) {
	t.Helper()
	rec := &recorder{ids: map[string]bool{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	res, err := Populate(context.Background(), PopulateConfig{Server: srv.URL + "/fhir", Patients: patients, Seed: seed, Connections: 3})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rec.digests)
	return rec, res
}

// TestPopulateIsDeterministic: the same seed sends byte-identical bundles (whatever the order the
// connections deliver them in), another seed other resources under the same ids.
func TestPopulateIsDeterministic(t *testing.T) {
	a, resA := populateInto(t, 7, 12)
	b, resB := populateInto(t, 7, 12)
	c, _ := populateInto(t, 8, 12)
	if resA.Bundles != 14 || resA.Resources < 12*40 {
		t.Fatalf("result %+v: want 14 bundles (shared, 12 patients, the cohort) and at least 40 resources a patient", resA)
	}
	if resA.Resources != resB.Resources || !slices.Equal(a.digests, b.digests) {
		t.Fatal("the same seed sent different bundles")
	}
	if slices.Equal(a.digests, c.digests) {
		t.Fatal("another seed sent the same bundles")
	}
	if !a.ids["Patient/pat-000011"] || a.ids["Patient/pat-000012"] || !a.ids["Organization/"+population.InsurerID] ||
		!a.ids["Group/"+population.CohortID] {
		t.Fatal("the bundles do not hold the patients pat-000000 to pat-000011, the shared resources and the cohort")
	}
	if len(a.ids) != resA.Resources {
		t.Fatalf("%d distinct resources, %d reported", len(a.ids), resA.Resources)
	}
}

// TestPopulateStopsAtARefusedBundle: a server refusing a bundle stops the load with its reason.
func TestPopulateStopsAtARefusedBundle(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		if n.Add(1) == 3 {
			w.WriteHeader(422)
			reply(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","expression":["Patient.gender"],"diagnostics":"unknown code"}]}`)
			return
		}
		reply(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[]}`)
	}))
	defer srv.Close()
	_, err := Populate(context.Background(), PopulateConfig{Server: srv.URL, Patients: 10, Connections: 1})
	if err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "Patient.gender: unknown code") {
		t.Fatalf("err = %v, want the 422 and the server's reason", err)
	}
}

// TestReadTargetsExist: every resource the read workload asks for is in the population.
func TestReadTargetsExist(t *testing.T) {
	cfg := population.Config{Patients: 60, Seed: 3}
	w, err := newWorkload("read", cfg.Patients, cfg.Seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i := range cfg.Patients {
		var b struct {
			Entry []struct {
				Request struct{ URL string } `json:"request"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(population.Patient(cfg, i), &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			ids[e.Request.URL] = true
		}
	}
	r := newRand(1)
	for range 2000 {
		if req := w.read(r); !ids[req.path] {
			t.Fatalf("the read workload asks for %s, which the population does not hold", req.path)
		}
	}
}

// reply writes a test server's answer. A failed write is the client gone, which the client's side of the
// test sees for itself: the server has no one else to tell.
func reply(w io.Writer, body string) { _, _ = io.WriteString(w, body) }

// drain reads a test server's request to its end. A failed read is the client's, which its side of the
// test sees for itself.
func drain(r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }

// writeToken writes the file a token command prints.
func writeToken(t *testing.T, file, token string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// counting is a server that answers by a rule and tracks requests in flight.
type counting struct {
	inFlight, maxInFlight, total atomic.Int64
	answer                       func(n int64, w http.ResponseWriter, r *http.Request)
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cur := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxInFlight.Load()
		if cur <= m || c.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	drain(r)
	time.Sleep(time.Millisecond)
	c.answer(c.total.Add(1), w, r)
}

// TestRunReportsStatusCodes: a server answering 500 to every third request shows those as errors,
// not as throughput; a server that drops connections shows failures.
func TestRunReportsStatusCodes(t *testing.T) {
	srv := httptest.NewServer(&counting{answer: func(n int64, w http.ResponseWriter, r *http.Request) {
		if n%3 == 0 {
			w.WriteHeader(500)
			reply(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
			return
		}
		reply(w, `{"resourceType":"Patient","id":"x"}`)
	}})
	defer srv.Close()
	rep, err := Run(context.Background(), RunConfig{Server: srv.URL + "/fhir", Workload: "read", Connections: 4,
		Duration: 10 * time.Second, Requests: 300, Patients: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 300 || rep.Status[500] != 100 || rep.Status[200] != 200 || rep.OK != 200 || rep.Errors != 100 {
		t.Fatalf("report %+v: want 300 requests, 200 ok, 100 errors (500)", rep)
	}
	if want := 200 / time.Duration(rep.Elapsed).Seconds(); rep.Throughput > want*1.001 || rep.Throughput < want*0.999 {
		t.Fatalf("throughput %.1f, want the 2xx rate %.1f", rep.Throughput, want)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.P50 > rep.Latency.P90 || rep.Latency.P90 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
		t.Fatalf("latencies out of order: %+v", rep.Latency)
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"300: 200 ok (2xx), 100 errors", "status 500   100", "status 200   200"} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	js, _ := json.Marshal(rep)
	if !strings.Contains(string(js), `"status":{"200":200,"500":100}`) || !strings.Contains(string(js), `"errors":100`) {
		t.Fatalf("the JSON report lacks the status codes: %s", js)
	}

	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer drop.Close()
	rep, err = Run(context.Background(), RunConfig{Server: drop.URL, Workload: "search", Connections: 2, Duration: 5 * time.Second, Requests: 20, Patients: 5})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, n := range rep.Failures {
		failed += n
	}
	if rep.OK != 0 || rep.Throughput != 0 || failed != 20 || rep.Errors != 20 {
		t.Fatalf("report %+v: want 20 requests without an answer, counted as errors", rep)
	}
}

// TestRunIsBounded: never more requests in flight than connections, never longer than the duration
// (plus the requests in flight), and no unbounded configuration.
func TestRunIsBounded(t *testing.T) {
	c := &counting{answer: func(n int64, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
	}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	start := time.Now()
	rep, err := Run(context.Background(), RunConfig{Server: srv.URL, Workload: "create", Connections: 3, Duration: 300 * time.Millisecond, Patients: 5})
	if err != nil {
		t.Fatal(err)
	}
	if c.maxInFlight.Load() > 3 {
		t.Fatalf("%d requests in flight at once with 3 connections", c.maxInFlight.Load())
	}
	if since := time.Since(start); since > 300*time.Millisecond+RequestTimeout/10 {
		t.Fatalf("a 300 ms run took %v", since)
	}
	if rep.Status[201] == 0 || rep.Resources != rep.Status[201] {
		t.Fatalf("report %+v: want created resources counted", rep)
	}
	for _, bad := range []RunConfig{
		{Server: srv.URL, Workload: "read", Connections: 1, Patients: 5},
		{Server: srv.URL, Workload: "read", Connections: 1, Duration: 2 * MaxDuration, Patients: 5},
		{Server: srv.URL, Workload: "read", Connections: 0, Duration: time.Second, Patients: 5},
		{Server: srv.URL, Workload: "read", Connections: MaxConnections + 1, Duration: time.Second, Patients: 5},
		{Server: srv.URL, Workload: "delete", Connections: 1, Duration: time.Second, Patients: 5},
		{Server: srv.URL, Workload: "read", Connections: 1, Duration: time.Second},
		{Server: "localhost:8080", Workload: "read", Connections: 1, Duration: time.Second, Patients: 5},
	} {
		if _, err := Run(context.Background(), bad); err == nil {
			t.Errorf("Run(%+v) accepted an unbounded or wrong configuration", bad)
		}
	}
}

// TestTransactionWorkload: generated patients beyond the population, or the caller's bundles, with
// their entries counted as resources.
func TestTransactionWorkload(t *testing.T) {
	rec := &recorder{ids: map[string]bool{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	rep, err := Run(context.Background(), RunConfig{Server: srv.URL, Workload: "transaction", Connections: 2, Duration: 10 * time.Second, Requests: 4, Patients: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 4 || rep.Resources != len(rec.ids) || !rec.ids["Patient/pat-000050"] || rec.ids["Patient/pat-000049"] {
		t.Fatalf("report %+v, ids %d: want 4 new patients from pat-000050 with every entry counted", rep, len(rec.ids))
	}
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"}},{"request":{"method":"POST","url":"Observation"}}]}`)
	rep, err = Run(context.Background(), RunConfig{Server: srv.URL, Workload: "transaction", Connections: 1, Duration: 10 * time.Second, Requests: 3, Bundles: [][]byte{bundle}})
	if err != nil || rep.Resources != 6 {
		t.Fatalf("report %+v, %v: want 3 bundles of 2 entries", rep, err)
	}
	if _, err := Run(context.Background(), RunConfig{Server: srv.URL, Workload: "transaction", Connections: 1, Duration: time.Second, Bundles: [][]byte{[]byte(`{"resourceType":"Patient"}`)}}); err == nil {
		t.Fatal("a Patient was accepted as a transaction Bundle")
	}
}

// TestTokenCommandRefreshesOn401: an expired token is replaced by running the command again.
func TestTokenCommandRefreshesOn401(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	writeToken(t, file, "old-token")
	creds, err := TokenCommand(context.Background(), "cat "+file)
	if err != nil {
		t.Fatal(err)
	}
	writeToken(t, file, "new-token")
	creds.mu.Lock()
	creds.fetched = time.Time{} // as if the token had been fetched long ago
	creds.mu.Unlock()
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"), true)
		if r.Header.Get("Authorization") != "Bearer new-token" {
			w.WriteHeader(401)
			return
		}
		reply(w, "{}")
	}))
	defer srv.Close()
	rep, err := Run(context.Background(), RunConfig{Server: srv.URL, Workload: "read", Connections: 1, Duration: 10 * time.Second, Requests: 5, Patients: 3, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seen.Load("Bearer old-token"); !ok || rep.Status[200] != 5 {
		t.Fatalf("report %+v: want the old token refused once, then 5 answers with the new one", rep)
	}
	if _, err := TokenCommand(context.Background(), "exit 3"); err == nil {
		t.Fatal("a failing token command was accepted")
	}
}
