package search_test

import (
	"encoding/json"
	"os"
	"testing"

	fhirsearch "fhirgate/fhir/search"
)

// BenchmarkExtract measures index extraction (every search parameter of the type, from the parsed
// resource) for an AuditEvent as the audit trail writes it and for an Observation.
//
//	go test -run '^$' -bench Extract ./fhir/search/
func BenchmarkExtract(b *testing.B) {
	audit, err := os.ReadFile("../../gateway/testdata/audit/read.json")
	if err != nil {
		b.Fatal(err)
	}
	var events []map[string]any
	if err := json.Unmarshal(audit, &events); err != nil {
		b.Fatal(err)
	}
	events[0]["recorded"] = "2026-11-29T10:00:00.000Z"
	var obs map[string]any
	if err := json.Unmarshal([]byte(`{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"},"effectiveDateTime":"2024-03-01T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`), &obs); err != nil {
		b.Fatal(err)
	}
	x := fhirsearch.NewIndexer("http://localhost/fhir")
	for _, c := range []struct {
		name string
		typ  string
		res  map[string]any
	}{{"AuditEvent", "AuditEvent", events[0]}, {"Observation", "Observation", obs}} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				es, err := x.Entries(c.typ, c.res)
				if err != nil {
					b.Fatal(err)
				}
				n = len(es)
			}
			b.ReportMetric(float64(n), "entries")
		})
	}
}
