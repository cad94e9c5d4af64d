package auth

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
)

// Directory types decide who is who (a user's organisation comes from their PractitionerRoles): only
// administration clients write them.
var directory = map[string]bool{
	"Practitioner": true, "PractitionerRole": true, "Organization": true, "CareTeam": true,
	"HealthcareService": true, "Endpoint": true, "Group": true,
}

// IsDirectory reports whether resources of typ belong to the directory, which only administration
// clients write.
func IsDirectory(typ string) bool { return directory[typ] }

// NoticeSender is the sender of the notices the server sends patients (Communication.sender): a
// Communication from it is the server's, which only the patient may mark read.
const NoticeSender = rest.ServerDevice

func writing(i rest.Interaction) bool {
	switch i {
	case rest.Create, rest.Update, rest.Patch, rest.Delete:
		return true
	}
	return false
}

// protectedType refuses an interaction on a protected type to whoever may not perform it, whatever the
// data: it is decided from the caller and the type alone, so the refusal tells nothing about what is
// stored.
func (g *Guard) protectedType(typ string, i rest.Interaction, bundle rest.Interaction) error {
	write := writing(i)
	switch {
	case typ == "AuditEvent" && i == rest.Create && g.source && bundle == "":
		return nil // reported by an audit-source client, as its own (Write checks it says so)
	case typ == "AuditEvent" && i == rest.Create && g.source:
		return refused("an AuditEvent is reported on its own, to POST [base]/AuditEvent, not in a batch or transaction")
	case typ == "AuditEvent" && write:
		return refused("AuditEvents are recorded by the server: clients do not submit, change or delete them (except audit-source clients, which report events of their own)")
	case typ == "AuditEvent" && !g.auditor && !g.p.PatientUser():
		return refused("AuditEvents are read only by the patient they concern and by auditors")
	case directory[typ] && write && !g.admin:
		return refused("the directory (" + typ + ") is written only by administration clients")
	case typ == "Consent" && write && !g.admin && !g.p.PatientUser() && !g.p.RelatedPersonUser():
		return refused("a patient's Consents are written only by the patient, a RelatedPerson acting for them, or an administration client")
	}
	return nil
}

// An AuditEvent a client reports carries the ReportedSystem tag, and names the client as its observer
// (source.observer.identifier in ClientSystem): it is shown apart from what the server observed.
const (
	ReportedSystem = "https://fhirgate.dev/CodeSystem/audit-origin"
	ReportedCode   = "reported"
	ClientSystem   = "https://fhirgate.dev/client"
)

// ReportedBy returns the client an AuditEvent says reported it ("" when it does not say so).
func ReportedBy(body []byte) string {
	var ev struct {
		Meta struct {
			Tag []struct{ System, Code string } `json:"tag"`
		} `json:"meta"`
		Source struct {
			Observer struct {
				Identifier struct{ System, Value string } `json:"identifier"`
			} `json:"observer"`
		} `json:"source"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return ""
	}
	tagged := false
	for _, t := range ev.Meta.Tag {
		tagged = tagged || (t.System == ReportedSystem && t.Code == ReportedCode)
	}
	if id := ev.Source.Observer.Identifier; tagged && id.System == ClientSystem {
		return id.Value
	}
	return ""
}

// notice reports whether a version is one of the server's notices to a patient.
func notice(f *search.Facts) bool {
	return f != nil && f.Type == "Communication" && slices.Contains(f.References("sender"), NoticeSender)
}

// protectedChange refuses changes of the server's notices: a client never sends one, nor deletes one,
// and only the patient it is sent to may mark it read (set Communication.received), changing nothing
// else.
func (g *Guard) protectedChange(ch rest.Change) error {
	if a := ch.After; a != nil && a.Type == "AuditEvent" && ReportedBy(a.Body()) != g.p.ClientID {
		return refused("an AuditEvent a client reports is recorded as reported by that client")
	}
	for _, f := range []*search.Facts{ch.Before, ch.After} {
		if f != nil && f.Ref() == rest.ServerDevice {
			return refused("the server's own Device is written by the server only")
		}
	}
	before, after := notice(ch.Before), notice(ch.After)
	switch {
	case !before && !after:
		return nil
	case ch.Before == nil || !before:
		return refused("notices to patients are sent by the server only")
	case ch.After == nil:
		return refused("the server's notices to a patient are never deleted")
	case !after:
		return refused("a notice to a patient can only be marked read")
	}
	mine := false
	for _, p := range ch.Before.References("recipient") {
		mine = mine || g.self(p)
	}
	if !mine {
		return refused("only the patient a notice is sent to may mark it read")
	}
	if !onlyReceived(ch.Before.Body(), ch.After.Body()) {
		return refused("a notice to a patient can only be marked read: Communication.received may change, nothing else")
	}
	return nil
}

// onlyReceived reports whether two Communications differ at most in received (and in the server's meta).
func onlyReceived(a, b []byte) bool {
	strip := func(body []byte) (map[string]any, bool) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil || m == nil {
			return nil, false
		}
		delete(m, "received")
		delete(m, "meta")
		return m, true
	}
	ma, ok1 := strip(a)
	mb, ok2 := strip(b)
	return ok1 && ok2 && reflect.DeepEqual(ma, mb)
}
