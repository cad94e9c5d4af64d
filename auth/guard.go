package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"fhirgate/auth/consent"
	"fhirgate/auth/scope"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// Guard enforces a principal's SMART scopes and the patients' consents on one request (and its batch
// entries). It implements rest.Guard, and records every consent decision it makes (for the response
// headers and the audit trail).
type Guard struct {
	p      *Principal
	engine *search.Engine
	opts   Options

	mu        sync.Mutex
	decisions []Decision
	actors    []string // the principal's actor references, for consents (computed once)
	actorsErr error
	actorsSet bool
	synced    bool // the consent cache was checked against the store for this request
}

// Options configure the consent side of guards.
type Options struct {
	// Consent decides with the patients' consents (nil: no consent enforcement, for tools and tests).
	Consent *consent.Engine
	// DenyStatus is the status of a direct read refused by consent: 404 (existence hidden) or 403.
	DenyStatus int
	// Actors caches practitioners' roles between requests (nil: looked up on every request).
	Actors *Actors
}

// Decision is one consent decision taken for the request.
type Decision struct {
	Resource string // "Observation/1"
	Patient  string // "Patient/123"
	consent.Result
}

var _ rest.Guard = (*Guard)(nil)

// NewGuard returns the guard of a principal's request.
func NewGuard(p *Principal, engine *search.Engine, opts Options) *Guard {
	if opts.DenyStatus == 0 {
		opts.DenyStatus = 404
	}
	return &Guard{p: p, engine: engine, opts: opts}
}

// Decisions returns the consent decisions taken so far.
func (g *Guard) Decisions() []Decision {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Decision(nil), g.decisions...)
}

func (g *Guard) record(d Decision) {
	g.mu.Lock()
	g.decisions = append(g.decisions, d)
	g.mu.Unlock()
}

// Principal returns who the guard guards for.
func (g *Guard) Principal() *Principal { return g.p }

// forbidden is the 403 of an interaction no scope allows; it names a scope that would have.
func (g *Guard) forbidden(typ string, perm scope.Perm) error {
	ctx := scope.User
	switch {
	case g.p.Patient != "":
		ctx = scope.Patient
	case g.p.User == "":
		ctx = scope.System
	}
	needed := scope.Needed(ctx, typ, perm)
	return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the access token's scopes do not allow this interaction",
		Diagnostics: "it needs a scope such as " + needed, Scope: needed}
}

// Authorize implements rest.Guard: the interaction's permission on its type(s).
func (g *Guard) Authorize(ctx context.Context, req *rest.Request) error {
	switch req.Interaction {
	case rest.Capabilities, rest.Batch, rest.Transaction:
		return nil // entries are authorized one by one
	}
	perm := scope.PermFor(string(req.Interaction))
	if perm == 0 {
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "no scope grants this interaction"}
	}
	contexts := g.p.Contexts()
	switch {
	case req.Interaction == rest.SearchSystem || req.Interaction == rest.HistorySystem:
		types := typesOf(req.Params["_type"])
		if len(types) == 0 { // any type: each resource is admitted on its own
			for _, sc := range g.p.Scopes.Resource {
				if sc.Perms&perm != 0 && contextIn(sc.Context, contexts) {
					return nil
				}
			}
			return g.forbidden("*", perm)
		}
		for _, t := range types {
			if len(g.p.Scopes.Allowed(t, perm, contexts...)) == 0 {
				return g.forbidden(t, perm)
			}
		}
		return nil
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
	// A search under patient/ scopes only is a search of the context patient's compartment.
	if req.Interaction == rest.SearchType && req.Compartment == "" && onlyPatient(allowed) && len(search.CompartmentParams(req.Type)) > 0 {
		req.Compartment = "Patient/" + g.p.Patient
	}
	return nil
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

func contextIn(c scope.Context, list []scope.Context) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

func onlyPatient(scopes []scope.Scope) bool {
	for _, s := range scopes {
		if s.Context != scope.Patient {
			return false
		}
	}
	return true
}

// Admit implements rest.Guard: a resource leaves only if a scope allows it — for patient/ scopes, only
// data about the context patient; for granular scopes, only what their parameters match.
func (g *Guard) Admit(ctx context.Context, req *rest.Request, v *store.Version, values func(string) [][]byte) error {
	perm := scope.PermFor(string(req.Interaction))
	var allowed []scope.Scope
	if req.Type == v.Type && req.Interaction != rest.SearchSystem && req.Interaction != rest.HistorySystem && req.Interaction != rest.Operation {
		allowed = g.p.Scopes.Allowed(v.Type, perm, g.p.Contexts()...)
	} else { // an include, $everything, or a system-level result: read or search on its type will do
		allowed = append(g.p.Scopes.Allowed(v.Type, scope.Read, g.p.Contexts()...), g.p.Scopes.Allowed(v.Type, scope.Search, g.p.Contexts()...)...)
	}
	if len(allowed) == 0 {
		if req.Type == v.Type && (req.Interaction == rest.Read || req.Interaction == rest.VRead) {
			return g.forbidden(v.Type, perm)
		}
		return hidden(v, "refused by scope: no scope grants "+v.Type)
	}
	ok, err := g.permits(ctx, allowed, v.Type, v.ID, values)
	if err != nil {
		return err
	}
	if !ok {
		return hidden(v, "refused by scope: outside the patient context or the granular scopes")
	}
	return g.consent(ctx, v, values)
}

// consent checks a resource leaving the server against the consents of every patient it is about.
func (g *Guard) consent(ctx context.Context, v *store.Version, values func(string) [][]byte) error {
	// AuditEvents record accesses: a user sees those of a patient as the patient's consent allows, but
	// auditors (backend services with system/ scopes, acting for no user) see the whole trail — no
	// consent can hide it from those who must check it.
	if g.opts.Consent == nil || v.Deleted || v.Type == "AuditEvent" && g.p.User == "" {
		return nil
	}
	patients := search.Patients(v.Type, v.ID, values)
	var req *consent.Request
	for _, pat := range patients {
		if g.selfAccess(pat) {
			g.record(Decision{Resource: v.Ref(), Patient: pat, Result: consent.Result{Decision: consent.NotApplicable, Policies: []string{"right-of-access"}}})
			continue
		}
		if err := g.syncConsent(ctx); err != nil {
			return consentUnavailable(err)
		}
		policies, err := g.opts.Consent.Policies(ctx, pat)
		if err != nil {
			return consentUnavailable(err)
		}
		if len(policies) > 0 && req == nil {
			if req, err = g.consentRequest(ctx, v, values, consent.NeedsOf(policies)); err != nil {
				return consentUnavailable(err)
			}
		}
		r := req
		if r == nil {
			r = &consent.Request{Resource: v.Ref(), Type: v.Type, Now: time.Now()}
		}
		res := consent.Evaluate(policies, r, g.opts.Consent.Default, g.breakTheGlass())
		g.record(Decision{Resource: v.Ref(), Patient: pat, Result: res})
		if res.Decision == consent.Deny {
			return g.denied(v, res)
		}
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
	return &fhir.Error{Kind: fhir.KindUnavailable, Code: "transient", Details: "the patient's consents could not be read", Err: err}
}

// denied is the refusal of a resource by consent: 404 (existence hidden) or 403, as configured.
func (g *Guard) denied(v *store.Version, res consent.Result) error {
	reason := "refused by the patient's consent (" + strings.Join(res.Policies, ", ") + ")"
	if g.opts.DenyStatus == 403 {
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the patient's consent does not allow this access", Err: errors.New(reason)}
	}
	return hidden(v, reason)
}

// selfAccess: the patient themself always reads their own data.
func (g *Guard) selfAccess(patient string) bool {
	return g.p.User == patient || (g.p.User == "" && g.p.Patient != "" && "Patient/"+g.p.Patient == patient)
}

// breakTheGlass: purpose BTG from a user (not a patient, not a backend).
func (g *Guard) breakTheGlass() bool {
	if g.p.User == "" || g.p.IsPatient() {
		return false
	}
	for _, p := range g.p.PurposeOfUse {
		if p == "BTG" {
			return true
		}
	}
	return false
}

// consentRequest describes the access to a resource for the consent engine.
func (g *Guard) consentRequest(ctx context.Context, v *store.Version, values func(string) [][]byte, needs consent.Needs) (*consent.Request, error) {
	actors, err := g.actorRefs(ctx)
	if err != nil {
		return nil, err
	}
	r := &consent.Request{Actors: actors, ClientID: g.p.ClientID, Purposes: g.p.PurposeOfUse, Action: "access",
		Resource: v.Ref(), Type: v.Type, Now: time.Now()}
	var params []string
	if needs.Codes {
		params = append(params, "code")
	}
	if needs.Labels {
		params = append(params, "_security")
	}
	for _, code := range params {
		for _, val := range values(code) {
			if len(val) > 1 && val[0] == 's' { // system|code entries of tokens
				if code == "code" {
					r.Codes = append(r.Codes, string(val[1:]))
				} else {
					r.Labels = append(r.Labels, string(val[1:]))
				}
			}
		}
	}
	if needs.References {
		for _, p := range search.Params(v.Type) {
			if p.Type == search.Reference && p.Indexed {
				for _, val := range values(p.Code) {
					if len(val) > 1 && val[0] == 'r' {
						r.References = append(r.References, string(val[1:]))
					}
				}
			}
		}
	}
	if !needs.DataPeriod {
		return r, nil
	}
	for _, val := range values("date") {
		if len(val) == 17 && val[0] == 'L' {
			lo, hi := search.DecodeRange(val)
			if !r.DataKnown || lo < r.DataFrom {
				r.DataFrom = lo
			}
			if !r.DataKnown || hi > r.DataTo {
				r.DataTo = hi
			}
			r.DataKnown = true
		}
	}
	return r, nil
}

// actorRefs returns who is asking, as consents name actors: the user, their organizations (from the
// token, or from their PractitionerRoles), their roles, and the client app.
func (g *Guard) actorRefs(ctx context.Context) ([]string, error) {
	g.mu.Lock()
	if g.actorsSet {
		defer g.mu.Unlock()
		return g.actors, g.actorsErr
	}
	g.mu.Unlock()
	var actors []string
	var err error
	if g.p.User != "" {
		actors = append(actors, g.p.User)
	}
	actors = append(actors, g.p.Organizations...)
	if strings.HasPrefix(g.p.User, "Practitioner/") {
		var pr practitionerRoles
		if g.opts.Actors != nil {
			pr, err = g.opts.Actors.roles(ctx, g.p.User)
		} else {
			pr, err = lookupRoles(ctx, g.engine, g.p.User)
		}
		for i, role := range pr.roles {
			actors = append(actors, role)
			if len(g.p.Organizations) == 0 {
				actors = append(actors, pr.orgs[i]...)
			}
		}
	}
	if g.p.ClientID != "" {
		actors = append(actors, "Device/"+g.p.ClientID)
	}
	g.mu.Lock()
	g.actors, g.actorsErr, g.actorsSet = actors, err, true
	g.mu.Unlock()
	return actors, err
}

// hidden is the refusal of a resource the scopes do not cover: as if it did not exist to the client; the
// real reason stays in Err, for the audit trail.
func hidden(v *store.Version, reason string) error {
	e := fhir.NotFound(v.Type, v.ID)
	e.Err = errors.New(reason)
	return e
}

// AdmitWrite implements rest.Guard.
func (g *Guard) AdmitWrite(ctx context.Context, req *rest.Request, typ, id string, values func(string) [][]byte) error {
	perm := scope.PermFor(string(req.Interaction))
	allowed := g.p.Scopes.Allowed(typ, perm, g.p.Contexts()...)
	if len(allowed) == 0 {
		return g.forbidden(typ, perm)
	}
	ok, err := g.permits(ctx, allowed, typ, id, values)
	if err != nil {
		return err
	}
	if !ok {
		msg := "the access token's scopes do not allow writing this resource"
		if onlyPatient(allowed) {
			msg = fmt.Sprintf("patient/ scopes only allow writing data of Patient/%s", g.p.Patient)
		}
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: msg}
	}
	return nil
}

// permits reports whether one of the scopes covers the resource.
func (g *Guard) permits(ctx context.Context, scopes []scope.Scope, typ, id string, values func(string) [][]byte) (bool, error) {
	var patients []string
	patientsKnown := false
	for _, sc := range scopes {
		if sc.Context == scope.Patient {
			if !patientsKnown {
				patients, patientsKnown = search.Patients(typ, id, values), true
			}
			if !g.aboutContextPatient(typ, patients) {
				continue
			}
		}
		if sc.Restricted() {
			ok, err := g.engine.Satisfies(ctx, typ, id, values, url.Values(sc.Query))
			if err != nil || !ok {
				continue // a restriction that cannot be evaluated grants nothing
			}
		}
		return true, nil
	}
	return false, nil
}

// aboutContextPatient: data of the patient compartment must belong to the context patient; other data
// must not be about another patient.
func (g *Guard) aboutContextPatient(typ string, patients []string) bool {
	me := "Patient/" + g.p.Patient
	for _, p := range patients {
		if p == me {
			return true
		}
	}
	member := typ == "Patient" || len(search.CompartmentParams(typ)) > 0
	return !member && len(patients) == 0
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
		if refused != (d.Decision == consent.Deny) {
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
