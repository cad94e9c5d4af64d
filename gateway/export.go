package gateway

import (
	"context"
	"encoding/json"
	"errors"
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
// of the export's request holds that patient's resources), with the guard's consent decisions; and the
// export's end, one event about no patient. Every event names the export's id.
func exportAudit(trail *audit.Trail, baseURL string) func(context.Context, rest.ExportAudit) error {
	return func(ctx context.Context, x rest.ExportAudit) error {
		in := &audit.Interaction{Request: x.Request, Method: "GET", Target: basePath(baseURL) + "/" + x.Target,
			Response: &rest.Response{Status: 200, Touched: x.Written}, Export: x.Job}
		if g, ok := x.Guard.(Guard); ok {
			in.Principal, in.Decisions = g.Principal(), g.Decisions()
		}
		_, err := trail.Record(ctx, in)
		return err
	}
}

// savedPrincipal is what a bulk export keeps of the principal that started it, to decide for the same
// caller when the export is resumed (after a restart, or in another process): the token's claims as they
// were verified, never the token.
type savedPrincipal struct {
	Subject, Issuer, ClientID, TokenID, Patient, User string
	PurposeOfUse, Organizations                       []string
	Scope                                             string
}

// saveExportGuard keeps the principal of an export's guard (an error for a guard without one: the export
// then cannot be resumed).
func saveExportGuard(g rest.Guard) ([]byte, error) {
	gg, ok := g.(Guard)
	if !ok || gg.Principal() == nil {
		return nil, errors.New("gateway: the export's guard has no principal")
	}
	p := gg.Principal()
	var raw []string
	for _, sc := range p.Scopes.Resource {
		raw = append(raw, sc.Raw)
	}
	raw = append(raw, p.Scopes.Other...)
	return json.Marshal(savedPrincipal{Subject: p.Subject, Issuer: p.Issuer, ClientID: p.ClientID, TokenID: p.TokenID,
		Patient: p.Patient, User: p.User, PurposeOfUse: p.PurposeOfUse, Organizations: p.Organizations,
		Scope: strings.Join(raw, " ")})
}

// restoreExportGuard makes the guard of a resumed export: the decision point's, for the principal kept.
func restoreExportGuard(access *auth.Access) func([]byte) (rest.Guard, error) {
	return func(b []byte) (rest.Guard, error) {
		var s savedPrincipal
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		return access.Guard(&auth.Principal{Subject: s.Subject, Issuer: s.Issuer, ClientID: s.ClientID, TokenID: s.TokenID,
			Patient: s.Patient, User: s.User, PurposeOfUse: s.PurposeOfUse, Organizations: s.Organizations,
			Scopes: scope.Parse(s.Scope)}), nil
	}
}

// startedExport returns the id of the export a kick-off started ("" for any other request), so that the
// kick-off's event names it as the export's later events do.
func startedExport(req *rest.Request, resp *rest.Response) string {
	if req == nil || resp == nil || req.Interaction != rest.Operation || req.Operation != "export" || resp.Status != 202 {
		return ""
	}
	_, id, ok := strings.Cut(resp.ContentLocation, "/$export-poll/")
	if !ok {
		return ""
	}
	return id
}
