package rest_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// The resources the interaction tests write. Each test builds its own from these, under ids of its own.

// patient returns a Patient; id "" leaves the id out (for creates).
func patient(id, family, gender string) string {
	p := map[string]any{
		"resourceType": "Patient",
		"active":       true,
		"name":         []any{map[string]any{"use": "official", "family": family, "given": []any{"Ann", "Marie"}}},
		"gender":       gender,
		"birthDate":    "1974-12-25",
		"telecom":      []any{map[string]any{"system": "phone", "value": "(03) 5555 6473", "use": "work"}},
	}
	if id != "" {
		p["id"] = id
	}
	return mustJSON(p)
}

// patientWith returns a Patient with an identifier (for the criteria of conditional interactions).
func patientWith(id, family, identifier string) string {
	var p map[string]any
	if err := json.Unmarshal([]byte(patient(id, family, "female")), &p); err != nil {
		panic(err) // patient writes JSON
	}
	p["identifier"] = []any{map[string]any{"system": "http://example.org/mrn", "value": identifier}}
	return mustJSON(p)
}

// observation returns a body-weight Observation about subject; id "" leaves the id out.
func observation(id, subject string) string {
	o := map[string]any{
		"resourceType": "Observation",
		"status":       "final",
		"code": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}},
			"text": "Body weight"},
		"subject":           map[string]any{"reference": subject},
		"effectiveDateTime": "2024-01-31T10:00:00Z",
		"valueQuantity":     map[string]any{"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
	}
	if id != "" {
		o["id"] = id
	}
	return mustJSON(o)
}

func mustJSON(v any) string { return string(fhir.MustJSON(v)) }

// mustUnmarshal decodes JSON into v, failing the test when it cannot.
func mustUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("not the JSON expected: %v: %s", err, b)
	}
}

// query parses a query string ("" is none).
func query(t testing.TB, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return v
}

// idOf returns the id of the resource a response carries.
func idOf(t testing.TB, resp *rest.Response) string {
	t.Helper()
	id := resttest.Str(t, resp.Body, "id")
	if id == "" {
		t.Fatalf("no id in %s", resp.Body)
	}
	return id
}
