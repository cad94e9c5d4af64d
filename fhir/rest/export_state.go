package rest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// A bulk export's state lives in the store (store.Records, namespace "export", key the job's id), so that
// every process sharing the store answers its status URL and serves its files (which live in the export
// folder, which those processes must share), and so that a restart resumes it. One process at a time
// runs a job: the one holding its lease (Holder until LeaseUntil), which it renews while it runs; every
// write of the state is a swap from the value the writer last saw, so that a process that lost its lease
// (or whose job was cancelled elsewhere) notices at its next write and stops.

// exportNS is the namespace of the jobs' records.
const exportNS = "export"

// The states of a job.
const (
	jobRunning   = "running"
	jobCompleted = "completed"
	jobFailed    = "failed"
)

// jobState is a job's persisted state.
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

	// What the job does, to resume it: the kick-off's spec and parameters, and what ExportConfig.SaveGuard
	// kept of its guard (nil: the job cannot be resumed, and fails when its process stops).
	Spec   exportSpec          `json:"spec"`
	Params map[string][]string `json:"params,omitempty"`
	Guard  []byte              `json:"guard,omitempty"`
	// Where a running job stands: the last page done, and each type's files as they were then (an open
	// file's lines and length, to which a resumed job truncates it).
	Cursor exportCursor `json:"cursor,omitzero"`
	Files  []typeFiles  `json:"files,omitempty"`
	// The lease of a running job, and how many times the job was resumed (its files' generation).
	Gen        int       `json:"gen,omitempty"`
	Holder     string    `json:"holder,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
}

// exportCursor is the last page a job completed: the phase ("Patient" for the patients' records, else a
// type outside every compartment) and the last id of the page.
type exportCursor struct {
	Phase string `json:"phase,omitempty"`
	After string `json:"after,omitempty"`
}

// typeFiles are one type's files of a running job: those complete, and the one being written.
type typeFiles struct {
	Type string       `json:"type"`
	Done []exportFile `json:"done,omitempty"`
	Open *openFile    `json:"open,omitempty"`
}

// openFile is a file being written, as of the last page done.
type openFile struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// exportFile is one NDJSON file of a job.
type exportFile struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// errLeaseLost stops a job whose state changed under it: another process took it over, or it was
// cancelled (its state deleted).
var errLeaseLost = errors.New("export: the job's state changed in the store: lease lost or cancelled")

// load returns a job's state and its stored bytes (os.ErrNotExist when there is none).
func (e *Exports) load(ctx context.Context, id string) (*jobState, []byte, error) {
	if !validJobID(id) {
		return nil, nil, os.ErrNotExist
	}
	b, err := e.records.GetRecord(ctx, exportNS, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, os.ErrNotExist
	}
	if err != nil {
		return nil, nil, err
	}
	var st jobState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, err
	}
	return &st, b, nil
}

// swap writes st over old (nil: a new job), reporting whether old was still the stored state, and the new
// stored bytes.
func (e *Exports) swap(ctx context.Context, old []byte, st *jobState) (bool, []byte, error) {
	b := fhir.MustJSON(st)
	ok, err := e.records.SwapRecord(ctx, exportNS, st.ID, old, b)
	if err != nil || !ok {
		return false, nil, err
	}
	return true, b, nil
}

// fail marks a job failed, if its stored state is still old: its files are removed and an
// OperationOutcome says why.
func (e *Exports) fail(ctx context.Context, st *jobState, old []byte, reason string) error {
	// The files are another process's once the state has changed: check before touching them.
	if _, cur, err := e.load(ctx, st.ID); err != nil || !bytes.Equal(cur, old) {
		return cmp.Or(err, errLeaseLost)
	}
	dir := filepath.Join(e.cfg.Dir, st.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	removeNDJSON(dir, nil)
	f := *st
	f.Status, f.Reason, f.Output, f.Finished = jobFailed, reason, nil, e.svc.cfg.Now()
	f.Files, f.Cursor, f.Holder, f.LeaseUntil, f.Guard = nil, exportCursor{}, "", time.Time{}, nil
	oo := fhir.MustJSON(map[string]any{"resourceType": "OperationOutcome", "issue": []map[string]string{
		{"severity": "error", "code": "exception", "diagnostics": reason}}})
	if err := os.WriteFile(filepath.Join(dir, errorFile), append(oo, '\n'), 0o600); err != nil {
		return err
	}
	f.Error = []exportFile{{Type: "OperationOutcome", Name: errorFile, Count: 1}}
	ok, _, err := e.swap(ctx, old, &f)
	if err == nil && !ok {
		err = errLeaseLost
	}
	return err
}

// errorFile is the OperationOutcome file of a failed export.
const errorFile = "OperationOutcome-error.ndjson"

// removeNDJSON removes a job folder's NDJSON files but those kept.
func removeNDJSON(dir string, keep map[string]bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, d := range entries {
		if strings.HasSuffix(d.Name(), ".ndjson") && !keep[d.Name()] {
			_ = os.Remove(filepath.Join(dir, d.Name()))
		}
	}
}

// Sweep removes the exports finished longer than the retention ago, and takes over the running exports
// whose lease has expired (their process stopped) as far as MaxJobs allows: each is resumed from its
// last page, or failed with an OperationOutcome when it cannot be.
func (e *Exports) Sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := e.svc.cfg.Now()
	type found struct {
		st  *jobState
		raw []byte
	}
	var expired, abandoned []found
	_ = e.records.ListRecords(ctx, exportNS, func(id string, b []byte) bool {
		var st jobState
		if json.Unmarshal(b, &st) != nil || st.ID != id || !validJobID(id) {
			return true
		}
		switch {
		case st.Status != jobRunning && now.Sub(st.Finished) > e.cfg.Retention:
			expired = append(expired, found{&st, b})
		case st.Status == jobRunning && now.After(st.LeaseUntil):
			abandoned = append(abandoned, found{&st, b})
		}
		return true
	})
	for _, x := range expired {
		if ok, _ := e.records.SwapRecord(ctx, exportNS, x.st.ID, x.raw, nil); ok {
			_ = os.RemoveAll(filepath.Join(e.cfg.Dir, x.st.ID))
		}
	}
	for _, x := range abandoned {
		e.takeOver(ctx, x.st, x.raw)
	}
}

// maxResumes bounds how many times a job is resumed: one that keeps stopping its process fails instead.
const maxResumes = 10

// takeOver takes the lease of an abandoned job and resumes it (or fails it when it cannot be resumed).
func (e *Exports) takeOver(ctx context.Context, st *jobState, old []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing || len(e.running) >= e.cfg.MaxJobs || e.running[st.ID] != nil {
		return
	}
	st.Holder, st.LeaseUntil = e.holder, e.svc.cfg.Now().Add(e.cfg.Lease)
	st.Gen++
	ok, raw, err := e.swap(ctx, old, st)
	if err != nil || !ok {
		return // another process was first
	}
	var g Guard
	if st.Guard != nil && e.cfg.RestoreGuard != nil && st.Gen <= maxResumes {
		g, err = e.cfg.RestoreGuard(st.Guard)
	}
	if g == nil || err != nil {
		_ = e.fail(ctx, st, raw, "the server stopped during the export")
		return
	}
	j := &exportJob{e: e, st: st, saved: raw, spec: st.Spec, guard: g, caller: st.Owner, target: st.Request,
		params: st.Params, resume: true}
	if err := j.recompile(ctx); err != nil {
		_ = e.fail(ctx, st, raw, "the export could not be resumed: its parameters no longer apply")
		return
	}
	e.launch(j)
}

// recompile compiles again the options of a resumed job (their compiled filters are not stored), as
// searches of the restored guard.
func (j *exportJob) recompile(ctx context.Context) error {
	if j.spec.Options == nil {
		j.spec.Options = &exportOptions{}
	}
	return j.e.svc.compileExportOptions(ctx, j.guard, j.request(), j.spec.Options)
}

// release gives up a job's lease, leaving it running for another process (or this one, restarted) to
// resume; a job that cannot be resumed is failed at once.
func (j *exportJob) release(ctx context.Context) {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	if j.saved == nil {
		return
	}
	st := j.persisted
	if st.Guard == nil || j.e.cfg.RestoreGuard == nil {
		_ = j.e.fail(ctx, &st, j.saved, "the server stopped during the export")
		return
	}
	st.Holder, st.LeaseUntil = "", time.Time{}
	_, _, _ = j.e.swap(ctx, j.saved, &st)
}

// renewer renews the job's lease every third of it until done is closed; a lost lease cancels the job.
func (j *exportJob) renewer(ctx context.Context, lost context.CancelFunc, done <-chan struct{}) {
	tick := time.NewTicker(max(j.e.cfg.Lease/3, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			j.saveMu.Lock()
			st := j.persisted
			err := j.store(ctx, &st)
			j.saveMu.Unlock()
			if errors.Is(err, errLeaseLost) {
				j.lost.Store(true)
				lost()
				return
			}
		}
	}
}

// store writes st (with a renewed lease) over the state the job saved last; saveMu is held.
func (j *exportJob) store(ctx context.Context, st *jobState) error {
	st.Holder, st.LeaseUntil = j.e.holder, j.e.svc.cfg.Now().Add(j.e.cfg.Lease)
	ok, raw, err := j.e.swap(ctx, j.saved, st)
	if err != nil {
		return err
	}
	if !ok {
		return errLeaseLost
	}
	j.saved, j.persisted = raw, *st
	return nil
}
