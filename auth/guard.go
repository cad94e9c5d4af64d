package auth

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"

	"fhirgate/auth/consent"
	"fhirgate/auth/scope"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
)

// Guard is the decision point of one request (and its batch entries): it implements rest.Guard for a
// principal, and records every consent decision it makes (for the response headers and the audit trail).
// It is safe for concurrent use (a transaction decides its entries in parallel).
type Guard struct {
	p       *Principal
	a       *Access
	engine  *search.Engine
	opts    Options
	admin   bool // the client is one of --admin-clients
	auditor bool // the client is one of --auditor-clients
	source  bool // the client is one of --audit-source-clients

	mu        sync.Mutex
	decisions []Decision
	actors    []string // the principal's actor references, for consents (computed once)
	orgKnown  bool     // the user's organisation is established (token claim or PractitionerRole)
	actorsErr error
	actorsSet bool
	mine      []string // the patients a patient or RelatedPerson user may see (computed once)
	mineErr   error
	mineSet   bool
	synced    bool // the consent cache was checked against the store for this request
}

// Decision is one consent decision taken for the request.
type Decision struct {
	Resource string // "Observation/1"
	Patient  string // "Patient/123"
	consent.Result
	// Withheld is set when the resource the decision was taken for was refused to the caller (by this
	// decision or by another): the decision then made no part of what the caller received.
	Withheld bool
}

// taken collects the decisions of one Read or Write; they are kept once it is known whether the
// resource was served.
type taken []Decision

func (t *taken) add(d Decision) { *t = append(*t, d) }

var _ rest.Guard = (*Guard)(nil)

// Decisions returns the consent decisions taken so far.
func (g *Guard) Decisions() []Decision {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Decision(nil), g.decisions...)
}

// keep records the decisions of one Read or Write; withheld when it refused.
func (g *Guard) keep(t taken, withheld bool) {
	if len(t) == 0 {
		return
	}
	for i := range t {
		t[i].Withheld = withheld
	}
	g.mu.Lock()
	g.decisions = append(g.decisions, t...)
	g.mu.Unlock()
}

// Renew implements rest.Renewable: a new guard for the same principal, keeping none of g's decisions (a
// bulk export decides each patient with its own).
func (g *Guard) Renew() rest.Guard { return g.a.Guard(g.p) }

// Principal returns who the guard guards for.
func (g *Guard) Principal() *Principal { return g.p }

// Admin reports whether the client is an administrator (--admin-clients).
func (g *Guard) Admin() bool { return g.admin }

// Auditor reports whether the client is an auditor (--auditor-clients).
func (g *Guard) Auditor() bool { return g.auditor }

// confinedUser reports whether the caller is confined to some patients' data whatever its scopes: a
// patient user (their own), a RelatedPerson user (the patients they are linked to).
func (g *Guard) confinedUser() bool { return g.p.PatientUser() || g.p.RelatedPersonUser() }

// contexts returns the scope contexts that apply: patient/ scopes with a patient context (or for a
// confined user, whose own patients are the context), user/ and system/ scopes always.
func (g *Guard) contexts() []scope.Context {
	if g.p.Patient != "" || g.confinedUser() {
		return []scope.Context{scope.Patient, scope.User, scope.System}
	}
	return []scope.Context{scope.User, scope.System}
}

// confinement returns the patients a scope confines the caller to (nil: not confined): a confined user's
// own patients, whatever the scope; the context patient for a patient/ scope.
func (g *Guard) confinement(ctx context.Context, sc scope.Scope) ([]string, error) {
	if g.confinedUser() {
		return g.myPatients(ctx)
	}
	if sc.Context == scope.Patient {
		return []string{"Patient/" + g.p.Patient}, nil
	}
	return nil, nil
}

// myPatients returns the patients a confined user may see: a patient user themself; a RelatedPerson
// user the patients their RelatedPerson links to (narrowed to the patient context when there is one).
// A patient user whose fhirUser and patient context disagree may see nothing.
func (g *Guard) myPatients(ctx context.Context) ([]string, error) {
	g.mu.Lock()
	if g.mineSet {
		defer g.mu.Unlock()
		return g.mine, g.mineErr
	}
	g.mu.Unlock()
	var mine []string
	var err error
	switch {
	case g.p.RelatedPersonUser():
		if g.opts.Actors != nil {
			mine, err = g.opts.Actors.relatedPatients(ctx, g.p.User)
		} else {
			mine, err = lookupRelated(ctx, g.engine, g.p.User)
		}
		if g.p.Patient != "" {
			mine = slices.DeleteFunc(slices.Clone(mine), func(p string) bool { return p != "Patient/"+g.p.Patient })
		}
	case g.p.IsPatient():
		if g.p.Patient == "" || "Patient/"+g.p.Patient == g.p.User {
			mine = []string{g.p.User}
		}
	default: // a patient context without a user
		mine = []string{"Patient/" + g.p.Patient}
	}
	if mine == nil {
		mine = []string{} // confined to nothing
	}
	g.mu.Lock()
	g.mine, g.mineErr, g.mineSet = mine, err, true
	g.mu.Unlock()
	return mine, err
}

// self reports whether patient is the caller themself (the right of access: consent never hides one's
// own data from oneself).
func (g *Guard) self(patient string) bool {
	return g.p.PatientUser() && (g.p.User == patient || (g.p.User == "" && "Patient/"+g.p.Patient == patient))
}

// forbidden is the 403 of an interaction no scope allows; it names a scope that would have.
func (g *Guard) forbidden(typ string, perm scope.Perm) error {
	ctx := scope.User
	switch {
	case g.p.Patient != "" || g.p.PatientUser():
		ctx = scope.Patient
	case g.p.User == "":
		ctx = scope.System
	}
	needed := scope.Needed(ctx, typ, perm)
	return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the access token's scopes do not allow this interaction",
		Diagnostics: "it needs a scope such as " + needed, Scope: needed}
}

// refused is a 403 that no scope can lift: the caller is not one who may do this.
func refused(details string) error {
	return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: details}
}

// Authorize implements rest.Guard: the interaction's permission on its type(s), and who may touch the
// protected types at all. It decides from the principal and the request, never from stored data.
func (g *Guard) Authorize(ctx context.Context, req *rest.Request) error {
	switch req.Interaction {
	case rest.Capabilities, rest.Batch, rest.Transaction:
		return nil // entries are authorized one by one
	}
	perm := scope.PermFor(string(req.Interaction))
	if perm == 0 {
		return refused("no scope grants this interaction")
	}
	contexts := g.contexts()
	switch {
	case req.Interaction == rest.SearchSystem || req.Interaction == rest.HistorySystem:
		types := typesOf(req.Params["_type"])
		if len(types) == 0 { // any type: each resource is admitted on its own
			for _, sc := range g.p.Scopes.Resource {
				if sc.Perms&perm != 0 && slices.Contains(contexts, sc.Context) {
					return nil
				}
			}
			return g.forbidden("*", perm)
		}
		for _, t := range types {
			if len(g.p.Scopes.Allowed(t, perm, contexts...)) == 0 {
				return g.forbidden(t, perm)
			}
			if err := g.protectedType(t, req.Interaction, req.Bundle); err != nil {
				return err
			}
		}
		return nil
	case req.Interaction == rest.Operation && req.Operation == "validate":
		// $validate checks a write and stores nothing: a caller who may make some write of the type may ask
		// (the operation authorizes itself again as the very write it checks, before it reads anything).
		for _, p := range []scope.Perm{scope.Create, scope.Update, scope.Delete} {
			if len(g.p.Scopes.Allowed(req.Type, p, contexts...)) > 0 {
				return nil
			}
		}
		return g.forbidden(req.Type, scope.Create)
	case req.Interaction == rest.Operation: // $everything: reading the patient; the rest is admitted per resource
		if len(g.p.Scopes.Allowed("Patient", scope.Read, contexts...)) == 0 && len(g.p.Scopes.Allowed("Patient", scope.Search, contexts...)) == 0 {
			return g.forbidden("Patient", scope.Read)
		}
		return nil
	}
	allowed := g.p.Scopes.Allowed(req.Type, perm, contexts...)
	if len(allowed) == 0 {
		return g.forbidden(req.Type, perm)
	}
	if err := g.protectedType(req.Type, req.Interaction, req.Bundle); err != nil {
		return err
	}
	// A search by a caller confined to one patient is a search of that patient's compartment (not for a type
	// whose resources may be the patient's through what governs them: a Provenance of a Binary).
	if req.Interaction == rest.SearchType && req.Compartment == "" && len(search.CompartmentParams(req.Type)) > 0 && req.Type != "Provenance" {
		if only, ok := g.onePatient(ctx, allowed); ok {
			req.Compartment = only
		}
	}
	return nil
}

// onePatient returns the one patient every allowed scope confines the caller to, if there is one.
func (g *Guard) onePatient(ctx context.Context, allowed []scope.Scope) (string, bool) {
	only := ""
	for _, sc := range allowed {
		c, err := g.confinement(ctx, sc)
		if err != nil || c == nil || len(c) != 1 || (only != "" && c[0] != only) {
			return "", false
		}
		only = c[0]
	}
	return only, only != ""
}

func typesOf(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// Read implements rest.Guard: a resource leaves only if a scope allows it (for a confined caller or a
// patient/ scope, only data of the patients it is confined to; for granular scopes, only what their
// parameters match), if it is not a protected resource the caller may not read, and if the consent of
// every patient whose data it is or carries allows it.
func (g *Guard) Read(ctx context.Context, req *rest.Request, f *search.Facts) error {
	var t taken
	err := g.read(ctx, req, f, &t)
	g.keep(t, err != nil)
	return err
}

func (g *Guard) read(ctx context.Context, req *rest.Request, f *search.Facts, t *taken) error {
	perm := scope.PermFor(string(req.Interaction))
	var allowed []scope.Scope
	direct := req.Type == f.Type && req.Interaction != rest.SearchSystem && req.Interaction != rest.HistorySystem && req.Interaction != rest.Operation
	switch req.Interaction {
	case rest.Create, rest.Update, rest.Patch, rest.Delete:
		direct = false // a resource read to decide on a write (a conditional match): read or search will do
	}
	if direct {
		allowed = g.p.Scopes.Allowed(f.Type, perm, g.contexts()...)
	} else { // an include, $everything, a system-level result, a conditional match: read or search will do
		allowed = append(g.p.Scopes.Allowed(f.Type, scope.Read, g.contexts()...), g.p.Scopes.Allowed(f.Type, scope.Search, g.contexts()...)...)
	}
	if len(allowed) == 0 {
		if direct && (req.Interaction == rest.Read || req.Interaction == rest.VRead) {
			return g.forbidden(f.Type, perm)
		}
		return hidden(f, "refused by scope: no scope grants "+f.Type)
	}
	if f.Type == "AuditEvent" && !g.auditor && !g.p.PatientUser() {
		return hidden(f, "AuditEvents are read only by the patient they concern and by auditors")
	}
	confine, ok, err := g.covered(ctx, allowed, f, false)
	if err != nil {
		return err
	}
	if !ok {
		return hidden(f, "refused by scope: outside the patient context or the granular scopes")
	}
	return g.sees(ctx, f, confine, "access", t)
}

// covered reports whether one of the scopes covers f (confinement and granular restriction), and the
// patients that scope confines the caller to. A write must have all of f's patients within the
// confinement; a read only one (a resource in the caller's compartment is theirs to see).
func (g *Guard) covered(ctx context.Context, scopes []scope.Scope, f *search.Facts, write bool) ([]string, bool, error) {
	for _, sc := range scopes {
		confine, err := g.confinement(ctx, sc)
		if err != nil {
			return nil, false, unavailable("the caller's patients could not be read", err)
		}
		if confine != nil && !within(f, confine, write) {
			continue
		}
		if sc.Restricted() {
			ok, err := f.Satisfies(sc.Query)
			if err != nil || !ok {
				continue // a restriction that cannot be evaluated grants nothing
			}
		}
		if err := f.Err(); err != nil {
			return nil, false, unavailable("the resource's index could not be read", err)
		}
		return confine, true, nil
	}
	if err := f.Err(); err != nil {
		return nil, false, unavailable("the resource's index could not be read", err)
	}
	return nil, false, nil
}

// within reports whether a resource's own patients keep it inside a confinement. For a read, data of the
// compartment must be about one of the patients, and other data must not be about anyone else; for a
// write, every patient must be one of them, and compartment data must be about someone. A resource
// governed by others (a Provenance of an Observation...) with no patient of its own is decided by them.
func within(f *search.Facts, confine []string, write bool) bool {
	patients := f.Patients()
	if len(patients) == 0 {
		return !f.Member() || governed(f)
	}
	in := 0
	for _, p := range patients {
		if slices.Contains(confine, p) {
			in++
		}
	}
	if write || !f.Member() {
		return in == len(patients)
	}
	return in > 0
}

// governed reports whether other resources govern f's access (and so decide whose data it is).
func governed(f *search.Facts) bool {
	switch f.Type {
	case "Binary", "Provenance", "Bundle":
		return true
	}
	return false
}

// sees decides whether the caller may see (action "access") or change (action "collect", "correct") the
// data of f: the consent of each patient it is about, then the same for the resources that govern it
// (which the caller must be allowed to see) and those it holds, which must also stay within the caller's
// confinement.
func (g *Guard) sees(ctx context.Context, f *search.Facts, confine []string, action string, t *taken) error {
	if err := g.consent(ctx, f, action, t); err != nil {
		return err
	}
	govs, err := f.Governors()
	if err != nil {
		return hidden(f, "its governing resources cannot be established: "+err.Error())
	}
	parts, err := f.Parts()
	if err != nil {
		return hidden(f, "the resources it holds cannot be established: "+err.Error())
	}
	for _, rel := range []struct {
		how    string
		list   []*search.Facts
		action string
	}{{"governed by", govs, "access"}, {"holds", parts, action}} {
		for _, o := range rel.list {
			if confine != nil && !within(o, confine, false) {
				return hidden(f, rel.how+" "+o.Ref()+", outside the patient context")
			}
			if err := g.sees(ctx, o, confine, rel.action, t); err != nil {
				return refusedFor(f, err, rel.how+" "+o.Ref()+", "+reasonOf(err))
			}
		}
	}
	if err := f.Err(); err != nil {
		return unavailable("the resource's index could not be read", err)
	}
	return nil
}

// refusedFor is the refusal of f because of a refusal of what governs it or what it holds: the same kind
// of answer (hidden as absent, or 403 when consent refusals are 403; unavailable stays unavailable), about f.
func refusedFor(f *search.Facts, err error, reason string) error {
	switch fhir.KindOf(err) {
	case fhir.KindForbidden:
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: fhir.AsError(err).Details, Err: errors.New(reason)}
	case fhir.KindNotFound:
		return hidden(f, reason)
	}
	return err
}

// reasonOf is the real reason of a refusal (kept for the audit trail), whatever the client was told.
func reasonOf(err error) string {
	fe := fhir.AsError(err)
	if fe.Err != nil {
		return fe.Err.Error()
	}
	return fe.Details
}

// consentExempt reports whether consent does not decide on f for this caller: AuditEvents for auditors
// (no consent can hide the trail from those who must check it) and for their patient; a patient's
// privacy Consents for admin clients, who record them on the patient's behalf.
func (g *Guard) consentExempt(f *search.Facts) bool {
	switch f.Type {
	case "AuditEvent":
		// Reporting an access another system observed discloses nothing to the reporter.
		return g.auditor || g.p.PatientUser() || g.source
	case "Consent":
		return g.admin
	}
	return false
}

// consent checks an access to a resource (action) against the consents of every patient it is about.
func (g *Guard) consent(ctx context.Context, f *search.Facts, action string, t *taken) error {
	if g.opts.Consent == nil || g.consentExempt(f) {
		return nil
	}
	patients := f.Patients()
	if err := f.Err(); err != nil {
		return unavailable("the resource's index could not be read", err)
	}
	var d description
	for _, pat := range patients {
		res, err := g.decide(ctx, f, pat, action, &d, t)
		if err != nil {
			return err
		}
		if res.Decision == consent.Deny {
			return g.denied(f, res)
		}
	}
	return nil
}

// description is an access to one resource as the consent engine sees it, built as far as the policies
// at hand look (who asks, the resource's codes, labels, references, dates), and shared between the
// patients of the resource.
type description struct {
	req  *consent.Request
	full bool          // who asks is filled in
	have consent.Needs // the resource attributes filled in
}

// decide takes (and records) the consent decision of one patient on an access to f.
func (g *Guard) decide(ctx context.Context, f *search.Facts, patient, action string, d *description, t *taken) (consent.Result, error) {
	if g.self(patient) {
		res := consent.Result{Decision: consent.NotApplicable, Policies: []string{"right-of-access"}}
		t.add(Decision{Resource: f.Ref(), Patient: patient, Result: res})
		return res, nil
	}
	if err := g.syncConsent(ctx); err != nil {
		return consent.Result{}, consentUnavailable(err)
	}
	policies, err := g.opts.Consent.Policies(ctx, patient)
	if err != nil {
		return consent.Result{}, consentUnavailable(err)
	}
	if d.req == nil {
		d.req = &consent.Request{Action: action, Resource: f.Ref(), Type: f.Type, Now: g.opts.now()}
	}
	if len(policies) > 0 { // no policy: the default decides, whoever asks
		if err := g.describe(ctx, f, d, consent.NeedsOf(policies)); err != nil {
			return consent.Result{}, consentUnavailable(err)
		}
	}
	res := consent.Evaluate(policies, d.req, g.opts.Consent.Default, g.breakTheGlass())
	t.add(Decision{Resource: f.Ref(), Patient: patient, Result: res})
	return res, nil
}

// describe fills in who asks and the attributes of f that the policies look at and are not there yet.
func (g *Guard) describe(ctx context.Context, f *search.Facts, d *description, needs consent.Needs) error {
	r := d.req
	if !d.full {
		actors, orgKnown, err := g.actorRefs(ctx)
		if err != nil {
			return err
		}
		r.Actors, r.ClientID, r.Purposes = actors, g.p.ClientID, g.p.PurposeOfUse
		r.OrganizationUnknown = g.p.Professional() && !orgKnown
		d.full = true
	}
	if needs.Codes && !d.have.Codes {
		r.Codes, d.have.Codes = f.Tokens("code"), true
	}
	if needs.Labels && !d.have.Labels {
		r.Labels, d.have.Labels = f.Labels(), true
	}
	if needs.References && !d.have.References {
		r.References, d.have.References = f.References(""), true
	}
	if needs.DataPeriod && !d.have.DataPeriod {
		r.DataFrom, r.DataTo, r.DataKnown = f.ClinicalPeriod()
		d.have.DataPeriod = true
	}
	return nil
}

// syncConsent checks the consent cache against the store once per request, so that a Consent written
// through another process sharing the store applies from this request on.
func (g *Guard) syncConsent(ctx context.Context) error {
	g.mu.Lock()
	done := g.synced
	g.mu.Unlock()
	if done {
		return nil
	}
	if err := g.opts.Consent.Sync(ctx); err != nil {
		return err
	}
	g.mu.Lock()
	g.synced = true
	g.mu.Unlock()
	return nil
}

// consentUnavailable: without the consents, no patient data leaves (deny by default).
func consentUnavailable(err error) error {
	return unavailable("the patient's consents could not be read", err)
}

func unavailable(details string, err error) error {
	return &fhir.Error{Kind: fhir.KindUnavailable, Code: "transient", Details: details, Err: err}
}

// denied is the refusal of a resource by consent: as if it did not exist (404), or 403, as configured.
func (g *Guard) denied(f *search.Facts, res consent.Result) error {
	reason := "refused by the patient's consent (" + strings.Join(res.Policies, ", ") + ")"
	if g.opts.DenyStatus == 403 {
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the patient's consent does not allow this access", Err: errors.New(reason)}
	}
	return hidden(f, reason)
}

// breakTheGlass: purpose BTG from a user (not a patient, not a backend).
func (g *Guard) breakTheGlass() bool {
	if g.p.User == "" || g.p.PatientUser() || g.p.RelatedPersonUser() {
		return false
	}
	return slices.Contains(g.p.PurposeOfUse, "BTG")
}

// actorRefs returns who is asking, as consents name actors: the user, their organizations (from the
// token, or from their PractitionerRoles, which only admin clients write), their roles, and the client
// app; and whether the user's organisation is established.
func (g *Guard) actorRefs(ctx context.Context) ([]string, bool, error) {
	g.mu.Lock()
	if g.actorsSet {
		defer g.mu.Unlock()
		return g.actors, g.orgKnown, g.actorsErr
	}
	g.mu.Unlock()
	var actors []string
	var err error
	if g.p.User != "" {
		actors = append(actors, g.p.User)
	}
	actors = append(actors, g.p.Organizations...)
	orgKnown := len(g.p.Organizations) > 0
	if strings.HasPrefix(g.p.User, "Practitioner/") || strings.HasPrefix(g.p.User, "PractitionerRole/") {
		var pr practitionerRoles
		if g.opts.Actors != nil {
			pr, err = g.opts.Actors.roles(ctx, g.p.User)
		} else {
			pr, err = lookupRoles(ctx, g.engine, g.p.User)
		}
		for i, role := range pr.roles {
			if role != g.p.User {
				actors = append(actors, role)
			}
			if len(g.p.Organizations) == 0 {
				actors = append(actors, pr.orgs[i]...)
				orgKnown = orgKnown || len(pr.orgs[i]) > 0
			}
		}
	}
	if g.p.ClientID != "" {
		actors = append(actors, "Device/"+g.p.ClientID)
	}
	g.mu.Lock()
	g.actors, g.orgKnown, g.actorsErr, g.actorsSet = actors, orgKnown, err, true
	g.mu.Unlock()
	return actors, orgKnown, err
}

// hidden is the refusal of a resource the caller may not see: as if it did not exist; the real reason
// stays in Err, for the audit trail.
func hidden(f *search.Facts, reason string) error {
	e := fhir.NotFound(f.Type, f.ID)
	e.Err = errors.New(reason)
	return e
}

// ConsentHeaders summarizes the decisions behind a response for its X-Consent-Decision and
// X-Consent-Policy headers. For a response that carries data, refused resources are not part of it
// (and must not show); for a refusal (refused true), the deny decisions are. ok is false when no patient
// data was involved.
func ConsentHeaders(decisions []Decision, refused bool) (decision, policy string, ok bool) {
	rank := map[consent.Decision]int{consent.NotApplicable: 1, consent.Permit: 2, consent.PermitBreakTheGlass: 3}
	var best consent.Decision
	policies := map[string]bool{}
	for _, d := range decisions {
		if refused != (d.Decision == consent.Deny) || refused != d.Withheld {
			continue
		}
		if refused || rank[d.Decision] > rank[best] {
			best = d.Decision
		}
		for _, p := range d.Policies {
			policies[p] = true
		}
	}
	if best == "" {
		return "", "", false
	}
	var list []string
	for p := range policies {
		list = append(list, p)
	}
	sort.Strings(list)
	if len(list) > 1 {
		list = slices.DeleteFunc(list, func(s string) bool { return s == "default" })
	}
	return string(best), strings.Join(list, " "), true
}
