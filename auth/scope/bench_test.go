package scope

import "testing"

const typical = "launch/patient openid fhirUser offline_access patient/*.rs " +
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		set := Parse(typical)
		if len(set.Resource) != 2 || len(set.Other) != 4 {
			b.Fatalf("unexpected %+v", set)
		}
	}
}

func BenchmarkAllowed(b *testing.B) {
	set := Parse(typical + " patient/Condition.rs?category=encounter-diagnosis patient/Condition.rs?category=health-concern" +
		" user/Practitioner.r patient/MedicationRequest.rs patient/Encounter.read")
	b.ReportAllocs()
	for b.Loop() {
		if len(set.Allowed("Condition", Search, Patient)) != 3 {
			b.Fatal("not allowed")
		}
		if set.Allowed("Condition", Create, Patient) != nil {
			b.Fatal("allowed")
		}
	}
}
