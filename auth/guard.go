package auth

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"fhirgate/auth/scope"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// Guard enforces a principal's SMART scopes on one request (and its batch entries). It implements
// rest.Guard.
type Guard struct {
	p      *Principal
	engine *search.Engine
}

var _ rest.Guard = (*Guard)(nil)

// NewGuard returns the guard of a principal's request.
func NewGuard(p *Principal, engine *search.Engine) *Guard {
	return &Guard{p: p, engine: engine}
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
		return hidden(v)
	}
	ok, err := g.permits(ctx, allowed, v.Type, v.ID, values)
	if err != nil {
		return err
	}
	if !ok {
		return hidden(v)
	}
	return nil
}

// hidden is the refusal of a resource the scopes do not cover: as if it did not exist.
func hidden(v *store.Version) error {
	return fhir.NotFound(v.Type, v.ID)
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
