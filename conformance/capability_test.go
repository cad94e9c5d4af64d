package conformance

import (
	"encoding/json"
	"slices"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

// TestCapabilityStatementIsValidAndHonest checks that the CapabilityStatement is valid R4 and that it
// claims exactly what the route table and the search registry provide.
func TestCapabilityStatementIsValidAndHonest(t *testing.T) {
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, _ := validation.New(validation.Config{})
	svc, _ := rest.New(rest.Config{BaseURL: "http://localhost/fhir"}, st, v)
	b, err := CapabilityStatement(Options{BaseURL: "http://localhost/fhir", Version: "test", Routes: rest.Routes, Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(b); err != nil {
		t.Fatalf("the CapabilityStatement is not valid R4: %v", err)
	}
	var cs capabilityStatement
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs.Rest) != 1 || len(cs.Rest[0].Resource) != 146 {
		t.Fatalf("rest = %+v", cs.Rest)
	}
	for _, r := range cs.Rest[0].Resource {
		var listed = map[string]bool{}
		for _, sp := range r.SearchParam {
			listed[sp.Name] = true
			p, ok := search.Lookup(r.Type, sp.Name)
			if !ok || p.Unsupported != "" || string(p.Type) != sp.Type {
				t.Errorf("%s lists search parameter %s (%s) that the registry does not support", r.Type, sp.Name, sp.Type)
			}
		}
		for _, p := range search.Params(r.Type) {
			common := p.Code[0] == '_'
			if p.Unsupported == "" && !common && !listed[p.Code] {
				t.Errorf("%s does not list its supported parameter %s", r.Type, p.Code)
			}
		}
	}
	for _, r := range cs.Rest[0].Resource { // the operations of the route table, each with its definition
		want := []operation{{Name: "validate", Definition: "http://hl7.org/fhir/OperationDefinition/Resource-validate"}}
		if r.Type == "Patient" {
			want = []operation{{Name: "everything", Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything"}, want[0]}
		}
		if !slices.Equal(r.Operation, want) {
			t.Errorf("%s lists the operations %v, want %v", r.Type, r.Operation, want)
		}
	}
	if r := cs.Rest[0]; len(r.SearchParam) == 0 {
		t.Error("no common search parameters (_id, _lastUpdated...) listed")
	}
}
