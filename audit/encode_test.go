package audit

import (
	"bytes"
	"testing"

	"fhirgate/fhir"
)

// BenchmarkAuditEventEncode: encoding a read's AuditEvent, by the auditor's writer and by encoding/json.
//
//	go test -run '^$' -bench AuditEventEncode ./audit/
func BenchmarkAuditEventEncode(b *testing.B) {
	concept := func(system, code, display string) aeConcept {
		return aeConcept{Coding: []aeCoding{{System: system, Code: code, Display: display}}}
	}
	purpose := concept(actReason, "TREAT", "")
	ev := &auditEvent{ResourceType: "AuditEvent", ID: "6f1c2a9e-8d7b-4c3a-9e2f-1a2b3c4d5e6f",
		Meta:    &aeMeta{Profile: []string{balpProfile + "PatientRead"}},
		Type:    aeCoding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Subtype: []aeCoding{{System: "http://hl7.org/fhir/restful-interaction", Code: "read"}},
		Action:  "R", Recorded: "2026-11-29T10:00:00.123Z", Outcome: "0", PurposeOfEvent: []aeConcept{purpose},
		Agent: []aeAgent{
			{Type: &aeConcept{Coding: []aeCoding{{System: dcm, Code: "110152"}}}, Who: &aeReference{Identifier: &aeIdentifier{Value: "app"}, Display: "client app"},
				Network: &aeNetwork{Address: "127.0.0.1", Type: "2"}},
			{Type: &aeConcept{Coding: []aeCoding{{System: dcm, Code: "110153"}}}, Who: &aeReference{Reference: "Device/fhirgate"},
				Network: &aeNetwork{Address: "http://127.0.0.1:8080/fhir", Type: "5"}},
			{Type: &aeConcept{Coding: []aeCoding{{System: participation, Code: "IRCP"}}}, Requestor: true,
				Role:   []aeConcept{concept(roleClass, "PROV", "healthcare provider")},
				Who:    &aeReference{Reference: "Practitioner/prac-house", Identifier: &aeIdentifier{System: "http://127.0.0.1:8080/dev-issuer", Value: "Practitioner/prac-house"}},
				Policy: []string{"urn:ietf:params:oauth:jti:0123456789abcdef"}, PurposeOfUse: []aeConcept{purpose}},
		},
		Source: aeSource{Site: "127.0.0.1:8080", Observer: aeReference{Reference: "Device/fhirgate", Display: "fhirgate http://127.0.0.1:8080/fhir"},
			Type: []aeCoding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}}},
		Entity: []aeEntity{
			{What: &aeReference{Reference: "Patient/pat-alice"}, Type: &aeCoding{System: entityType, Code: "1", Display: "Person"}, Role: &aeCoding{System: objectRole, Code: "1", Display: "Patient"}},
			{What: &aeReference{Reference: "Patient/pat-alice/_history/1"}, Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"}, Role: &aeCoding{System: objectRole, Code: "4", Display: "Domain Resource"}},
			{What: &aeReference{Identifier: &aeIdentifier{Value: "5f0e8a4c-1111-2222-3333-444455556666"}}, Type: &aeCoding{System: "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", Code: "XrequestId"}},
		},
	}
	if !bytes.Equal(ev.encode(), fhir.MustJSON(ev)) {
		b.Fatal("the auditor's encoding differs from encoding/json's")
	}
	b.Run("auditor", func(b *testing.B) {
		for b.Loop() {
			ev.encode()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			fhir.MustJSON(ev)
		}
	})
}
