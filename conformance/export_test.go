package conformance

import (
	"encoding/json"
	"slices"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/memstore"
	"fhirgate/fhir/validation"
)

// TestCapabilityStatementListsExportWhereServed: $export is listed, with the Bulk Data IG's
// OperationDefinitions, only by a service that serves it.
func TestCapabilityStatementListsExportWhereServed(t *testing.T) {
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, enabled := range []bool{false, true} {
		svc, err := rest.New(rest.Config{BaseURL: "http://localhost/fhir"}, memstore.New(memstore.Config{}), v)
		if err != nil {
			t.Fatal(err)
		}
		if enabled {
			e, err := rest.NewExports(svc, rest.ExportConfig{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
		}
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
		var got []string
		for _, op := range cs.Rest[0].Operation {
			got = append(got, op.Definition)
		}
		for _, r := range cs.Rest[0].Resource {
			for _, op := range r.Operation {
				if op.Name == "export" {
					got = append(got, op.Definition)
				}
			}
		}
		slices.Sort(got)
		var want []string
		if enabled {
			want = []string{"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
				"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
				"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("export enabled %v: listed %v, want %v", enabled, got, want)
		}
	}
}
