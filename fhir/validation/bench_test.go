package validation

import (
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// benchObservation is the Observation of the service's benchmarks (fhir/rest/bench_test.go).
const benchObservation = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-01T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

// validators are the two validators side by side: this package's, and google/fhir's jsonformat unmarshal
// (what writes used before, kept as the test oracle).
func validators(b *testing.B) []struct {
	name     string
	validate func([]byte) error
} {
	v, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		b.Fatal(err)
	}
	u.MaxNestingDepth = defaultMaxDepth
	structure, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	structure.stages = nil
	return []struct {
		name     string
		validate func([]byte) error
	}{
		{"validation", v.Validate},
		{"structure-only", structure.Validate}, // without the narrative and the invariants
		{"jsonformat", func(body []byte) error { _, err := u.Unmarshal(body); return err }},
	}
}

// BenchmarkValidateObservation validates a small Observation.
//
//	go test -run '^$' -bench Validat -benchmem ./fhir/validation/
func BenchmarkValidateObservation(b *testing.B) {
	body := []byte(benchObservation)
	for _, v := range validators(b) {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := v.validate(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateSynthea validates every resource of the Synthea bundles once per op and reports the
// time per resource.
func BenchmarkValidateSynthea(b *testing.B) {
	_, sy := loadCorpus(b)
	total := 0
	for _, s := range sy {
		total += len(s.body)
	}
	for _, v := range validators(b) {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(total))
			for b.Loop() {
				for _, s := range sy {
					_ = v.validate(s.body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(sy)), "ns/resource")
		})
	}
}
