package rest_test

import (
	"context"
	"fmt"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// BenchmarkExport measures a Patient-level export of 200 patients with 10 Observations each (2,200
// resources), every resource through the guard, files on disk; it reports resources per second.
func BenchmarkExport(b *testing.B) {
	env := resttest.New(b)
	for p := range 200 {
		id := fmt.Sprintf("p%d", p)
		env.Put(b, patient(id, "Family", "female"))
		for o := range 10 {
			env.Put(b, observation(fmt.Sprintf("%s-o%d", id, o), "Patient/"+id))
		}
	}
	e, err := rest.NewExports(env.Service, rest.ExportConfig{Dir: b.TempDir(), MaxJobs: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	b.ResetTimer()
	for b.Loop() {
		resp, err := env.Service.Do(context.Background(), rest.AllowAll{}, kickoff("Patient", "", "bench", nil))
		if err != nil || resp.Status != 202 {
			b.Fatalf("%v %v", resp, err)
		}
		e.Wait()
	}
	b.ReportMetric(float64(2200*b.N)/b.Elapsed().Seconds(), "resources/s")
}
