package gateway

import (
	"context"
	"strings"

	"fhirgate/audit"
	"fhirgate/auth"
	"fhirgate/auth/scope"
	"fhirgate/fhir/rest"
)

// Bulk export (rest.Exports) as the gateway serves it: who may start one, and the audit of each patient
// whose data an export wrote.

// principalOf returns who the guard decides for (nil without a guard or a verified token).
func principalOf(g Guard) *auth.Principal {
	if g == nil {
		return nil
	}
	return g.Principal()
}

// bulkClient reports whether a principal may start a bulk export: a backend service or a user with
// system/ or user/ scopes, never a patient (or someone acting for one), whose data comes by other means.
func bulkClient(p *auth.Principal) bool {
	if p.PatientUser() || p.RelatedPersonUser() {
		return false
	}
	for _, sc := range p.Scopes.Resource {
		if sc.Context == scope.System || sc.Context == scope.User {
			return true
		}
	}
	return false
}

// preferAsync reports whether the Prefer headers ask for respond-async.
func preferAsync(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if name, _, _ := strings.Cut(strings.TrimSpace(part), "="); strings.EqualFold(strings.TrimSpace(name), "respond-async") {
				return true
			}
		}
	}
	return false
}

// exportAudit records, through the trail, each patient an export wrote: one event per patient (the ledger
// of the export's request holds that patient's resources), with the guard's consent decisions.
func exportAudit(trail *audit.Trail, baseURL string) func(context.Context, rest.ExportAudit) error {
	return func(ctx context.Context, x rest.ExportAudit) error {
		in := &audit.Interaction{Request: x.Request, Method: "GET", Target: basePath(baseURL) + "/" + x.Target,
			Response: &rest.Response{Status: 200, Touched: x.Written}}
		if g, ok := x.Guard.(Guard); ok {
			in.Principal, in.Decisions = g.Principal(), g.Decisions()
		}
		_, err := trail.Record(ctx, in)
		return err
	}
}
