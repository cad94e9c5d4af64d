package rest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// ExportConfig configures bulk export jobs.
type ExportConfig struct {
	// Dir holds a folder per job, with its NDJSON files; the jobs' state is in the store. Processes
	// sharing a store (the Redis engine) must share Dir too, to serve each other's files and resume each
	// other's jobs. Empty: a temporary folder, removed by Close.
	Dir string
	// MaxJobs bounds the exports running at once in this process (default 2); a kick-off beyond it is 429.
	MaxJobs int
	// MaxPerFile bounds the resources of one file (default 10,000).
	MaxPerFile int
	// Retention is how long a finished export's files are kept (default 24 h).
	Retention time.Duration
	// RetryAfter is the Retry-After, in seconds, of a running export's status and of a 429 (default 5).
	RetryAfter int
	// PageSize is how many patients (or resources outside every compartment) a job exports between two
	// savings of its progress (default 500): a resumed job redoes at most one page.
	PageSize int
	// Lease is how long a process holds a running job without renewing it (default 30 s); it renews it
	// every third of that. A job whose lease has expired is taken over by the next Sweep of any process
	// (whose clocks must agree to well within the lease).
	Lease time.Duration
	// Audit records one exported patient (called before the patient's data is written to a file, for a
	// few patients at once), and the export's end (End set, with an empty ledger); an error fails the
	// export: no record, no data.
	Audit func(ctx context.Context, a ExportAudit) error
	// SaveGuard returns what a job keeps, in the store, of the guard that started it, so that
	// RestoreGuard can make a guard deciding for the same caller when the job is resumed after a restart
	// or by another process. Without them, a job stopped before its end fails.
	SaveGuard    func(Guard) ([]byte, error)
	RestoreGuard func([]byte) (Guard, error)
	// Busy, when set, reports whether the server has more live requests in flight than it wants beside
	// exports: a job waits between patients while it does, for at most MaxYield each time (default
	// 50 ms), so that a server busy without a pause still sees its exports end.
	Busy     func() bool
	MaxYield time.Duration
}

// Exports runs the bulk export jobs of a Service: one goroutine per job, at most MaxJobs at once, and one
// that sweeps (removes expired exports, takes over abandoned ones). The jobs' state is in the store
// (export_state.go): any process sharing it answers a job's status, and a job whose process stopped is
// resumed from its last page, or failed with an OperationOutcome, so that a truncated file is never
// presented as complete.
type Exports struct {
	svc     *Service
	records store.Records
	cfg     ExportConfig
	tempDir bool
	holder  string // this process, in leases

	mu      sync.Mutex
	closing bool // Close stops the running jobs: they are released for a restart to resume, not removed
	stop    chan struct{}
	running map[string]context.CancelFunc
	jobs    sync.WaitGroup // the running jobs
	wg      sync.WaitGroup // the sweeper
}

// NewExports enables bulk export on svc. It takes over the running jobs whose lease has expired, and
// removes those past their retention.
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
	if cfg.MaxYield <= 0 {
		cfg.MaxYield = 50 * time.Millisecond
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	// The jobs' records are the server's own state, no resource: they need no gate (gate.go), as they
	// hold nothing the guard decides on and are never served but as a job's status to its owner.
	e := &Exports{svc: svc, records: svc.Store(), cfg: cfg, holder: NewUUID(), running: map[string]context.CancelFunc{}}
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
	e.stop = make(chan struct{})
	e.Sweep()
	e.wg.Add(1)
	go e.sweeper(min(e.cfg.Retention/4, e.cfg.Lease, 10*time.Minute))
	svc.exports = e
	return e, nil
}

// sweeper sweeps every interval until Close, so that files past their retention are deleted and
// abandoned jobs taken over even when nobody asks for an export.
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

// Close stops the running jobs, leaving them for a restart (or another process) to resume, waits for
// them, and removes a temporary folder.
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

// owned returns the state of a job the caller started; any other job is not found, as if it did not exist.
func (e *Exports) owned(ctx context.Context, caller, id string) (*jobState, []byte, error) {
	st, raw, err := e.load(ctx, id)
	if errors.Is(err, os.ErrNotExist) || err == nil && st.Owner != caller {
		return nil, nil, fhir.NotFound("$export-poll", id)
	}
	if err != nil {
		return nil, nil, store.Unavailable(err)
	}
	return st, raw, nil
}

func (e *Exports) state(ctx context.Context, caller, id string) (*jobState, error) {
	e.Sweep()
	st, _, err := e.owned(ctx, caller, id)
	return st, err
}

// file returns the path of one output or error file of a completed job the caller started.
func (e *Exports) file(ctx context.Context, caller, id, name string) (string, error) {
	e.Sweep()
	st, _, err := e.owned(ctx, caller, id)
	if err != nil {
		return "", err
	}
	if st.Status == jobCompleted || st.Status == jobFailed {
		for _, f := range append(slices.Clone(st.Output), st.Error...) {
			if f.Name != name {
				continue
			}
			path := filepath.Join(e.cfg.Dir, id, name)
			if _, err := os.Stat(path); err == nil { // missing: a process whose folder is not shared
				return path, nil
			}
		}
	}
	return "", fhir.NotFound("$export-file", id)
}

// cancel stops a job the caller started, in whichever process runs it, and removes its files: its state
// goes first, so that the process running it stops at its next write.
func (e *Exports) cancel(ctx context.Context, caller, id string) error {
	for {
		_, raw, err := e.owned(ctx, caller, id)
		if err != nil {
			return err
		}
		ok, err := e.records.SwapRecord(ctx, exportNS, id, raw, nil)
		if err != nil {
			return store.Unavailable(err)
		}
		if ok {
			break
		}
	}
	e.mu.Lock()
	stop := e.running[id]
	e.mu.Unlock()
	if stop != nil {
		stop() // the job removes its folder as it ends
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
	if len(e.running) >= e.cfg.MaxJobs || e.closing {
		return "", errTooManyExports
	}
	target := exportTarget(req)
	st := &jobState{ID: e.svc.cfg.NewID(), Owner: req.Caller, Request: target, Status: jobRunning,
		TransactionTime: e.svc.cfg.Now(), Spec: spec, Params: req.Params,
		Holder: e.holder, LeaseUntil: e.svc.cfg.Now().Add(e.cfg.Lease)}
	if !validJobID(st.ID) {
		st.ID = NewUUID()
	}
	if e.cfg.SaveGuard != nil {
		b, err := e.cfg.SaveGuard(g)
		if err == nil {
			st.Guard = b
		}
	}
	dir := filepath.Join(e.cfg.Dir, st.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ok, raw, err := e.swap(context.Background(), nil, st)
	if err != nil || !ok {
		_ = os.RemoveAll(dir)
		return "", store.Unavailable(cmp.Or(err, errors.New("export: job id taken")))
	}
	e.launch(&exportJob{e: e, st: st, saved: raw, persisted: *st, spec: spec, guard: g, caller: req.Caller,
		target: target, params: req.Params})
	return st.ID, nil
}

// launch runs a job whose lease e holds; e.mu is held.
func (e *Exports) launch(j *exportJob) {
	if j.persisted.ID == "" {
		j.persisted = *j.st
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.running[j.st.ID] = cancel
	e.jobs.Add(1)
	go j.run(ctx, cancel)
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
	st     *jobState // the live state, which the job alone changes
	spec   exportSpec
	guard  Guard
	caller string
	target string
	params map[string][]string
	resume bool // resumed from st's cursor and files
	files  map[string]*ndjsonWriter
	lost   atomic.Bool // the job's state changed in the store under it

	saveMu    sync.Mutex // the writes of the state: pages and lease renewals
	saved     []byte     // the state as last stored
	persisted jobState   // the same, decoded
}

// run runs the job to its end: completed, failed, released (the server stops), or (cancelled, or taken
// over by another process) left to whoever changed its state.
func (j *exportJob) run(ctx context.Context, cancel context.CancelFunc) {
	defer j.e.jobs.Done()
	bg := context.Background()
	done, renewed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(renewed)
		j.renewer(bg, cancel, done)
	}()
	err := j.export(ctx)
	close(done)
	<-renewed
	if err == nil {
		err = j.finish(bg)
	}
	j.e.mu.Lock()
	defer j.e.mu.Unlock()
	delete(j.e.running, j.st.ID)
	defer cancel()
	dir := filepath.Join(j.e.cfg.Dir, j.st.ID)
	switch {
	case err == nil:
	case j.lost.Load() || errors.Is(err, errLeaseLost):
		j.abandon()
		if _, _, lerr := j.e.load(bg, j.st.ID); errors.Is(lerr, os.ErrNotExist) {
			_ = os.RemoveAll(dir) // cancelled
		}
	case ctx.Err() != nil && j.e.closing:
		j.abandon()
		j.release(bg)
	case ctx.Err() != nil: // cancelled by its client, its state removed
		j.abandon()
		_ = os.RemoveAll(dir)
	default:
		j.abandon()
		j.saveMu.Lock()
		_ = j.e.fail(bg, j.st, j.saved, "the export could not be completed")
		j.saveMu.Unlock()
	}
}

// finish closes the files and stores the completed state, after the export's own audit.
func (j *exportJob) finish(ctx context.Context) error {
	if j.e.cfg.Audit != nil {
		g, req := j.guardFor(), j.request()
		if err := j.e.cfg.Audit(ctx, ExportAudit{Job: j.st.ID, Target: j.target, Request: req, Guard: g, End: true}); err != nil {
			return err
		}
	}
	for _, t := range j.spec.outputTypes() {
		if w := j.files[t]; w != nil {
			if err := w.close(); err != nil {
				return err
			}
			j.st.Output = append(j.st.Output, w.done...)
		}
	}
	st := *j.st
	st.Status, st.Finished = jobCompleted, j.e.svc.cfg.Now()
	st.Files, st.Cursor, st.Guard = nil, exportCursor{}, nil
	st.Holder, st.LeaseUntil = "", time.Time{}
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	ok, raw, err := j.e.swap(ctx, j.saved, &st)
	if err == nil && !ok {
		err = errLeaseLost
	}
	if err == nil {
		j.saved, j.persisted = raw, st
	}
	return err
}

// abandon closes the files without writing what is buffered: the state decides what they hold.
func (j *exportJob) abandon() {
	for _, w := range j.files {
		w.abandon()
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

// exportPhase is the phase of the patients' records (the other phases are types outside every
// compartment, in a system export).
const exportPhase = "Patient"

// phases returns the job's phases in order, and the types of the patients' compartments it writes.
func (j *exportJob) phases() ([]string, []string) {
	var phases, compartment []string
	for _, t := range j.spec.Types {
		if t == "Patient" || len(search.CompartmentParams(t)) > 0 {
			compartment = append(compartment, t)
		}
	}
	if len(compartment) > 0 {
		phases = append(phases, exportPhase)
	}
	if j.spec.Level == "system" {
		for _, t := range j.spec.Types {
			if t != "Patient" && len(search.CompartmentParams(t)) == 0 {
				phases = append(phases, t)
			}
		}
	}
	return phases, compartment
}

// export writes the patients' records, then (for a system export) the types outside every compartment,
// a page at a time, storing where it stands after each page; a resumed job starts after the last page
// stored, its files cut back to what they held then.
func (j *exportJob) export(ctx context.Context) error {
	if err := j.open(); err != nil {
		return err
	}
	phases, compartment := j.phases()
	from := 0
	if j.resume && j.st.Cursor.Phase != "" {
		from = max(slices.Index(phases, j.st.Cursor.Phase), 0)
	}
	for i := from; i < len(phases); i++ {
		after := ""
		if i == from {
			after = j.st.Cursor.After
		}
		var err error
		if phases[i] == exportPhase {
			err = j.patients(ctx, compartment, after)
		} else {
			err = j.others(ctx, phases[i], after)
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// open makes the job's writers: new ones, or for a resumed job those of its stored state. A resumed
// job's open file is copied, up to the length stored, into a file of the job's new generation (so that a
// process that lost the job, and has yet to notice, writes nowhere the job reads), and every file that is
// neither that one nor complete is removed.
func (j *exportJob) open() error {
	j.files = map[string]*ndjsonWriter{}
	dir := filepath.Join(j.e.cfg.Dir, j.st.ID)
	if !j.resume {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, tf := range j.st.Files {
		w := &ndjsonWriter{dir: dir, typ: tf.Type, max: j.e.cfg.MaxPerFile, gen: j.st.Gen, done: slices.Clone(tf.Done)}
		for _, d := range tf.Done {
			keep[d.Name] = true
		}
		if tf.Open != nil {
			if err := w.reopen(*tf.Open); err != nil {
				return err
			}
			keep[w.name()] = true
		}
		j.files[tf.Type] = w
	}
	removeNDJSON(dir, keep)
	return j.rememberProvenance()
}

// patients writes the records of the patients after after, in id order: the group's members, those the
// patient parameter names, or every patient.
func (j *exportJob) patients(ctx context.Context, types []string, after string) error {
	s := j.e.svc
	o := search.EverythingOptions{Since: j.spec.Since, Types: types}
	var members map[string]bool // a group's patients ("Patient/id"); nil: every patient
	// read returns what the export writes of one patient (nothing of a patient it does not cover).
	read := func(id string) (ExportAudit, error) {
		if err := j.yield(ctx); err != nil {
			return ExportAudit{}, err
		}
		g, req := j.guardFor(), j.request()
		vs, err := s.exportPatient(ctx, g, req, id, o)
		if err != nil || len(vs) == 0 {
			return ExportAudit{}, err
		}
		// A resource in several patients' compartments (a Group, an encounter of twins) is written once:
		// with the first of them, in id order, that the export covers.
		vs = slices.DeleteFunc(vs, func(v *store.Version) bool {
			return firstCovered(req.Ledger.Patients(v.Ref()), members) != "Patient/"+id
		})
		if vs, err = j.shape(ctx, g, req, vs); err != nil {
			return ExportAudit{}, err
		}
		return ExportAudit{Job: j.st.ID, Target: j.target, Request: req, Guard: g, Written: vs}, nil
	}
	page := func(ids []string) error {
		for len(ids) > 0 {
			n := min(len(ids), exportBatch)
			if err := j.batch(ctx, ids[:n], read); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	}
	ids, all, err := j.listed(ctx)
	if err != nil {
		return err
	}
	if all {
		return j.pages(ctx, exportPhase, "Patient", after, page)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	members = make(map[string]bool, len(ids))
	for _, id := range ids {
		members["Patient/"+id] = true
	}
	ids = ids[sort.SearchStrings(ids, after+"\x00"):]
	for len(ids) > 0 {
		n := min(len(ids), j.e.cfg.PageSize)
		if err := page(ids[:n]); err != nil {
			return err
		}
		if err := j.checkpoint(ctx, exportPhase, ids[n-1]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// listed returns the patients an export is limited to: a group's members (those of them the patient
// parameter names, when given), or the patient parameter's list; all when it exports every patient.
func (j *exportJob) listed(ctx context.Context) (ids []string, all bool, err error) {
	if j.spec.Level != "group" {
		ids = j.spec.Options.patients()
		return ids, ids == nil, nil
	}
	ids, err = j.e.svc.exportGroup(ctx, j.guardFor(), j.request(), j.spec.Group)
	if err != nil {
		return nil, false, err
	}
	return j.spec.Options.only(ids), false, nil
}

// exportBatch is how many patients' records a job reads before recording them in the audit trail, all
// at once (so that their events share the trail's durable commits), and then writing them.
const exportBatch = 16

// batch exports a few patients: their records read, then recorded, then written (no record, no data).
func (j *exportJob) batch(ctx context.Context, ids []string, read func(id string) (ExportAudit, error)) error {
	recs := make([]ExportAudit, 0, len(ids))
	for _, id := range ids {
		r, err := read(id)
		if err != nil {
			return err
		}
		if len(r.Written) > 0 {
			recs = append(recs, r)
		}
	}
	if err := j.audit(ctx, recs); err != nil {
		return err
	}
	for _, r := range recs {
		j.st.Patients++
		if err := j.write(r.Written); err != nil {
			return err
		}
	}
	return nil
}

// audit records patients' exports in the audit trail, at once; any failure fails them all.
func (j *exportJob) audit(ctx context.Context, recs []ExportAudit) error {
	if j.e.cfg.Audit == nil || len(recs) == 0 {
		return nil
	}
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = j.e.cfg.Audit(ctx, recs[i])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// others writes the resources of typ, a type outside every compartment, after after in id order.
func (j *exportJob) others(ctx context.Context, typ, after string) error {
	return j.pages(ctx, typ, typ, after, func(ids []string) error {
		g, req := j.guardFor(), j.request()
		vs, err := j.e.svc.exportResources(ctx, g, req, typ, ids, j.spec.Since)
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
}

// yield waits, between patients, while the server is busier than it wants beside exports, for at most
// MaxYield: live requests go first, and an export still moves on under a load that never pauses.
func (j *exportJob) yield(ctx context.Context) error {
	if j.e.cfg.Busy == nil {
		return nil
	}
	limit := time.NewTimer(j.e.cfg.MaxYield)
	defer limit.Stop()
	for j.e.cfg.Busy() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// firstCovered returns the first, in order, of a resource's patients that the export covers (any patient
// when members is nil).
func firstCovered(patients []string, members map[string]bool) string {
	first := ""
	for _, p := range patients {
		if (members == nil || members[p]) && (first == "" || p < first) {
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

// pages calls fn with the ids of typ after after, a page at a time, storing the job's progress in phase
// after each page.
func (j *exportJob) pages(ctx context.Context, phase, typ, after string, fn func(ids []string) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids, err := j.e.svc.exportIDs(ctx, typ, after, j.e.cfg.PageSize)
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
		if err := j.checkpoint(ctx, phase, after); err != nil {
			return err
		}
		if len(ids) < j.e.cfg.PageSize {
			return nil
		}
	}
}

// checkpoint stores where the job stands after a page: the open files written out and synced, their
// lines and lengths, the cursor, the counts; the lease is renewed with it.
func (j *exportJob) checkpoint(ctx context.Context, phase, after string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := *j.st
	st.Cursor = exportCursor{Phase: phase, After: after}
	st.Files = nil
	types := slices.Sorted(maps.Keys(j.files))
	for _, t := range types {
		w := j.files[t]
		open, err := w.sync()
		if err != nil {
			return err
		}
		st.Files = append(st.Files, typeFiles{Type: t, Done: slices.Clone(w.done), Open: open})
	}
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	err := j.store(context.WithoutCancel(ctx), &st)
	if errors.Is(err, errLeaseLost) {
		j.lost.Store(true)
	}
	return err
}

// write appends versions to their types' files.
func (j *exportJob) write(vs []*store.Version) error {
	for _, v := range vs {
		w := j.files[v.Type]
		if w == nil {
			w = &ndjsonWriter{dir: filepath.Join(j.e.cfg.Dir, j.st.ID), typ: v.Type, max: j.e.cfg.MaxPerFile, gen: j.st.Gen}
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
	gen  int   // the job's generation (jobState.Gen)
	n    int   // lines of the open file
	size int64 // its length
	done []exportFile
}

// name is the name of the file being written: Type-n.ndjson, or Type-n-rG.ndjson once the job has been
// resumed G times.
func (w *ndjsonWriter) name() string {
	name := w.typ + "-" + strconv.Itoa(len(w.done)+1)
	if w.gen > 0 {
		name += "-r" + strconv.Itoa(w.gen)
	}
	return name + ".ndjson"
}

func (w *ndjsonWriter) write(body []byte) error {
	if w.f == nil {
		f, err := os.OpenFile(filepath.Join(w.dir, w.name()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		w.f, w.bw, w.n, w.size = f, bufio.NewWriterSize(f, 64<<10), 0, 0
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
	w.size += int64(len(body)) + 1
	if w.n >= w.max {
		return w.close()
	}
	return nil
}

// sync writes out and syncs the open file, and returns what it holds (nil when none is open).
func (w *ndjsonWriter) sync() (*openFile, error) {
	if w.f == nil {
		return nil, nil
	}
	if err := errors.Join(w.bw.Flush(), w.f.Sync()); err != nil {
		return nil, fmt.Errorf("export file %s: %w", w.name(), err)
	}
	return &openFile{Name: w.name(), Count: w.n, Bytes: w.size}, nil
}

// reopen continues a resumed job's open file: the lines it held at the last page stored are copied into
// the file of this generation, which is written on; the old file is removed.
func (w *ndjsonWriter) reopen(o openFile) error {
	if !strings.HasPrefix(o.Name, w.typ+"-"+strconv.Itoa(len(w.done)+1)) {
		return fmt.Errorf("export file %s: not the next file of %s", o.Name, w.typ)
	}
	src, err := os.Open(filepath.Join(w.dir, o.Name))
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }() // read only
	f, err := os.OpenFile(filepath.Join(w.dir, w.name()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, src, o.Bytes); err != nil {
		return errors.Join(fmt.Errorf("export file %s: %w", o.Name, err), f.Close())
	}
	if o.Name != w.name() {
		_ = os.Remove(filepath.Join(w.dir, o.Name))
	}
	w.f, w.bw, w.n, w.size = f, bufio.NewWriterSize(f, 64<<10), o.Count, o.Bytes
	return nil
}

// close finishes the current file (synced to disk) and lists it as done.
func (w *ndjsonWriter) close() error {
	if w.f == nil {
		return nil
	}
	name := w.name()
	err := errors.Join(w.bw.Flush(), w.f.Sync(), w.f.Close())
	w.done = append(w.done, exportFile{Type: w.typ, Name: name, Count: w.n})
	w.f, w.bw = nil, nil
	if err != nil {
		return fmt.Errorf("export file %s: %w", name, err)
	}
	return nil
}

// abandon closes the open file without writing out what is buffered.
func (w *ndjsonWriter) abandon() {
	if w.f != nil {
		_ = w.f.Close()
		w.f, w.bw = nil, nil
	}
}
