package auth

import (
	"context"
	"errors"
	"strings"

	"fhirgate/auth/consent"
	"fhirgate/auth/scope"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
)

// Write implements rest.Guard: a change is allowed when a scope grants it on the version written and on
// the version it replaces, every patient of both stays within the caller's confinement (a patient user
// writes only their own record: naming oneself somewhere in another patient's data does not make it
// one's own), the patients the new version names exist (or are registered by the same transaction) and
// their consents allow the action (collect for a create, correct for a change or a deletion), what
// governs the new version (a Binary's securityContext, a Provenance's targets) exists and may be seen,
// and no protected resource is touched by whom may not (the server's notices).
//
// The service has already let the caller see Before (a Before it may not see is answered as a resource
// that does not exist, before Write is asked).
func (g *Guard) Write(ctx context.Context, req *rest.Request, ch rest.Change) error {
	var t taken
	err := g.write(ctx, req, ch, &t)
	g.keep(t, err != nil)
	return err
}

func (g *Guard) write(ctx context.Context, req *rest.Request, ch rest.Change, t *taken) error {
	perm := scope.PermFor(string(req.Interaction))
	if perm == 0 || !writing(req.Interaction) {
		return refused("this interaction does not write")
	}
	if err := g.protectedType(req.Type, req.Interaction, req.Bundle); err != nil {
		return err
	}
	action := "correct"
	if ch.Before == nil && ch.After != nil {
		action = "collect"
	}
	if ch.After != nil {
		if err := g.writable(ctx, ch.After, perm, action, &ch, true, t); err != nil {
			return err
		}
	}
	if ch.Before != nil {
		if err := g.writable(ctx, ch.Before, perm, "correct", &ch, false, t); err != nil {
			return err
		}
	}
	return g.protectedChange(ch)
}

// writable decides on one side of a change: the scopes, the confinement (all of its patients), the
// patients' existence and consents, what governs it and what it holds.
func (g *Guard) writable(ctx context.Context, f *search.Facts, perm scope.Perm, action string, ch *rest.Change, after bool, t *taken) error {
	allowed := g.p.Scopes.Allowed(f.Type, perm, g.contexts()...)
	if len(allowed) == 0 {
		return g.forbidden(f.Type, perm)
	}
	confine, ok, err := g.covered(ctx, allowed, f, true)
	if err != nil {
		return err
	}
	if !ok {
		return g.outside(ctx, allowed)
	}
	if err := g.patientsAllow(ctx, f, action, ch, after, t); err != nil {
		return err
	}
	if after {
		if err := g.governorsAllow(ctx, f, confine, action, t); err != nil {
			return err
		}
	}
	parts, err := f.Parts()
	if err != nil {
		return &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Details: "the Bundle's entries cannot be read", Err: err}
	}
	for _, part := range parts {
		if confine != nil && !within(part, confine, true) {
			return g.outside(ctx, allowed)
		}
		if err := g.patientsAllow(ctx, part, action, ch, after, t); err != nil {
			return err
		}
	}
	return nil
}

// outside is the refusal of a write that leaves the caller's confinement: it names the caller's own
// limit, never the data.
func (g *Guard) outside(ctx context.Context, allowed []scope.Scope) error {
	if g.confinedUser() {
		return refused("a patient writes only data of their own record (every patient it names must be them)")
	}
	for _, sc := range allowed {
		if sc.Context == scope.Patient {
			return refused("patient/ scopes only allow writing data of Patient/" + g.p.Patient + " (every patient it names must be them)")
		}
	}
	return refused("the access token's scopes do not allow writing this resource")
}

// patientsAllow checks the patients of one version of a write: for a new version, that each exists (or is
// registered by this very write or transaction: a new patient has no Consent yet); for both, that each
// patient's consent allows the action. A refusal by a patient the caller may not see is answered as if that
// patient did not exist (or 403, as configured); by a patient the caller may see, 403.
func (g *Guard) patientsAllow(ctx context.Context, f *search.Facts, action string, ch *rest.Change, after bool, t *taken) error {
	patients := f.Patients()
	if err := f.Err(); err != nil {
		return unavailable("the resource's index could not be read", err)
	}
	var d description
	for _, pat := range patients {
		if g.self(pat) {
			continue
		}
		_, id, _ := strings.Cut(pat, "/")
		var pf *search.Facts
		if after {
			var err error
			if pf, err = g.engine.ReadFacts(ctx, "Patient", id); err != nil {
				return unavailable("the patient could not be read", err)
			}
			if pf == nil {
				if pat == f.Ref() || (ch.Companion != nil && ch.Companion(pat)) {
					continue // registration: the patient is created by this write
				}
				e := fhir.NotFound("Patient", id)
				e.Err = errors.New("the patient it names does not exist")
				return e
			}
		}
		if g.opts.Consent == nil || g.consentExempt(f) {
			continue
		}
		res, err := g.decide(ctx, f, pat, action, &d, t)
		if err != nil {
			return err
		}
		if res.Decision != consent.Deny {
			continue
		}
		return g.writeDenied(ctx, pf, id, res)
	}
	return nil
}

// writeDenied is the refusal of a write by a patient's consent: 403 when the caller may see the patient
// (the refusal then tells nothing hidden), otherwise the answer for a patient that does not exist (or
// 403, as configured).
func (g *Guard) writeDenied(ctx context.Context, pf *search.Facts, id string, res consent.Result) error {
	reason := "refused by the patient's consent (" + strings.Join(res.Policies, ", ") + ")"
	if pf == nil {
		var err error
		if pf, err = g.engine.ReadFacts(ctx, "Patient", id); err != nil {
			return unavailable("the patient could not be read", err)
		}
	}
	var ignored taken // whether the caller may see the patient decides the answer's shape, not the access
	if pf != nil && g.consent(ctx, pf, "access", &ignored) == nil {
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the patient's consent does not allow this change",
			Err: errors.New(reason)}
	}
	if g.opts.DenyStatus == 403 {
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the patient's consent does not allow this access", Err: errors.New(reason)}
	}
	e := fhir.NotFound("Patient", id)
	e.Err = errors.New(reason)
	return e
}

// governorsAllow checks what governs a new version: each resource must exist and be visible to the caller,
// within its confinement (otherwise the write is answered as if that resource did not exist), and its
// patients' consents must allow the action: writing a Binary of an Observation adds to that patient's
// record.
func (g *Guard) governorsAllow(ctx context.Context, f *search.Facts, confine []string, action string, t *taken) error {
	for _, ref := range f.Governing() {
		typ, id, _ := strings.Cut(ref, "/")
		gov, err := g.engine.ReadFacts(ctx, typ, id)
		if err != nil {
			return unavailable("a resource the write refers to could not be read", err)
		}
		if gov == nil {
			e := fhir.NotFound(typ, id)
			e.Err = errors.New("the resource that governs it does not exist")
			return e
		}
		if confine != nil && !within(gov, confine, false) {
			return hidden(gov, "governed by "+ref+", outside the caller's patients")
		}
		if err := g.sees(ctx, gov, confine, "access", t); err != nil {
			return err
		}
		if confine != nil && !within(gov, confine, true) {
			return refused("a patient writes only data of their own record (what it refers to names another patient)")
		}
		if err := g.consent(ctx, gov, action, t); err != nil {
			if k := fhir.KindOf(err); k != fhir.KindNotFound && k != fhir.KindForbidden {
				return err
			}
			return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "the patient's consent does not allow this change",
				Err: errors.New(reasonOf(err))}
		}
	}
	return nil
}
