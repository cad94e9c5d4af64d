package auth

import (
	"time"

	"fhirgate/auth/consent"
	"fhirgate/fhir/search"
)

// Access is the server's access decision point: one decision, for reads and writes alike, from who asks
// (the principal), which patients the data is about (before and after a write), what is done and why (the
// purpose of use). It knows no HTTP. Each request gets its own Guard, which the FHIR service consults at
// every step (see rest.Guard) and which remembers the consent decisions it made, for the response's
// headers and the audit trail.
//
// What it decides, in order (docs/adr/0005-access-decision.md):
//   - who may run an interaction at all: the SMART scopes, and the protected types (the directory is
//     written by admin clients only, a patient's Consents by the patient, a RelatedPerson acting for them
//     or an admin client, AuditEvents are read by their patient and by auditors only and are written by
//     the server, or reported by an audit-source client as its own);
//   - whose data a resource is: the patients of its compartment, or the patients it points to, or those of
//     the resources that govern it (a Binary's securityContext, a Provenance's targets) or that it holds (a
//     stored Bundle's entries);
//   - whether the caller may see or change each patient's data: a patient user only their own, whatever
//     the scope's prefix (a RelatedPerson the patients they are linked to); patient/ scopes only the
//     context patient's; everyone else as that patient's Consents decide (the patient themself always sees
//     their own data).
type Access struct {
	engine   *search.Engine
	opts     Options
	admins   map[string]bool
	auditors map[string]bool
	sources  map[string]bool
}

// Options configure the access decision point.
type Options struct {
	// Consent decides with the patients' consents (nil: no consent enforcement, for benchmarks' baselines).
	Consent *consent.Engine
	// DenyStatus is the status of a direct read refused by consent: 404 (existence hidden, the default)
	// or 403.
	DenyStatus int
	// Actors caches practitioners' roles and related persons' patients between requests (nil: looked up on
	// every request).
	Actors *Actors
	// AdminClients are the client ids (client_id or azp) that administer the directory (Practitioner,
	// PractitionerRole, Organization...) and may record Consents on a patient's behalf.
	AdminClients []string
	// AuditorClients are the client ids that may read every AuditEvent.
	AuditorClients []string
	// AuditSourceClients are the client ids that may report AuditEvents of their own: recorded as
	// reported by that client (ReportedBy), never as what the server observed.
	AuditSourceClients []string
	// Now is the clock of consent periods (time.Now when nil).
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// NewAccess returns the decision point of a server whose resources engine searches.
func NewAccess(engine *search.Engine, opts Options) *Access {
	if opts.DenyStatus == 0 {
		opts.DenyStatus = 404
	}
	a := &Access{engine: engine, opts: opts, admins: map[string]bool{}, auditors: map[string]bool{}, sources: map[string]bool{}}
	for _, c := range opts.AdminClients {
		a.admins[c] = true
	}
	for _, c := range opts.AuditorClients {
		a.auditors[c] = true
	}
	for _, c := range opts.AuditSourceClients {
		a.sources[c] = true
	}
	return a
}

// Guard returns the guard of one request of p.
func (a *Access) Guard(p *Principal) *Guard {
	return &Guard{p: p, a: a, engine: a.engine, opts: a.opts,
		admin: p.ClientID != "" && a.admins[p.ClientID], auditor: p.ClientID != "" && a.auditors[p.ClientID],
		source: p.ClientID != "" && a.sources[p.ClientID]}
}
