package rest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
)

func benchService(b *testing.B) (*rest.Service, context.Context) {
	b.Helper()
	st, err := embedded.Open(embedded.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	v, err := fhir.NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost:8080/fhir"}, st, v)
	if err != nil {
		b.Fatal(err)
	}
	return svc, rest.WithGuard(context.Background(), rest.AllowAll{})
}

const benchObservation = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-01T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

// BenchmarkReadByID reads one resource by id through the service (no HTTP), from 2 x 16 goroutines.
func BenchmarkReadByID(b *testing.B) {
	svc, ctx := benchService(b)
	resp, err := svc.Do(ctx, &rest.Request{Interaction: rest.Create, Type: "Observation", Body: []byte(benchObservation)})
	if err != nil {
		b.Fatal(err)
	}
	id := strings.Split(strings.TrimPrefix(resp.Location, "http://localhost:8080/fhir/Observation/"), "/")[0]
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Do(ctx, &rest.Request{Interaction: rest.Read, Type: "Observation", ID: id}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCreate creates validated, fsynced Observations from 32 concurrent clients.
func BenchmarkCreate(b *testing.B) {
	svc, ctx := benchService(b)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Do(ctx, &rest.Request{Interaction: rest.Create, Type: "Observation", Body: []byte(benchObservation), Return: rest.ReturnMinimal}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTransaction100 commits transactions of 100 entries (a Patient and 99 Observations that
// reference it by urn:uuid); one op is one whole transaction. resources/s is reported.
func BenchmarkTransaction100(b *testing.B) {
	svc, ctx := benchService(b)
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:6b7e1b7e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Bench"}]},"request":{"method":"POST","url":"Patient"}}`)
	obs := strings.Replace(benchObservation, `"Patient/p1"`, `"urn:uuid:6b7e1b7e-0000-4000-8000-000000000001"`, 1)
	for i := 0; i < 99; i++ {
		fmt.Fprintf(&sb, `,{"resource":%s,"request":{"method":"POST","url":"Observation"}}`, obs)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Do(ctx, &rest.Request{Interaction: rest.Transaction, Body: body, Return: rest.ReturnMinimal}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "resources/s")
}
