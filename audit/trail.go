package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"fhirgate/auth"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
)

// Config configures the audit trail.
type Config struct {
	// Sink stores the events (required).
	Sink Sink
	// Indexer describes the events to the search index (the FHIR service; required).
	Indexer Indexer
	// BaseURL is the server's FHIR base URL (the observer's network address and site).
	BaseURL string
	// FailOpen serves the response when its events cannot be stored (logging the failure loudly);
	// otherwise (fail closed, the default) the response is a 503 without patient data.
	FailOpen bool
	// Deadline bounds the time an audit write may take without the store making progress (default
	// 2 s): a store that hangs gives a 503 within it, never a hung request. A request queued behind other
	// requests' group commits keeps waiting while those complete, up to 30 s in all.
	Deadline time.Duration
	// Now and NewID are the clock and the id maker (tests fix them).
	Now   func() time.Time
	NewID func() string
	// Logger receives the trail's failures (slog.Default when nil); it never receives patient data.
	Logger *slog.Logger
	// Stored, when set, is told of the events once they are stored (the patient notices).
	Stored func([]Record)
}

// Trail records IHE BALP AuditEvents for every interaction, durably, before its response leaves: the
// broker of the trail (in Vault's terms), with the sink as its one device, failing closed.
type Trail struct {
	cfg    Config
	fresh  bool // the ids are the trail's own (newEventID): never used before, the store need not look
	site   string
	log    *slog.Logger
	unauth unauthenticated
	stop   chan struct{}
	ticked chan struct{}
	closed sync.Once
}

// New returns a trail.
func New(cfg Config) (*Trail, error) {
	if cfg.Sink == nil || cfg.Indexer == nil {
		return nil, errors.New("audit: a sink and an indexer are required")
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	fresh := cfg.NewID == nil
	if fresh {
		cfg.NewID = newEventID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	site := cfg.BaseURL
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		site = u.Host
	}
	t := &Trail{cfg: cfg, fresh: fresh, site: site, log: cfg.Logger.With("component", "audit"), stop: make(chan struct{}), ticked: make(chan struct{})}
	go t.tick()
	return t, nil
}

// Close records what the trail still holds in memory (the counts of refused unauthenticated and throttled
// requests)
// and stops it. Call it once the server takes no more requests.
func (t *Trail) Close(ctx context.Context) {
	t.closed.Do(func() {
		close(t.stop)
		<-t.ticked
		t.flushUnauthenticated(ctx)
	})
}

// Interaction is what the trail knows of one request: the FHIR interaction, who asked from where, and
// how it ended. It knows no HTTP: the server fills it in.
type Interaction struct {
	// Request is the FHIR request (nil when the request was refused before it was one: a bad route, no
	// token); its Ledger says which patients what it touched or was refused is about.
	Request *rest.Request
	// Method and Target are the request line (the method, the path and query).
	Method, Target string
	// Principal is who asked (nil without a verified token), and Decisions the consent decisions taken.
	Principal *auth.Principal
	Decisions []auth.Decision
	// ClientAddr is the client's network address, RequestID the request's id.
	ClientAddr, RequestID string
	// Response is the answer (nil on error); Err the error.
	Response *rest.Response
	Err      error
	// Export is the bulk export's id when the interaction is a bulk export writing patients' data (or
	// ending): its events name it as an entity (object role Job, identifier system ExportSystem).
	Export string
}

// interaction is one interaction, or one batch entry, as events are built from it.
type interaction struct {
	req        *rest.Request
	method     string
	target     string
	principal  *auth.Principal
	clientAddr string
	requestID  string
	status     int
	err        error
	touched    []*store.Version
	ledger     *rest.Ledger
	decisions  []auth.Decision
	export     string
}

// Record writes the events of an interaction (and of its batch entries) before the response leaves and
// returns the references the response names (X-Audit-Event). When they cannot be stored in time, it
// returns a 503 (or, failing open, logs the failure and returns no reference).
func (t *Trail) Record(ctx context.Context, in *Interaction) ([]string, error) {
	top := &interaction{req: in.Request, method: in.Method, target: in.Target, principal: in.Principal,
		clientAddr: in.ClientAddr, requestID: in.RequestID, err: in.Err, decisions: in.Decisions, export: in.Export}
	if in.Principal == nil && fhir.KindOf(in.Err) == fhir.KindUnauthorized {
		top.status = 401
		return t.refuseUnauthenticated(ctx, top)
	}
	if in.Principal != nil && fhir.KindOf(in.Err) == fhir.KindTooManyRequests {
		top.status = 429
		return t.refuseThrottled(ctx, top)
	}
	if in.Request != nil {
		top.ledger = in.Request.Ledger
	}
	var entries []*rest.EntryResult
	switch {
	case in.Response != nil:
		top.status, top.touched, entries = in.Response.Status, in.Response.Touched, in.Response.Entries
	case in.Err != nil:
		top.status = fhir.KindOf(in.Err).Status()
	}
	if len(entries) > 0 {
		// The Bundle's own event is about no patient: its entries' events record what each touched or
		// was refused. (A transaction that failed has no entries: its one event records the refusals.)
		top.ledger = nil
	}
	events := t.events(top)
	for _, e := range entries {
		sub := *top
		sub.req, sub.err, sub.ledger, sub.touched = e.Request, e.Err, e.Ledger, nil
		sub.status = 200
		if e.Response != nil {
			sub.status, sub.touched = e.Response.Status, e.Response.Touched
		}
		if e.Err != nil {
			sub.status = fhir.KindOf(e.Err).Status()
		}
		if e.Request != nil {
			sub.method, sub.target = entryLine(e.Request)
		}
		events = append(events, t.events(&sub)...)
	}
	stored, err := t.store(ctx, events)
	if !stored {
		return nil, err
	}
	return headerRefs(events), nil
}

// store appends events, and applies the failure policy: a failure is a 503 (fail closed), or is logged
// and the response goes on without events (fail open).
func (t *Trail) store(ctx context.Context, events []Record) (bool, error) {
	if err := t.append(ctx, events); err != nil {
		if t.cfg.FailOpen {
			t.log.Error("AUDIT FAILURE: serving without an audit record (--audit-failure open)", "events", len(events), "err", err)
			return false, nil
		}
		t.log.Error("audit failure: refusing the response (--audit-failure closed)", "events", len(events), "err", err)
		return false, &fhir.Error{Kind: fhir.KindUnavailable, Code: "transient", Details: "the access could not be recorded in the audit trail, so no data is served", Err: err}
	}
	if t.cfg.Stored != nil {
		t.cfg.Stored(events)
	}
	return true, nil
}

// headerRefs are the events a response names in X-Audit-Event: those that record data the client was
// served (or that it wrote) and those about no patient, or, when there are none, one event. Events that
// record only what was withheld are not named: their number would tell the client that something was
// withheld, and about how many patients (no header may differ because of data the caller may not see).
func headerRefs(events []Record) []string {
	var refs []string
	for _, e := range events {
		if e.Accessed || e.Patient == "" {
			refs = append(refs, "AuditEvent/"+e.ID)
		}
	}
	if len(refs) == 0 && len(events) > 0 {
		refs = append(refs, "AuditEvent/"+events[0].ID)
	}
	return refs
}

func entryLine(r *rest.Request) (string, string) {
	method := map[rest.Interaction]string{rest.Create: "POST", rest.Update: "PUT", rest.Patch: "PATCH", rest.Delete: "DELETE"}[r.Interaction]
	if method == "" {
		method = "GET"
	}
	path := r.Type
	if r.ID != "" {
		path += "/" + r.ID
	}
	if r.Compartment != "" {
		path = r.Compartment + "/" + r.Type
	}
	if len(r.Params) > 0 {
		path += "?" + r.Params.Encode()
	}
	return method, path
}

// append stores events within the deadline. The write outlives the request's cancellation. A request
// queued behind others' commits (ProgressReporter) has its deadline restarted whenever a commit completes,
// up to maxWait: under load it waits for a store that works, while a store that hangs still gives a 503
// within the deadline. When the wait is abandoned, the queued events are dropped unwritten.
func (t *Trail) append(ctx context.Context, events []Record) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxWait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- t.cfg.Sink.Append(wctx, events) }()
	progress, _ := t.cfg.Sink.(ProgressReporter)
	var last uint64
	if progress != nil {
		last = progress.Progress()
	}
	timer := time.NewTimer(t.cfg.Deadline)
	defer timer.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-wctx.Done():
			return fmt.Errorf("the audit store did not record the access within %s under load", maxWait)
		case <-timer.C:
			if progress != nil {
				if p := progress.Progress(); p != last {
					last = p
					timer.Reset(t.cfg.Deadline)
					continue
				}
			}
			return fmt.Errorf("the audit store did not answer within %s", t.cfg.Deadline)
		}
	}
}
