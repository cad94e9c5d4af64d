package audit

import (
	"strings"

	"fhirgate/fhir/search"
)

// The audit trail indexes every AuditEvent it writes. Decoding each event's JSON again and evaluating
// every search parameter's expression on it cost more than the read being audited, so the auditor
// describes the values of the event it built to the indexer directly (search.Description), following the
// expressions of the AuditEvent parameters this server indexes. The tests check, for every event they store,
// that the entries are exactly those of the generic indexer on the event's JSON.

// describe gives the indexer the values each indexed AuditEvent parameter selects.
func (ev *auditEvent) describe(d *search.Description) {
	d.Code("action", ev.Action)                                     // AuditEvent.action
	d.Date("date", ev.Recorded)                                     // AuditEvent.recorded
	d.Code("outcome", ev.Outcome)                                   // AuditEvent.outcome
	d.Coding("type", ev.Type.System, ev.Type.Code, ev.Type.Display) // AuditEvent.type
	for _, c := range ev.Subtype {                                  // AuditEvent.subtype
		d.Coding("subtype", c.System, c.Code, c.Display)
	}
	for _, c := range ev.PurposeOfEvent { // AuditEvent.purposeOfEvent | AuditEvent.agent.purposeOfUse
		describeConcept(d, "purpose", c)
	}
	if ev.Meta != nil {
		for _, c := range ev.Meta.Security { // Resource.meta.security
			d.Coding("_security", c.System, c.Code, c.Display)
		}
		for _, p := range ev.Meta.Profile { // Resource.meta.profile
			d.URI("_profile", p)
		}
	}
	for _, a := range ev.Agent {
		if a.Network != nil { // AuditEvent.agent.network.address
			d.String("address", a.Network.Address)
		}
		if a.Who != nil { // AuditEvent.agent.who, and patient: agent.who.where(resolve() is Patient)
			describeReference(d, "agent", a.Who)
			if isPatient(a.Who) {
				describeReference(d, "patient", a.Who)
			}
		}
		for _, r := range a.Role { // AuditEvent.agent.role
			describeConcept(d, "agent-role", r)
		}
		for _, p := range a.Policy { // AuditEvent.agent.policy
			d.URI("policy", p)
		}
		for _, c := range a.PurposeOfUse {
			describeConcept(d, "purpose", c)
		}
	}
	for _, e := range ev.Entity {
		if e.What != nil { // AuditEvent.entity.what, and patient: entity.what.where(resolve() is Patient)
			describeReference(d, "entity", e.What)
			if isPatient(e.What) {
				describeReference(d, "patient", e.What)
			}
		}
	}
}

func describeReference(d *search.Description, param string, r *aeReference) {
	var system, value string
	if r.Identifier != nil {
		system, value = r.Identifier.System, r.Identifier.Value
	}
	d.Reference(param, r.Reference, system, value)
}

func describeConcept(d *search.Description, param string, c aeConcept) {
	for _, cd := range c.Coding {
		d.Coding(param, cd.System, cd.Code, cd.Display)
	}
	d.Text(param, c.Text)
}

// isPatient is resolve() is Patient for the references the auditor writes (relative, maybe versioned).
func isPatient(r *aeReference) bool { return strings.HasPrefix(r.Reference, "Patient/") }
