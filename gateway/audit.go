package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
)

// AuditSink stores audit events durably: Append returns only once every event is stored (and chained),
// or fails.
type AuditSink interface {
	Append(ctx context.Context, events []AuditRecord) error
}

// ProgressReporter is implemented by sinks that queue requests behind one another (StoreSink): Progress
// counts the commits completed so far. While it moves, a queued request is waiting on a store that works,
// not on one that hangs, so its deadline starts again (see AuditConfig.Deadline).
type ProgressReporter interface {
	Progress() uint64
}

// maxAuditWait bounds the wait of one request for its audit record even while the store makes progress:
// past it, the server is overloaded and sheds the request with a 503.
const maxAuditWait = 30 * time.Second

// AuditRecord is one AuditEvent to store, with what the patient notices need to know of it.
type AuditRecord struct {
	ID   string
	Body []byte
	// event is the event Body encodes, when the auditor built it: the sink indexes it from there
	// (auditEvent.describe) and stamps it without parsing Body.
	event *auditEvent

	// Patient is the patient the event is about ("" for none); User the requesting user ("Practitioner/1",
	// "" for a backend service).
	Patient, User string
	// Accessed is true when the patient's data was served (not only refused).
	Accessed bool
	// BreakTheGlass is true when consent was overridden by break-the-glass.
	BreakTheGlass bool
	// Recorded is the event's recorded instant (ms precision, as stored).
	Recorded time.Time
}

// StoreSink appends audit events to the store, as chained AuditEvent resources indexed for search.
// Concurrent requests' events are committed together (group commit): while auditFlushers commits are in
// flight the next requests queue, and the next flusher commits the whole queue in one transaction, so
// that a busy server pays the store's per-commit cost once per group rather than once per request. Each
// Append still returns only once its own events are durable.
type StoreSink struct {
	store   store.Store
	service *rest.Service

	mu       sync.Mutex
	queue    []*pendingAudit
	flushers int
	commits  atomic.Uint64
}

// Progress implements ProgressReporter: the group commits completed.
func (s *StoreSink) Progress() uint64 { return s.commits.Load() }

// maxAuditGroup bounds the events of one group commit.
const maxAuditGroup = 256

// auditFlushers group commits may be in flight at once: while one waits for its fsync, the next is
// prepared and handed to the store, whose log syncs it with the first or right after it. One at a time
// leaves the CPU idle during every fsync; more than two only makes the groups smaller (measured with
// BenchmarkReadAuditOn: 1 flusher 4,650-4,950 reads/s, 2 flushers 5,200-5,470, 4 flushers 4,580-5,030).
const auditFlushers = 2

type pendingAudit struct {
	ctx  context.Context
	ops  []store.Op
	done chan error
}

// NewStoreSink returns a sink that stores events in st, indexed as svc indexes resources.
func NewStoreSink(st store.Store, svc *rest.Service) *StoreSink {
	return &StoreSink{store: st, service: svc}
}

// auditSinkCheck, set by the tests, sees every event the sink stores with the op it stores it by.
var auditSinkCheck func(svc *rest.Service, rec AuditRecord, op store.Op)

// Append implements AuditSink: all the events of a request in one commit, shared with other requests'.
func (s *StoreSink) Append(ctx context.Context, events []AuditRecord) error {
	ops := make([]store.Op, 0, len(events))
	for _, e := range events {
		op := store.Op{Type: "AuditEvent", ID: e.ID, Body: e.Body, Method: "POST", IfNoneExist: true, Chain: true}
		var err error
		if e.event != nil { // built by the auditor: indexed and prepared for stamping without parsing
			d := s.service.Describe("AuditEvent")
			e.event.describe(d)
			op.Index = d.Entries()
			op.Template, _ = fhir.StampTemplateOfEncoded(e.Body, "AuditEvent", e.ID)
		} else if op.Index, err = s.service.IndexEntries("AuditEvent", e.Body); err != nil {
			return err
		}
		if auditSinkCheck != nil {
			auditSinkCheck(s.service, e, op)
		}
		ops = append(ops, op)
	}
	p := &pendingAudit{ctx: ctx, ops: ops, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, p)
	if s.flushers < auditFlushers {
		s.flushers++
		s.mu.Unlock()
		s.flush()
	} else {
		s.mu.Unlock()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush commits the queue as one group, then hands the next group to a new flusher so that this
// request's answer is not held up by later ones.
func (s *StoreSink) flush() {
	s.mu.Lock()
	group, n := s.queue, 0
	for i, p := range group {
		if n+len(p.ops) > maxAuditGroup && i > 0 {
			group = group[:i]
			break
		}
		n += len(p.ops)
	}
	s.queue = s.queue[len(group):]
	s.mu.Unlock()

	s.commit(group)

	s.mu.Lock()
	if len(s.queue) == 0 {
		s.flushers--
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	go s.flush()
}

// commit stores a group in one transaction. Requests whose deadline has passed are answered without
// being written; if the group fails, each request is retried alone so that one bad event (an id that
// exists already) cannot refuse the others.
func (s *StoreSink) commit(group []*pendingAudit) {
	live := group[:0:0]
	var ops []store.Op
	for _, p := range group {
		if err := p.ctx.Err(); err != nil {
			p.done <- err
			continue
		}
		live = append(live, p)
		ops = append(ops, p.ops...)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := groupContext(live)
	defer cancel()
	_, err := s.store.Commit(ctx, &store.Tx{Ops: ops})
	if err == nil {
		s.commits.Add(1)
	}
	if err == nil || len(live) == 1 {
		for _, p := range live {
			p.done <- err
		}
		return
	}
	for _, p := range live {
		_, err := s.store.Commit(p.ctx, &store.Tx{Ops: p.ops})
		if err == nil {
			s.commits.Add(1)
		}
		p.done <- err
	}
}

// groupContext lives until the latest deadline of the group's requests.
func groupContext(group []*pendingAudit) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, p := range group {
		d, ok := p.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// append stores events within the deadline. The write outlives the request's cancellation. A request
// queued behind others' commits (ProgressReporter) has its deadline restarted whenever a commit completes,
// up to maxAuditWait: under load it waits for a store that works, while a store that hangs still gives a
// 503 within the deadline. When the wait is abandoned, the queued events are dropped unwritten.
func (a *auditor) append(ctx context.Context, events []AuditRecord) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxAuditWait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.cfg.Sink.Append(wctx, events) }()
	progress, _ := a.cfg.Sink.(ProgressReporter)
	var last uint64
	if progress != nil {
		last = progress.Progress()
	}
	timer := time.NewTimer(a.cfg.Deadline)
	defer timer.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-wctx.Done():
			return fmt.Errorf("the audit store did not record the access within %s under load", maxAuditWait)
		case <-timer.C:
			if progress != nil {
				if p := progress.Progress(); p != last {
					last = p
					timer.Reset(a.cfg.Deadline)
					continue
				}
			}
			return fmt.Errorf("the audit store did not answer within %s", a.cfg.Deadline)
		}
	}
}

// AuditConfig configures the audit trail.
type AuditConfig struct {
	// Sink stores the events (required).
	Sink AuditSink
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
}

// auditor builds IHE BALP AuditEvents for every interaction and stores them before the response.
type auditor struct {
	cfg     AuditConfig
	baseURL string
	site    string
	log     *slog.Logger
	// stored, when set, is told of the events once they are stored (patient notices).
	stored func([]AuditRecord)
}

func newAuditor(cfg AuditConfig, baseURL string, log *slog.Logger) *auditor {
	if cfg.Deadline <= 0 {
		cfg.Deadline = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = rest.NewUUID
	}
	site := baseURL
	if u, err := url.Parse(baseURL); err == nil {
		site = u.Host
	}
	return &auditor{cfg: cfg, baseURL: baseURL, site: site, log: log.With("component", "audit")}
}

// interaction is what the audit trail knows of one request (or one batch entry).
type interaction struct {
	req        *rest.Request
	method     string // HTTP method of the request line
	target     string // the request line's target, path and query
	principal  *auth.Principal
	clientAddr string
	requestID  string
	status     int
	err        error
	touched    []*store.Version
	ledger     *rest.Ledger
	decisions  []auth.Decision
}

// record writes the events of an interaction (and of its batch entries) and returns their references.
func (a *auditor) record(ctx context.Context, in *interaction, entries []*rest.EntryResult) ([]string, error) {
	top := *in
	if len(entries) > 0 {
		// The Bundle's own event is about no patient: its entries' events record what each touched or
		// was refused. (A transaction that failed has no entries: its one event records the refusals.)
		top.ledger = nil
	}
	events := a.events(&top)
	for _, e := range entries {
		sub := *in
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
		events = append(events, a.events(&sub)...)
	}
	refs := headerRefs(events)
	err := a.append(ctx, events)
	if err != nil {
		if a.cfg.FailOpen {
			a.log.Error("AUDIT FAILURE: serving without an audit record (--audit-failure open)", "events", len(events), "err", err)
			return nil, nil
		}
		a.log.Error("audit failure: refusing the response (--audit-failure closed)", "events", len(events), "err", err)
		return nil, &fhir.Error{Kind: fhir.KindUnavailable, Code: "transient", Details: "the access could not be recorded in the audit trail, so no data is served", Err: err}
	}
	if a.stored != nil {
		a.stored(events)
	}
	return refs, nil
}

// headerRefs are the events a response names in X-Audit-Event: those that record data the client was
// served (or that it wrote) and those about no patient, or, when there are none, one event. Events that record only what was
// withheld are not named: their number would tell the client that something was withheld, and about how
// many patients (no header may differ because of data the caller may not see).
func headerRefs(events []AuditRecord) []string {
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

// events builds one AuditEvent per patient whose data the interaction touched (or was refused), and one
// without a patient when no patient was involved.
func (a *auditor) events(in *interaction) []AuditRecord {
	type group struct {
		data     []string
		refused  []string
		policies map[string]bool
		decision consent.Decision
	}
	groups := map[string]*group{}
	get := func(p string) *group {
		g := groups[p]
		if g == nil {
			g = &group{policies: map[string]bool{}}
			groups[p] = g
		}
		return g
	}
	for _, v := range in.touched {
		patients := in.ledger.Patients(v.Ref())
		if len(patients) == 0 {
			patients = []string{""}
		}
		for _, p := range patients {
			get(p).data = append(get(p).data, fmt.Sprintf("%s/_history/%d", v.Ref(), v.VersionID))
		}
	}
	for _, r := range in.ledger.Refused() {
		patients := r.Patients
		if len(patients) == 0 {
			patients = []string{""}
		}
		for _, p := range patients {
			get(p).refused = append(get(p).refused, r.Ref)
		}
	}
	for _, d := range in.decisions {
		g := groups[d.Patient]
		if g == nil {
			continue
		}
		for _, p := range d.Policies {
			if strings.HasPrefix(p, "Consent/") {
				g.policies[p] = true
			}
		}
		if d.Decision == consent.PermitBreakTheGlass || g.decision == "" || d.Decision == consent.Deny {
			g.decision = d.Decision
		}
	}
	if len(groups) == 0 { // nothing touched: the patient the request names, if any
		get(requestPatient(in))
	}
	patients := make([]string, 0, len(groups))
	for p := range groups {
		patients = append(patients, p)
	}
	sort.Strings(patients)
	out := make([]AuditRecord, 0, len(patients))
	for _, p := range patients {
		g := groups[p]
		var policies []string
		for c := range g.policies {
			policies = append(policies, c)
		}
		sort.Strings(policies)
		id := a.cfg.NewID()
		recorded := a.cfg.Now().UTC().Truncate(time.Millisecond)
		ev := a.event(id, in, p, g.data, g.refused, policies, g.decision, recorded)
		rec := AuditRecord{ID: id, Body: ev.encode(), event: ev,
			Patient: p, Accessed: len(g.data) > 0, BreakTheGlass: g.decision == consent.PermitBreakTheGlass, Recorded: recorded}
		if in.principal != nil {
			rec.User = in.principal.User
		}
		out = append(out, rec)
	}
	return out
}

// requestPatient finds the patient a request is about when it touched nothing (refusals).
func requestPatient(in *interaction) string {
	if in.req == nil {
		return ""
	}
	if in.req.Compartment != "" {
		return in.req.Compartment
	}
	if in.req.Type == "Patient" && in.req.ID != "" {
		return "Patient/" + in.req.ID
	}
	for _, name := range []string{"patient", "subject", "beneficiary"} {
		if v := in.req.Params.Get(name); v != "" {
			v = strings.TrimPrefix(v, "Patient/")
			if fhir.ValidID(v) {
				return "Patient/" + v
			}
		}
	}
	if in.principal != nil && in.principal.Patient != "" {
		return "Patient/" + in.principal.Patient
	}
	return ""
}

// refusalReason is what the audit trail says of an error: the real reason, also when the client was
// answered as if the resource did not exist.
func refusalReason(err error) string {
	fe := fhir.AsError(err)
	if fe.Err != nil && fe.Kind != fhir.KindInternal && fe.Kind != fhir.KindUnavailable {
		return fe.Err.Error()
	}
	return fe.Details
}

// BALP vocabulary.
const (
	dcm           = "http://dicom.nema.org/resources/ontology/DCM"
	participation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	actReason     = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	roleClass     = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
	entityType    = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	objectRole    = "http://terminology.hl7.org/CodeSystem/object-role"
	balpProfile   = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
)

type aeCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type aeConcept struct {
	Coding []aeCoding `json:"coding,omitempty"`
	Text   string     `json:"text,omitempty"`
}

type aeIdentifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type aeReference struct {
	Reference  string        `json:"reference,omitempty"`
	Identifier *aeIdentifier `json:"identifier,omitempty"`
	Display    string        `json:"display,omitempty"`
}

type aeAgent struct {
	Type         *aeConcept   `json:"type,omitempty"`
	Role         []aeConcept  `json:"role,omitempty"`
	Who          *aeReference `json:"who,omitempty"`
	Requestor    bool         `json:"requestor"`
	Policy       []string     `json:"policy,omitempty"`
	Network      *aeNetwork   `json:"network,omitempty"`
	PurposeOfUse []aeConcept  `json:"purposeOfUse,omitempty"`
}

type aeNetwork struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type aeEntity struct {
	What        *aeReference `json:"what,omitempty"`
	Type        *aeCoding    `json:"type,omitempty"`
	Role        *aeCoding    `json:"role,omitempty"`
	Description string       `json:"description,omitempty"`
	Query       string       `json:"query,omitempty"`
	Detail      []aeDetail   `json:"detail,omitempty"`
}

type aeDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

type aeSource struct {
	Site     string      `json:"site,omitempty"`
	Observer aeReference `json:"observer"`
	Type     []aeCoding  `json:"type,omitempty"`
}

type auditEvent struct {
	ResourceType   string      `json:"resourceType"`
	ID             string      `json:"id"`
	Meta           *aeMeta     `json:"meta,omitempty"`
	Type           aeCoding    `json:"type"`
	Subtype        []aeCoding  `json:"subtype,omitempty"`
	Action         string      `json:"action,omitempty"`
	Recorded       string      `json:"recorded"`
	Outcome        string      `json:"outcome"`
	OutcomeDesc    string      `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []aeConcept `json:"purposeOfEvent,omitempty"`
	Agent          []aeAgent   `json:"agent"`
	Source         aeSource    `json:"source"`
	Entity         []aeEntity  `json:"entity,omitempty"`
}

type aeMeta struct {
	Profile  []string   `json:"profile,omitempty"`
	Security []aeCoding `json:"security,omitempty"`
}

// event builds one BALP AuditEvent.
func (a *auditor) event(id string, in *interaction, patient string, data, refused, policies []string, decision consent.Decision, recorded time.Time) *auditEvent {
	interaction, action, kind := "unknown", "E", "Query"
	if in.req != nil {
		interaction = string(in.req.Interaction)
		switch in.req.Interaction {
		case rest.Read, rest.VRead:
			action, kind = "R", "Read"
		case rest.HistoryInstance, rest.HistoryType, rest.HistorySystem:
			action, kind = "R", ""
		case rest.Batch, rest.Transaction:
			action, kind = "E", ""
		case rest.Create:
			action, kind = "C", "Create"
		case rest.Update, rest.Patch:
			action, kind = "U", "Update"
		case rest.Delete:
			action, kind = "D", "Delete"
		case rest.Operation:
			interaction = "operation"
		}
	}
	ev := auditEvent{ResourceType: "AuditEvent", ID: id,
		Type:     aeCoding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Subtype:  []aeCoding{{System: "http://hl7.org/fhir/restful-interaction", Code: interaction}},
		Action:   action,
		Recorded: fhir.FormatInstant(recorded),
		Outcome:  "0",
		Source: aeSource{Site: a.site, Observer: aeReference{Reference: "Device/fhirgate", Display: "fhirgate " + a.baseURL},
			Type: []aeCoding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}}},
	}
	if in.req != nil && in.req.Interaction == rest.Operation && in.req.Operation != "" {
		ev.Subtype = append(ev.Subtype, aeCoding{System: "http://hl7.org/fhir/restful-interaction", Code: "operation", Display: "$" + in.req.Operation})
		ev.Subtype = ev.Subtype[1:]
	}
	ev.Meta = &aeMeta{}
	if kind != "" { // BALP defines no profile for history, batch and transaction
		profile := kind
		if patient != "" {
			profile = "Patient" + kind
		}
		ev.Meta.Profile = []string{balpProfile + profile}
	}
	switch {
	case in.status >= 500:
		ev.Outcome = "8"
	case in.status >= 400:
		ev.Outcome = "4"
	case len(refused) > 0 && len(data) == 0:
		ev.Outcome = "4"
	}
	if in.err != nil {
		ev.OutcomeDesc = refusalReason(in.err)
	} else if len(refused) > 0 {
		ev.OutcomeDesc = fmt.Sprintf("%d resource(s) withheld by scopes or consent", len(refused))
	}
	reading := action == "R" || action == "E"
	// BALP agent types: a read's data flows from the server (source, 110153) to the client (destination,
	// 110152); a query, a create and an update send the client's data (query or resource) to the server.
	clientType, serverType := aeCoding{System: dcm, Code: "110153"}, aeCoding{System: dcm, Code: "110152"}
	switch action {
	case "R":
		clientType, serverType = aeCoding{System: dcm, Code: "110152"}, aeCoding{System: dcm, Code: "110153"}
	case "D":
		clientType = aeCoding{System: dcm, Code: "110150", Display: "Application"}
		serverType = aeCoding{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "custodian"}
	}
	client := aeAgent{Type: &aeConcept{Coding: []aeCoding{clientType}},
		Network: &aeNetwork{Address: in.clientAddr, Type: "2"}}
	if in.principal != nil && in.principal.ClientID != "" {
		client.Who = &aeReference{Identifier: &aeIdentifier{Value: in.principal.ClientID}, Display: "client " + in.principal.ClientID}
	} else {
		client.Who = &aeReference{Display: "unidentified client"}
	}
	server := aeAgent{Type: &aeConcept{Coding: []aeCoding{serverType}},
		Who: &aeReference{Reference: "Device/fhirgate"}, Network: &aeNetwork{Address: a.baseURL, Type: "5"}}
	ev.Agent = []aeAgent{client, server}
	if p := in.principal; p != nil {
		userType := "IRCP"
		if !reading {
			userType = "AUT"
		}
		user := aeAgent{Type: &aeConcept{Coding: []aeCoding{{System: participation, Code: userType}}}, Requestor: true}
		if p.User != "" {
			user.Who = &aeReference{Reference: p.User, Identifier: &aeIdentifier{System: p.Issuer, Value: p.Subject}}
			// The kind of user, searchable (agent-role): the patient themself, or a professional.
			switch {
			case strings.HasPrefix(p.User, "Patient/"):
				user.Role = []aeConcept{{Coding: []aeCoding{{System: roleClass, Code: "PAT", Display: "patient"}}}}
			case strings.HasPrefix(p.User, "Practitioner/"), strings.HasPrefix(p.User, "PractitionerRole/"):
				user.Role = []aeConcept{{Coding: []aeCoding{{System: roleClass, Code: "PROV", Display: "healthcare provider"}}}}
			}
		} else {
			user.Who = &aeReference{Identifier: &aeIdentifier{System: p.Issuer, Value: p.Subject}}
		}
		if p.TokenID != "" {
			user.Policy = []string{"urn:ietf:params:oauth:jti:" + p.TokenID}
		}
		for _, pu := range p.PurposeOfUse {
			c := aeConcept{Coding: []aeCoding{{System: actReason, Code: pu}}}
			user.PurposeOfUse = append(user.PurposeOfUse, c)
			ev.PurposeOfEvent = append(ev.PurposeOfEvent, c)
		}
		ev.Agent = append(ev.Agent, user)
		// On whose behalf: the user's organizations (NEN 7513, EHDS).
		for _, org := range p.Organizations {
			ev.Agent = append(ev.Agent, aeAgent{Type: &aeConcept{Coding: []aeCoding{{System: roleClass, Code: "PROV", Display: "healthcare provider"}}},
				Who: &aeReference{Reference: org}})
		}
	}
	if patient != "" {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Reference: patient},
			Type: &aeCoding{System: entityType, Code: "1", Display: "Person"}, Role: &aeCoding{System: objectRole, Code: "1", Display: "Patient"}})
	}
	for _, d := range data {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Reference: d},
			Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"}, Role: &aeCoding{System: objectRole, Code: "4", Display: "Domain Resource"}})
	}
	for _, r := range refused {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Reference: r},
			Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"}, Role: &aeCoding{System: objectRole, Code: "4", Display: "Domain Resource"},
			Detail: []aeDetail{{Type: "access", ValueString: "refused"}}})
	}
	if in.req != nil && (action == "E" || in.req.Interaction == rest.HistoryType || in.req.Interaction == rest.HistorySystem) && in.target != "" {
		ev.Entity = append(ev.Entity, aeEntity{Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"},
			Role: &aeCoding{System: objectRole, Code: "24", Display: "Query"}, Description: in.target,
			Query: base64.StdEncoding.EncodeToString([]byte(in.method + " " + in.target))})
	}
	for _, c := range policies {
		ent := aeEntity{What: &aeReference{Reference: c}, Type: &aeCoding{System: "http://hl7.org/fhir/resource-types", Code: "Consent", Display: "Consent"}}
		ev.Entity = append(ev.Entity, ent)
	}
	if decision != "" {
		ev.Entity = append(ev.Entity, aeEntity{Type: &aeCoding{System: "http://hl7.org/fhir/resource-types", Code: "Consent", Display: "Consent"},
			Description: "consent decision: " + string(decision),
			Detail:      []aeDetail{{Type: "consent-decision", ValueString: string(decision)}}})
		if decision == consent.PermitBreakTheGlass {
			ev.Meta.Security = append(ev.Meta.Security, aeCoding{System: actReason, Code: "BTG", Display: "break the glass"})
		}
	}
	if in.requestID != "" {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Identifier: &aeIdentifier{Value: in.requestID}},
			Type: &aeCoding{System: "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", Code: "XrequestId"}})
	}
	return &ev
}
