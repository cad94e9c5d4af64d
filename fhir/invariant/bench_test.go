package invariant

import (
	"strings"
	"testing"
)

// BenchmarkCheckObservation checks a small Observation (ns/op is ns per resource).
func BenchmarkCheckObservation(b *testing.B) {
	r := decode(b, `{"resourceType":"Observation","id":"1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/1"},
		"effectiveDateTime":"2020-01-01T10:00:00Z","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},
		"referenceRange":[{"low":{"value":60,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"high":{"value":100,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}]}`)
	Check(r)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Check(r)
	}
}

// BenchmarkCheckSynthea checks the resources of the Synthea bundles one after the other (ns/op is the
// average per resource).
func BenchmarkCheckSynthea(b *testing.B) {
	var rs []map[string]any
	for _, s := range corpus(b) {
		if strings.HasPrefix(s.name, "synthea/") && strings.Contains(s.name, "#") {
			rs = append(rs, s.resource)
		}
	}
	if len(rs) == 0 {
		b.Skip("no Synthea resources")
	}
	Check(rs[0])
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		Check(rs[i%len(rs)])
	}
}
