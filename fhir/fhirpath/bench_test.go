package fhirpath

import "testing"

func BenchmarkEvaluate(b *testing.B) {
	obs := loadExample(b, "Observation-example.json")
	pat := loadExample(b, "Patient-example.json")
	benches := []struct {
		name string
		expr string
		doc  map[string]any
		want int
	}{
		{"subject-where-resolve-is-Patient", "Observation.subject.where(resolve() is Patient)", obs, 1},
		{"Patient.name", "Patient.name", pat, 3},
	}
	for _, bc := range benches {
		e := MustCompile(bc.expr)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.Evaluate(bc.doc)
				if err != nil || len(res) != bc.want {
					b.Fatalf("got %d results, %v", len(res), err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("(Observation.value as Quantity) | (Observation.component.value as Quantity).where(code = 'x')"); err != nil {
			b.Fatal(err)
		}
	}
}
