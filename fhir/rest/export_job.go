package rest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// ExportConfig configures bulk export jobs.
type ExportConfig struct {
	// Dir holds a folder per job: its state (job.json) and its NDJSON files. Empty: a temporary folder,
	// removed by Close.
	Dir string
	// MaxJobs bounds the exports running at once (default 2); a kick-off beyond it is 429.
	MaxJobs int
	// MaxPerFile bounds the resources of one file (default 10,000).
	MaxPerFile int
	// Retention is how long a finished export's files are kept (default 24 h).
	Retention time.Duration
	// RetryAfter is the Retry-After, in seconds, of a running export's status and of a 429 (default 5).
	RetryAfter int
	// Audit records one exported patient (called before the patient's data is written to a file), and
	// the export's end (with an empty ledger); an error fails the export: no record, no data.
	Audit func(ctx context.Context, a ExportAudit) error
}

// Exports runs the bulk export jobs of a Service: one goroutine per job, at most MaxJobs at once, and one
// that removes expired exports. Each
// job's state is a file next to its output, written atomically; a job found running when Exports starts
// (the server stopped during it) is marked failed and its partial files removed, so that a truncated
// file is never presented as complete.
type Exports struct {
	svc     *Service
	cfg     ExportConfig
	tempDir bool

	mu      sync.Mutex
	closing bool // Close cancels the running jobs: they end failed, not removed
	stop    chan struct{}
	running map[string]context.CancelFunc
	jobs    sync.WaitGroup // the running jobs
	wg      sync.WaitGroup // the sweeper
}

// The states of a job.
const (
	jobRunning   = "running"
	jobCompleted = "completed"
	jobFailed    = "failed"
)

// jobState is a job's persisted state (job.json).
type jobState struct {
	ID              string       `json:"id"`
	Owner           string       `json:"owner"`
	Request         string       `json:"request"`
	Status          string       `json:"status"`
	Reason          string       `json:"reason,omitempty"`
	TransactionTime time.Time    `json:"transactionTime"`
	Finished        time.Time    `json:"finished,omitzero"`
	Patients        int          `json:"patients"`
	Resources       int          `json:"resources"`
	Output          []exportFile `json:"output,omitempty"`
	Error           []exportFile `json:"error,omitempty"`
}

// exportFile is one NDJSON file of a job.
type exportFile struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// NewExports enables bulk export on svc. Jobs found running in cfg.Dir are marked failed and those past
// their retention removed.
func NewExports(svc *Service, cfg ExportConfig) (*Exports, error) {
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 2
	}
	if cfg.MaxPerFile <= 0 {
		cfg.MaxPerFile = 10000
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5
	}
	e := &Exports{svc: svc, cfg: cfg, running: map[string]context.CancelFunc{}}
	if e.cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "fhirgate-export-")
		if err != nil {
			return nil, err
		}
		e.cfg.Dir, e.tempDir = dir, true
	}
	if err := os.MkdirAll(e.cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(e.cfg.Dir)
	if err != nil {
		return nil, err
	}
	for _, d := range entries {
		st, err := e.load(d.Name())
		if err != nil || st.Status != jobRunning {
			continue
		}
		if err := e.fail(st, "the server stopped during the export"); err != nil {
			return nil, err
		}
	}
	e.Sweep()
	e.stop = make(chan struct{})
	e.wg.Add(1)
	go e.sweeper(min(e.cfg.Retention/4, 10*time.Minute))
	svc.exports = e
	return e, nil
}

// sweeper removes expired exports every interval until Close, so that files past their retention are
// deleted even when nobody asks for an export.
func (e *Exports) sweeper(interval time.Duration) {
	defer e.wg.Done()
	tick := time.NewTicker(max(interval, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			e.Sweep()
		}
	}
}

// Wait waits until no job runs.
func (e *Exports) Wait() { e.jobs.Wait() }

// Close cancels the running jobs, waits for them, and removes a temporary folder.
func (e *Exports) Close() error {
	e.mu.Lock()
	if !e.closing {
		close(e.stop)
	}
	e.closing = true
	for _, cancel := range e.running {
		cancel()
	}
	e.mu.Unlock()
	e.jobs.Wait()
	e.wg.Wait()
	if e.tempDir {
		return os.RemoveAll(e.cfg.Dir)
	}
	return nil
}

// Sweep removes the folders of exports finished longer than the retention ago.
func (e *Exports) Sweep() {
	entries, err := os.ReadDir(e.cfg.Dir)
	if err != nil {
		return
	}
	now := e.svc.cfg.Now()
	for _, d := range entries {
		st, err := e.load(d.Name())
		if err == nil && st.Status != jobRunning && now.Sub(st.Finished) > e.cfg.Retention {
			_ = os.RemoveAll(filepath.Join(e.cfg.Dir, st.ID))
		}
	}
}

// validJobID reports whether id can name a job's folder (a UUID as NewUUID makes).
func validJobID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (e *Exports) load(id string) (*jobState, error) {
	if !validJobID(id) {
		return nil, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(e.cfg.Dir, id, "job.json"))
	if err != nil {
		return nil, err
	}
	var st jobState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// save writes a job's state atomically.
func (e *Exports) save(st *jobState) error {
	dir := filepath.Join(e.cfg.Dir, st.ID)
	tmp := filepath.Join(dir, "job.json.tmp")
	if err := os.WriteFile(tmp, fhir.MustJSON(st), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "job.json"))
}

// fail marks a job failed: its files are removed and an OperationOutcome says why.
func (e *Exports) fail(st *jobState, reason string) error {
	dir := filepath.Join(e.cfg.Dir, st.ID)
	for _, f := range st.Output {
		_ = os.Remove(filepath.Join(dir, f.Name))
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, d := range entries {
			if strings.HasSuffix(d.Name(), ".ndjson") {
				_ = os.Remove(filepath.Join(dir, d.Name()))
			}
		}
	}
	st.Status, st.Reason, st.Output, st.Finished = jobFailed, reason, nil, e.svc.cfg.Now()
	oo := fhir.MustJSON(map[string]any{"resourceType": "OperationOutcome", "issue": []map[string]string{
		{"severity": "error", "code": "exception", "diagnostics": reason}}})
	if err := os.WriteFile(filepath.Join(dir, "OperationOutcome-error.ndjson"), append(oo, '\n'), 0o600); err != nil {
		return err
	}
	st.Error = []exportFile{{Type: "OperationOutcome", Name: "OperationOutcome-error.ndjson", Count: 1}}
	return e.save(st)
}

// owned returns the state of a job the caller started; any other job is not found, as if it did not exist.
func (e *Exports) owned(caller, id string) (*jobState, error) {
	st, err := e.load(id)
	if err != nil || st.Owner != caller {
		return nil, fhir.NotFound("$export-poll", id)
	}
	return st, nil
}

func (e *Exports) state(caller, id string) (*jobState, error) {
	e.Sweep()
	return e.owned(caller, id)
}

// file returns the path of one output or error file of a completed job the caller started.
func (e *Exports) file(caller, id, name string) (string, error) {
	e.Sweep()
	st, err := e.owned(caller, id)
	if err != nil {
		return "", err
	}
	if st.Status == jobCompleted || st.Status == jobFailed {
		for _, f := range append(slices.Clone(st.Output), st.Error...) {
			if f.Name == name {
				return filepath.Join(e.cfg.Dir, id, name), nil
			}
		}
	}
	return "", fhir.NotFound("$export-file", id)
}

// cancel stops a job the caller started and removes its files.
func (e *Exports) cancel(caller, id string) error {
	if _, err := e.owned(caller, id); err != nil {
		return err
	}
	e.mu.Lock()
	stop := e.running[id]
	e.mu.Unlock()
	if stop != nil {
		stop()
		e.awaitEnd(id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// A running job removes its own folder when it sees the cancellation; a finished one is removed here.
	if _, running := e.running[id]; running {
		return nil
	}
	return os.RemoveAll(filepath.Join(e.cfg.Dir, id))
}

// errTooManyExports refuses a kick-off while MaxJobs run; the kick-off answers it with Retry-After.
var errTooManyExports = &fhir.Error{Kind: fhir.KindTooManyRequests, Code: "throttled",
	Details: "too many bulk exports are running: try again later"}

// start starts a job for the kick-off req, authorized by g, or is 429 when MaxJobs run already.
func (e *Exports) start(g Guard, req *Request, spec exportSpec) (string, error) {
	e.Sweep()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.running) >= e.cfg.MaxJobs {
		return "", errTooManyExports
	}
	target := exportTarget(req)
	st := &jobState{ID: e.svc.cfg.NewID(), Owner: req.Caller, Request: target, Status: jobRunning,
		TransactionTime: e.svc.cfg.Now()}
	if !validJobID(st.ID) {
		st.ID = NewUUID()
	}
	if err := os.MkdirAll(filepath.Join(e.cfg.Dir, st.ID), 0o700); err != nil {
		return "", err
	}
	if err := e.save(st); err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.running[st.ID] = cancel
	e.jobs.Add(1)
	j := &exportJob{e: e, st: st, spec: spec, guard: g, caller: req.Caller, target: target, params: req.Params}
	go j.run(ctx)
	return st.ID, nil
}

// exportTarget is the kick-off's URL relative to the base.
func exportTarget(req *Request) string {
	path := "$export"
	switch req.Type {
	case "Patient":
		path = "Patient/$export"
	case "Group":
		path = "Group/" + req.ID + "/$export"
	}
	if q := req.Params.Encode(); q != "" {
		path += "?" + q
	}
	return path
}

// exportJob is one running export.
type exportJob struct {
	e      *Exports
	st     *jobState
	spec   exportSpec
	guard  Guard
	caller string
	target string
	params map[string][]string
	files  map[string]*ndjsonWriter
}

// run runs the job to its end: completed, failed, or (cancelled) removed.
func (j *exportJob) run(ctx context.Context) {
	defer j.e.jobs.Done()
	err := j.export(ctx)
	for _, w := range j.files {
		if cerr := w.close(); err == nil {
			err = cerr
		}
	}
	j.e.mu.Lock()
	defer j.e.mu.Unlock()
	delete(j.e.running, j.st.ID)
	dir := filepath.Join(j.e.cfg.Dir, j.st.ID)
	switch {
	case ctx.Err() != nil && j.e.closing:
		_ = j.e.fail(j.st, "the server stopped during the export")
		return
	case ctx.Err() != nil: // cancelled by its client
		_ = os.RemoveAll(dir)
		return
	case err != nil:
		_ = j.e.fail(j.st, "the export could not be completed")
		return
	}
	for _, t := range j.spec.outputTypes() {
		if w := j.files[t]; w != nil {
			j.st.Output = append(j.st.Output, w.done...)
		}
	}
	j.st.Status, j.st.Finished = jobCompleted, j.e.svc.cfg.Now()
	if err := j.e.save(j.st); err != nil {
		_ = j.e.fail(j.st, "the export's state could not be saved")
	}
}

// guardFor returns the guard that decides one patient (a renewed one, when the guard can be renewed).
func (j *exportJob) guardFor() Guard {
	if r, ok := j.guard.(Renewable); ok {
		return r.Renew()
	}
	return j.guard
}

// request is the export as the interaction one patient's data left by, with its own ledger.
func (j *exportJob) request() *Request {
	typ, id := "", ""
	switch j.spec.Level {
	case "patient":
		typ = "Patient"
	case "group":
		typ, id = "Group", j.spec.Group
	}
	return &Request{Interaction: Operation, Operation: "export", Type: typ, ID: id, Params: j.params,
		Caller: j.caller, Ledger: NewLedger()}
}

const exportPage = 500

// export writes the patients' records, then (for a system export) the types outside every compartment.
func (j *exportJob) export(ctx context.Context) error {
	s := j.e.svc
	j.files = map[string]*ndjsonWriter{}
	o := search.EverythingOptions{Since: j.spec.Since}
	for _, t := range j.spec.Types {
		if t == "Patient" || len(search.CompartmentParams(t)) > 0 {
			o.Types = append(o.Types, t)
		}
	}
	var members []string // a group's patients ("Patient/id"); nil: every patient
	patient := func(id string) error {
		g, req := j.guardFor(), j.request()
		vs, err := s.exportPatient(ctx, g, req, id, o)
		if err != nil || len(vs) == 0 {
			return err
		}
		// A resource in several patients' compartments (a Group, an encounter of twins) is written once:
		// with the first of them, in id order, that the export covers.
		vs = slices.DeleteFunc(vs, func(v *store.Version) bool {
			return firstCovered(req.Ledger.Patients(v.Ref()), members) != "Patient/"+id
		})
		if vs, err = j.shape(ctx, g, req, vs); err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		if j.e.cfg.Audit != nil {
			if err := j.e.cfg.Audit(ctx, ExportAudit{Job: j.st.ID, Target: j.target, Request: req, Guard: g, Written: vs}); err != nil {
				return err
			}
		}
		j.st.Patients++
		return j.write(vs)
	}
	if len(o.Types) > 0 {
		if j.spec.Level == "group" {
			ids, err := s.exportGroup(ctx, j.guardFor(), j.request(), j.spec.Group)
			if err != nil {
				return err
			}
			ids = j.spec.Options.only(ids)
			for _, id := range ids {
				members = append(members, "Patient/"+id)
			}
			for _, id := range ids {
				if err := patient(id); err != nil {
					return err
				}
			}
		} else if ids := j.spec.Options.patients(); ids != nil {
			for _, id := range ids {
				members = append(members, "Patient/"+id)
			}
			for _, id := range ids {
				if err := patient(id); err != nil {
					return err
				}
			}
		} else if err := j.scan(ctx, "Patient", patient); err != nil {
			return err
		}
	}
	if j.spec.Level == "system" {
		for _, t := range j.spec.Types {
			if t == "Patient" || len(search.CompartmentParams(t)) > 0 {
				continue
			}
			err := j.pages(ctx, t, func(ids []string) error {
				g, req := j.guardFor(), j.request()
				vs, err := s.exportResources(ctx, g, req, t, ids, j.spec.Since)
				if err != nil {
					return err
				}
				if vs, err = j.shape(ctx, g, req, vs); err != nil {
					return err
				}
				if len(vs) > 0 && j.e.cfg.Audit != nil && carriesPatients(req.Ledger) {
					if err := j.e.cfg.Audit(ctx, ExportAudit{Job: j.st.ID, Target: j.target, Request: req, Guard: g, Written: vs}); err != nil {
						return err
					}
				}
				return j.write(vs)
			})
			if err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// firstCovered returns the first, in order, of a resource's patients that the export covers (any patient
// when members is nil).
func firstCovered(patients, members []string) string {
	first := ""
	for _, p := range patients {
		if (members == nil || slices.Contains(members, p)) && (first == "" || p < first) {
			first = p
		}
	}
	return first
}

// carriesPatients reports whether a ledger noted some patient's data.
func carriesPatients(l *Ledger) bool {
	for _, ps := range l.Noted() {
		if len(ps) > 0 {
			return true
		}
	}
	return false
}

// scan calls fn with every id of typ, in pages.
func (j *exportJob) scan(ctx context.Context, typ string, fn func(id string) error) error {
	return j.pages(ctx, typ, func(ids []string) error {
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// pages calls fn with the ids of typ, a page at a time, saving progress between pages.
func (j *exportJob) pages(ctx context.Context, typ string, fn func(ids []string) error) error {
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids, err := j.e.svc.exportIDs(ctx, typ, after, exportPage)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		after = ids[len(ids)-1]
		j.e.mu.Lock()
		err = j.e.save(j.st)
		j.e.mu.Unlock()
		if err != nil {
			return err
		}
		if len(ids) < exportPage {
			return nil
		}
	}
}

// write appends versions to their types' files.
func (j *exportJob) write(vs []*store.Version) error {
	for _, v := range vs {
		w := j.files[v.Type]
		if w == nil {
			w = &ndjsonWriter{dir: filepath.Join(j.e.cfg.Dir, j.st.ID), typ: v.Type, max: j.e.cfg.MaxPerFile}
			j.files[v.Type] = w
		}
		if err := w.write(v.Body); err != nil {
			return err
		}
		j.st.Resources++
	}
	return nil
}

// ndjsonWriter writes one type's resources into files of at most max lines each.
type ndjsonWriter struct {
	dir  string
	typ  string
	max  int
	f    *os.File
	bw   *bufio.Writer
	n    int
	done []exportFile
}

func (w *ndjsonWriter) write(body []byte) error {
	if w.f == nil {
		name := w.typ + "-" + strconv.Itoa(len(w.done)+1) + ".ndjson"
		f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		w.f, w.bw, w.n = f, bufio.NewWriterSize(f, 64<<10), 0
	}
	if bytes.ContainsAny(body, "\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			return err
		}
		body = buf.Bytes()
	}
	if _, err := w.bw.Write(body); err != nil {
		return err
	}
	if err := w.bw.WriteByte('\n'); err != nil {
		return err
	}
	w.n++
	if w.n >= w.max {
		return w.close()
	}
	return nil
}

// close finishes the current file (synced to disk) and lists it as done.
func (w *ndjsonWriter) close() error {
	if w.f == nil {
		return nil
	}
	name := filepath.Base(w.f.Name())
	err := errors.Join(w.bw.Flush(), w.f.Sync(), w.f.Close())
	w.done = append(w.done, exportFile{Type: w.typ, Name: name, Count: w.n})
	w.f, w.bw = nil, nil
	if err != nil {
		return fmt.Errorf("export file %s: %w", name, err)
	}
	return nil
}
