package rest_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// BenchmarkExportParams measures a Patient-level export of 200 patients with 10 Observations each (2,200
// resources, every one through the guard, files on disk), and what _typeFilter and _elements add to it;
// it reports the resources read per second.
func BenchmarkExportParams(b *testing.B) {
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
	for _, bc := range []struct {
		name   string
		params url.Values
	}{
		{"none", nil},
		{"typeFilter", url.Values{"_typeFilter": {"Observation?code=http://loinc.org|29463-7&status=final"}}},
		{"elements", url.Values{"_elements": {"Observation.value,Patient.gender"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := env.Service.Do(context.Background(), rest.AllowAll{}, kickoff("Patient", "", "bench", bc.params))
				if err != nil || resp.Status != 202 {
					b.Fatalf("%v %v", resp, err)
				}
				e.Wait()
			}
			b.ReportMetric(float64(2200*b.N)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
