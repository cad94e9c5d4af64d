package search_test

import (
	"context"
	"net/url"
	"sort"
	"testing"
	"time"

	"fhirgate/fhir/rest"
	"fhirgate/internal/benchdata"
	"fhirgate/population"
)

// The search benchmarks run on a generated population of 1,100 patients (about 200,000 resources),
// loaded once and kept in the temporary directory. Each reports p50 and p99 latencies besides ns/op.
//
//	go test -run '^$' -bench Search -benchtime 2000x ./fhir/search/

const benchPatients = 1100

func benchSearch(b *testing.B, build func(i int) *rest.Request) {
	_, svc, _ := benchdata.Population(b, benchPatients)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := build(i)
		start := time.Now()
		if _, err := svc.Do(ctx, rest.AllowAll{}, req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func search(typ, query string) *rest.Request {
	q, _ := url.ParseQuery(query)
	return &rest.Request{Interaction: rest.SearchType, Type: typ, Params: q}
}

func patient(i int) string { return population.PatientID(i % benchPatients) }

var _ = population.PatientID

func BenchmarkSearchObservationPatientCode(b *testing.B) {
	benchSearch(b, func(i int) *rest.Request {
		return search("Observation", "patient="+patient(i*7)+"&code=http://loinc.org|8867-4")
	})
}

func BenchmarkSearchObservationSubjectDate(b *testing.B) {
	benchSearch(b, func(i int) *rest.Request {
		return search("Observation", "subject=Patient/"+patient(i*7)+"&date=ge2020-01-01")
	})
}

func BenchmarkSearchPatientName(b *testing.B) {
	benchSearch(b, func(i int) *rest.Request { return search("Patient", "name=smi") })
}

func BenchmarkSearchEncounterRevinclude(b *testing.B) {
	benchSearch(b, func(i int) *rest.Request {
		return search("Encounter", "patient="+patient(i*7)+"&_revinclude=Observation:encounter")
	})
}

func BenchmarkSearchEverything(b *testing.B) {
	benchSearch(b, func(i int) *rest.Request {
		return &rest.Request{Interaction: rest.Operation, Operation: "everything", Type: "Patient", ID: patient(i * 7), Params: url.Values{}}
	})
}

// BenchmarkSearchObservationPatientCodeWarm repeats the query over 20 patients, whose data stays in the
// store's cache: the latency of a clinician working on a patient's record.
func BenchmarkSearchObservationPatientCodeWarm(b *testing.B) {
	benchSearch(b, func(i int) *rest.Request {
		return search("Observation", "patient="+patient(i%20)+"&code=http://loinc.org|8867-4")
	})
}
