package rest

import (
	"encoding/json"

	"fhirgate/fhir"
)

type outcomeJSON struct {
	ResourceType string      `json:"resourceType"`
	Issue        []issueJSON `json:"issue"`
}

type issueJSON struct {
	Severity    string       `json:"severity"`
	Code        string       `json:"code"`
	Details     *detailsJSON `json:"details,omitempty"`
	Diagnostics string       `json:"diagnostics,omitempty"`
	Expression  []string     `json:"expression,omitempty"`
}

type detailsJSON struct {
	Coding []codingJSON `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type codingJSON struct {
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

// Outcome returns an OperationOutcome holding the issues.
func Outcome(issues ...fhir.Issue) json.RawMessage {
	oo := outcomeJSON{ResourceType: "OperationOutcome"}
	for _, is := range issues {
		j := issueJSON{Severity: is.Severity, Code: is.Code, Diagnostics: is.Diagnostics}
		if j.Severity == "" {
			j.Severity = "error"
		}
		if is.Details != "" || is.MessageID != "" {
			j.Details = &detailsJSON{Text: is.Details}
			if is.MessageID != "" {
				j.Details.Coding = []codingJSON{{System: "http://terminology.hl7.org/CodeSystem/operation-outcome", Code: is.MessageID}}
			}
		}
		if is.Expression != "" {
			j.Expression = []string{is.Expression}
		}
		oo.Issue = append(oo.Issue, j)
	}
	return fhir.MustJSON(oo)
}

// ErrorOutcome returns the OperationOutcome describing err.
func ErrorOutcome(err error) json.RawMessage {
	return Outcome(fhir.AsError(err).Issues()...)
}
