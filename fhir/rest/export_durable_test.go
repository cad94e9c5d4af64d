package rest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/redis"
	"fhirgate/fhir/store/redis/redistest"
	"fhirgate/fhir/validation"
	"fhirgate/internal/sharedtest"
)

// Durable exports: the job's state is in the store, so that a restart resumes it from its last page (or
// fails it cleanly), and every process sharing the store answers its status and serves its files.

// stopGuard allows everything, but holds the Read of one resource until the job's context ends (the
// process stops during the export); reached is closed when it starts holding.
type stopGuard struct {
	rest.AllowAll
	at      string
	reached chan struct{}
}

func (g stopGuard) Read(ctx context.Context, _ *rest.Request, f *search.Facts) error {
	if f.Ref() != g.at {
		return nil
	}
	close(g.reached)
	<-ctx.Done()
	return ctx.Err()
}

// resumable is the configuration of exports whose guard can be restored (as AllowAll).
func resumable(cfg rest.ExportConfig) rest.ExportConfig {
	cfg.SaveGuard = func(rest.Guard) ([]byte, error) { return []byte("allow-all"), nil }
	cfg.RestoreGuard = func(b []byte) (rest.Guard, error) {
		if string(b) != "allow-all" {
			return nil, errors.New("unknown guard")
		}
		return rest.AllowAll{}, nil
	}
	return cfg
}

// addPatients adds patients p4.. up to n, two observations each, to the three of an exportEnv.
func (x *exportEnv) addPatients(t *testing.T, n int) {
	for i := 4; i <= n; i++ {
		p := "p" + strconv.Itoa(i)
		x.Put(t, patient(p, "Family"+p, "male"))
		x.Put(t, observation(p+"-o1", "Patient/"+p))
		x.Put(t, observation(p+"-o2", "Patient/"+p))
	}
}

// wantEachOnce checks that an export holds every one of n patients' records exactly once.
func wantEachOnce(t *testing.T, got map[string][]string, n int) {
	t.Helper()
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, "Patient/p"+strconv.Itoa(i))
	}
	slices.Sort(want)
	if !slices.Equal(got["Patient"], want) {
		t.Errorf("Patients %v\nwant %v", got["Patient"], want)
	}
	if len(got["Observation"]) != 2*n || len(slices.Compact(slices.Clone(got["Observation"]))) != 2*n {
		t.Errorf("Observations %v, want %d distinct", got["Observation"], 2*n)
	}
}

// TestExportResume: the server stops in the middle of an export; started again, it resumes the job from
// its last page: the open file cut back to what that page stored (a line half-written at the stop is
// gone), files begun since removed, every resource exactly once, counts equal to the lines.
func TestExportResume(t *testing.T) {
	t.Parallel()
	cfg := resumable(rest.ExportConfig{PageSize: 2, MaxPerFile: 5})
	x := newExportEnv(t, cfg)
	x.addPatients(t, 7)
	g := stopGuard{at: "Patient/p6", reached: make(chan struct{})}
	job := startJob(t, x.Service, g, kickoff("Patient", "", "client-a", nil))
	<-g.reached // p1 to p4 stored (two pages), p5 written after them
	if err := x.exports.Close(); err != nil {
		t.Fatal(err)
	}
	st := x.Must(t, poll(job, "client-a"))
	resttest.WantStatus(t, st, 202) // released, still running: no process holds it
	// What a crash could leave: a line half-written, a file begun after the last page stored.
	open := filepath.Join(x.dir, job, "Observation-2.ndjson")
	f, err := os.OpenFile(open, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"resourceType":"Observation","id":"p5-o1"}` + "\n" + `{"resourceType":"Obs`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := os.WriteFile(filepath.Join(x.dir, job, "Condition-1.ndjson"), []byte(`{"resourceType":"Condition","id":"c9"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var resumed []string // the patients the restarted process exported
	cfg.Audit = func(_ context.Context, a rest.ExportAudit) error {
		mu.Lock()
		defer mu.Unlock()
		for _, ps := range a.Request.Ledger.Noted() {
			resumed = append(resumed, ps...)
		}
		return nil
	}
	x.second(t, cfg).Wait() // the restart
	m := x.finished(t, x.Guard, job, "client-a")
	got := x.download(t, x.Guard, "client-a", m)
	wantEachOnce(t, got, 7)
	total := 0
	for _, o := range m.Output {
		total += o.Count
	}
	if total != 7*3+1 { // and the Group, once
		t.Errorf("the manifest counts %d resources, want %d", total, 7*3+1)
	}
	slices.Sort(resumed)
	if resumed = slices.Compact(resumed); !slices.Equal(resumed, []string{"Patient/p5", "Patient/p6", "Patient/p7"}) {
		t.Errorf("the restarted process exported %v, want the patients after the last page stored", resumed)
	}
	if _, err := os.Stat(filepath.Join(x.dir, job, "Condition-1.ndjson")); !os.IsNotExist(err) {
		t.Errorf("the file begun after the last page is still there: %v", err)
	}
}

// TestExportRestart: an export whose process stopped (its lease held by no live process) and that cannot
// be resumed (its guard cannot be restored, or it was resumed too many times already) fails with an
// OperationOutcome once its lease expires, its partial files removed: never a truncated file presented as
// complete.
func TestExportRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, guard string
		gen         int
	}{
		{"a guard that cannot be restored", "c3RhbGU=", 0}, // "stale"
		{"resumed too many times", "YWxsb3ctYWxs", 10},     // "allow-all", the eleventh time
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newExportEnv(t, resumable(rest.ExportConfig{Lease: time.Minute}))
			job := "11111111-2222-4333-8444-555555555555"
			if err := os.MkdirAll(filepath.Join(x.dir, job), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(x.dir, job, "Patient-1.ndjson"), []byte(`{"resourceType":"Patient","id":"p1"}`+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			until := x.Clock.Now().Add(30 * time.Second).Format(time.RFC3339Nano)
			state := `{"id":"` + job + `","owner":"client-a","request":"Patient/$export","status":"running",` +
				`"transactionTime":"2024-01-31T10:00:00Z","spec":{"Level":"patient","Types":["Patient"]},"guard":"` + tc.guard + `",` +
				`"cursor":{"phase":"Patient","after":"p1"},"files":[{"type":"Patient","open":{"name":"Patient-1.ndjson","count":1,"bytes":37}}],` +
				`"gen":` + strconv.Itoa(tc.gen) + `,"holder":"a-process-that-stopped","leaseUntil":"` + until + `"}`
			if err := x.Store.PutRecord(context.Background(), "export", job, []byte(state)); err != nil {
				t.Fatal(err)
			}
			resttest.WantStatus(t, x.Must(t, poll(job, "client-a")), 202) // its lease still holds
			x.Clock.Advance(31 * time.Second)
			_, err := x.Do(poll(job, "client-a"))
			resttest.WantError(t, err, 500, "exception", "")
			if _, err := os.Stat(filepath.Join(x.dir, job, "Patient-1.ndjson")); !os.IsNotExist(err) {
				t.Errorf("the partial file is still there: %v", err)
			}
			resp := x.Must(t, &rest.Request{Interaction: rest.Operation, Operation: "export-file", ID: job,
				VersionID: "OperationOutcome-error.ndjson", Caller: "client-a"})
			b, err := os.ReadFile(resp.BodyFile)
			if err != nil || !strings.Contains(string(b), `"OperationOutcome"`) {
				t.Errorf("error file %q, %v", b, err)
			}
		})
	}
}

// TestExportTakeOver: a job whose lease expired (its process paused or gone) is resumed by the next
// process that sweeps, from its last page; the old process, when it wakes, finds the state changed and
// leaves the job alone.
func TestExportTakeOver(t *testing.T) {
	t.Parallel()
	cfg := resumable(rest.ExportConfig{PageSize: 2, Lease: time.Hour})
	x := newExportEnv(t, cfg)
	x.addPatients(t, 5)
	g := stopGuard{at: "Patient/p4", reached: make(chan struct{})}
	job := startJob(t, x.Service, g, kickoff("Patient", "", "client-a", nil))
	<-g.reached
	b := x.second(t, cfg)
	resttest.WantStatus(t, b.Must(t, poll(job, "client-a")), 202)
	x.Clock.Advance(2 * time.Hour)
	b.Sweep()
	b.Wait()
	if err := x.exports.Close(); err != nil { // the old process wakes, and stops
		t.Fatal(err)
	}
	m := x.finished(t, x.Guard, job, "client-a")
	wantEachOnce(t, x.download(t, x.Guard, "client-a", m), 5)
}

// secondExports is another Exports over the same service and folder, as another process would run.
type secondExports struct {
	*rest.Exports
	env *exportEnv
}

// Must runs one interaction, which must succeed, through the service (which these exports now serve).
func (s secondExports) Must(t *testing.T, req *rest.Request) *rest.Response {
	return s.env.Must(t, req)
}

// second starts another Exports over x's service and folder: another process, or this one restarted.
func (x *exportEnv) second(t *testing.T, cfg rest.ExportConfig) secondExports {
	t.Helper()
	cfg.Dir = x.dir
	e, err := rest.NewExports(x.Service, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return secondExports{e, x}
}

// TestExportTwoProcesses: two services over one Redis and one export folder, as two gateways: the one
// that did not run an export answers its status URL and serves its files, cancels it, and resumes it
// when the other stops.
func TestExportTwoProcesses(t *testing.T) {
	t.Parallel()
	redisURL := sharedtest.RedisURL(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	prefix := "fhirgate-test:export:" + hex.EncodeToString(rnd[:]) + ":"
	t.Cleanup(func() {
		if err := redistest.Drop(context.Background(), redisURL, prefix); err != nil {
			t.Error(err)
		}
	})
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clock := resttest.NewClock(resttest.Epoch)
	dir := t.TempDir()
	process := func() (*rest.Service, *rest.Exports) {
		st, err := redis.Open(context.Background(), redis.Config{URL: redisURL, Prefix: prefix, AcceptDataLoss: true,
			Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := rest.New(rest.Config{BaseURL: resttest.BaseURL, Now: clock.Now}, st, v)
		if err != nil {
			t.Fatal(err)
		}
		e, err := rest.NewExports(svc, resumable(rest.ExportConfig{Dir: dir, PageSize: 2, Lease: 200 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = e.Close()
			_ = st.Close()
		})
		return svc, e
	}
	svcA, expA := process()
	svcB, expB := process()
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		p := "p" + strconv.Itoa(i)
		for _, body := range []string{patient(p, "Family", "female"), observation(p+"-o1", "Patient/"+p)} {
			if _, err := svcA.Do(ctx, rest.AllowAll{}, resttest.PutRequest(t, body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	x := &exportEnv{Env: &resttest.Env{Service: svcB, Clock: clock, Guard: rest.AllowAll{}}, exports: expB, dir: dir}

	t.Run("status and files from the other process", func(t *testing.T) {
		job := startJob(t, svcA, rest.AllowAll{}, kickoff("Patient", "", "client-a", nil))
		expA.Wait()
		wantEachOnceOf(t, x.download(t, rest.AllowAll{}, "client-a", x.finished(t, rest.AllowAll{}, job, "client-a")), 5)
		_, err = svcB.Do(ctx, rest.AllowAll{}, poll(job, "client-b"))
		resttest.WantError(t, err, 404, "not-found", "")
	})

	t.Run("cancelled from the other process", func(t *testing.T) {
		g := stopGuard{at: "Patient/p3", reached: make(chan struct{})}
		job := startJob(t, svcA, g, kickoff("Patient", "", "client-a", nil))
		<-g.reached
		resttest.WantStatus(t, must(t, svcB, poll(job, "client-a")), 202)
		resttest.WantStatus(t, must(t, svcB, &rest.Request{Interaction: rest.Operation, Operation: "export-cancel", ID: job, Caller: "client-a"}), 202)
		expA.Wait() // the renewal finds the state gone, and the job stops
		if _, err := os.Stat(filepath.Join(dir, job)); !os.IsNotExist(err) {
			t.Errorf("the cancelled export's folder is still there: %v", err)
		}
		_, err = svcA.Do(ctx, rest.AllowAll{}, poll(job, "client-a"))
		resttest.WantError(t, err, 404, "not-found", "")
	})

	t.Run("resumed by the other process", func(t *testing.T) {
		g := stopGuard{at: "Patient/p4", reached: make(chan struct{})}
		job := startJob(t, svcA, g, kickoff("Patient", "", "client-a", nil))
		<-g.reached
		if err := expA.Close(); err != nil { // A stops: its job released
			t.Fatal(err)
		}
		expB.Sweep()
		expB.Wait()
		wantEachOnceOf(t, x.download(t, rest.AllowAll{}, "client-a", x.finished(t, rest.AllowAll{}, job, "client-a")), 5)
	})
}

// wantEachOnceOf checks that an export holds n patients, each with one observation, exactly once.
func wantEachOnceOf(t *testing.T, got map[string][]string, n int) {
	t.Helper()
	if len(got["Patient"]) != n || len(slices.Compact(slices.Clone(got["Patient"]))) != n ||
		len(got["Observation"]) != n || len(slices.Compact(slices.Clone(got["Observation"]))) != n {
		t.Errorf("got %v, want %d patients and %d observations, each once", got, n, n)
	}
}

// startJob kicks off an export on svc, decided by g, and returns its job id.
func startJob(t *testing.T, svc *rest.Service, g rest.Guard, req *rest.Request) string {
	t.Helper()
	resp, err := svc.Do(context.Background(), g, req)
	if err != nil {
		t.Fatal(err)
	}
	return jobOf(t, resp)
}

func must(t *testing.T, svc *rest.Service, req *rest.Request) *rest.Response {
	t.Helper()
	resp, err := svc.Do(context.Background(), rest.AllowAll{}, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestExportYields: while the server says it is busy with live requests, a job waits between patients
// (it exports no one); once it is not, the job goes on to its end.
func TestExportYields(t *testing.T) {
	t.Parallel()
	busy, asked := make(chan struct{}), make(chan struct{}, 100)
	x := newExportEnv(t, rest.ExportConfig{MaxYield: time.Hour, Busy: func() bool {
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-busy:
			return false
		default:
			return true
		}
	}})
	job := jobOf(t, x.Must(t, kickoff("Patient", "", "client-a", nil)))
	for range 5 { // the job asked several times, and was told to wait each time
		<-asked
	}
	if n := len(x.audited); n != 0 {
		t.Errorf("%d patients exported while the server was busy", n)
	}
	resttest.WantStatus(t, x.Must(t, poll(job, "client-a")), 202)
	close(busy)
	wantEachOnce(t, x.download(t, x.Guard, "client-a", x.finished(t, x.Guard, job, "client-a")), 3)
}

// TestExportNotStarved: a server that is never idle still sees its export end, each patient waiting at
// most MaxYield for a pause that does not come.
func TestExportNotStarved(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	x := newExportEnv(t, rest.ExportConfig{MaxYield: 20 * time.Millisecond, Busy: func() bool { asked.Add(1); return true }})
	job := jobOf(t, x.Must(t, kickoff("Patient", "", "client-a", nil)))
	wantEachOnce(t, x.download(t, x.Guard, "client-a", x.finished(t, x.Guard, job, "client-a")), 3)
	if asked.Load() < 3 {
		t.Fatalf("the job asked whether the server was busy %d times for 3 patients", asked.Load())
	}
}

// TestExportResumeSystem: a system export stopped among the types outside every compartment resumes in
// that type, after its last page.
func TestExportResumeSystem(t *testing.T) {
	t.Parallel()
	cfg := resumable(rest.ExportConfig{PageSize: 1})
	x := newExportEnv(t, cfg)
	for _, id := range []string{"org2", "org3"} {
		x.Put(t, `{"resourceType":"Organization","id":"`+id+`","name":"Clinic"}`)
	}
	g := stopGuard{at: "Organization/org2", reached: make(chan struct{})}
	job := startJob(t, x.Service, g, kickoff("", "", "client-a", url.Values{"_type": {"Patient,Organization"}}))
	<-g.reached
	if err := x.exports.Close(); err != nil {
		t.Fatal(err)
	}
	e := x.second(t, cfg)
	e.Wait()
	got := x.download(t, x.Guard, "client-a", x.finished(t, x.Guard, job, "client-a"))
	if want := []string{"Organization/org1", "Organization/org2", "Organization/org3"}; !slices.Equal(got["Organization"], want) {
		t.Errorf("Organizations %v, want %v", got["Organization"], want)
	}
	if want := []string{"Patient/p1", "Patient/p2", "Patient/p3"}; !slices.Equal(got["Patient"], want) {
		t.Errorf("Patients %v, want %v", got["Patient"], want)
	}
}

// holdGuard allows everything, but holds the Read of one resource until release is closed (a process
// paused past its lease).
type holdGuard struct {
	rest.AllowAll
	at               string
	reached, release chan struct{}
	once             *sync.Once
}

func (g holdGuard) Read(_ context.Context, _ *rest.Request, f *search.Facts) error {
	if f.Ref() == g.at {
		g.once.Do(func() { close(g.reached) })
		<-g.release
	}
	return nil
}

// TestExportStaleProcess: a process paused past its lease, whose job another process took over and
// completed, goes on writing when it wakes until it notices; nothing it writes reaches a file the job
// lists.
func TestExportStaleProcess(t *testing.T) {
	t.Parallel()
	cfg := resumable(rest.ExportConfig{PageSize: 2, MaxPerFile: 3, Lease: time.Hour})
	x := newExportEnv(t, cfg)
	x.addPatients(t, 6)
	g := holdGuard{at: "Patient/p4", reached: make(chan struct{}), release: make(chan struct{}), once: &sync.Once{}}
	job := startJob(t, x.Service, g, kickoff("Patient", "", "client-a", nil))
	<-g.reached
	b := x.second(t, cfg)
	x.Clock.Advance(2 * time.Hour)
	b.Sweep()
	b.Wait()
	close(g.release) // the paused process wakes, writes p3 and p4, and finds its job gone at the page's end
	x.exports.Wait()
	m := x.finished(t, x.Guard, job, "client-a")
	wantEachOnce(t, x.download(t, x.Guard, "client-a", m), 6)
}

// TestExportResumeAfterReopen: the server stops during an export and its embedded store is closed; the
// store opened again, the next server resumes the export from what the store kept.
func TestExportResumeAfterReopen(t *testing.T) {
	t.Parallel()
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clock := resttest.NewClock(resttest.Epoch)
	dataDir, exportDir := t.TempDir(), t.TempDir()
	cfg := resumable(rest.ExportConfig{Dir: exportDir, PageSize: 2, MaxPerFile: 4})
	start := func() (*rest.Service, *rest.Exports, func()) {
		st, err := embedded.Open(embedded.Config{Dir: dataDir, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := rest.New(rest.Config{BaseURL: resttest.BaseURL, Now: clock.Now}, st, v)
		if err != nil {
			t.Fatal(err)
		}
		e, err := rest.NewExports(svc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return svc, e, func() {
			if err := errors.Join(e.Close(), st.Close()); err != nil {
				t.Error(err)
			}
		}
	}
	svc, _, stop := start()
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		p := "p" + strconv.Itoa(i)
		for _, body := range []string{patient(p, "Family", "female"), observation(p+"-o1", "Patient/"+p)} {
			if _, err := svc.Do(ctx, rest.AllowAll{}, resttest.PutRequest(t, body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	g := stopGuard{at: "Patient/p4", reached: make(chan struct{})}
	job := startJob(t, svc, g, kickoff("Patient", "", "client-a", nil))
	<-g.reached
	stop()

	svc, e, stop := start()
	defer stop()
	e.Wait()
	x := &exportEnv{Env: &resttest.Env{Service: svc, Clock: clock, Guard: rest.AllowAll{}}, exports: e, dir: exportDir}
	wantEachOnceOf(t, x.download(t, rest.AllowAll{}, "client-a", x.finished(t, rest.AllowAll{}, job, "client-a")), 5)
}
