package rest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/redis"
	"fhirgate/fhir/validation"
	"fhirgate/internal/sharedtest"
)

// The benchmarks run the service (no HTTP) on each engine, side by side:
//
//	go test -run '^$' -bench . -benchtime 3s ./fhir/rest/
//
// embedded: Pebble in a temporary directory, every commit fsynced. redis: a redis-server started for the
// benchmark with its append-only file synced on every write (appendfsync always), the only settings the
// engine accepts without --redis-accept-data-loss.
var engines = []string{"embedded", "redis"}

func benchService(b *testing.B, engine string) (*rest.Service, context.Context) {
	b.Helper()
	var st store.Store
	var err error
	switch engine {
	case "embedded":
		st, err = embedded.Open(embedded.Config{Dir: b.TempDir()})
	case "redis":
		srv := sharedtest.StartRedis(b, b.TempDir(), 0, "--appendonly", "yes", "--appendfsync", "always")
		st, err = redis.Open(context.Background(), redis.Config{URL: srv.URL(), Logger: slog.New(slog.DiscardHandler)})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	v, err := validation.New(validation.Config{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost:8080/fhir"}, st, v)
	if err != nil {
		b.Fatal(err)
	}
	return svc, context.Background()
}

const benchObservation = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-01T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

// BenchmarkReadByID reads one resource by id through the service, from 2 x 16 goroutines.
func BenchmarkReadByID(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			svc, ctx := benchService(b, engine)
			resp, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Create, Type: "Observation", Body: []byte(benchObservation)})
			if err != nil {
				b.Fatal(err)
			}
			id := strings.Split(strings.TrimPrefix(resp.Location, "http://localhost:8080/fhir/Observation/"), "/")[0]
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Read, Type: "Observation", ID: id}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}

// BenchmarkCreate creates validated, durable Observations from 32 concurrent clients.
func BenchmarkCreate(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			svc, ctx := benchService(b, engine)
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Create, Type: "Observation", Body: []byte(benchObservation), Return: rest.ReturnMinimal}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

// transaction100 is a transaction of a Patient and 99 Observations that reference it by urn:uuid.
func transaction100() []byte {
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:6b7e1b7e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Bench"}]},"request":{"method":"POST","url":"Patient"}}`)
	obs := strings.Replace(benchObservation, `"Patient/p1"`, `"urn:uuid:6b7e1b7e-0000-4000-8000-000000000001"`, 1)
	for i := 0; i < 99; i++ {
		fmt.Fprintf(&sb, `,{"resource":%s,"request":{"method":"POST","url":"Observation"}}`, obs)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// BenchmarkTransaction100 commits transactions of 100 entries; one op is one whole transaction.
func BenchmarkTransaction100(b *testing.B) {
	body := transaction100()
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			svc, ctx := benchService(b, engine)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: body, Return: rest.ReturnMinimal}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}

// BenchmarkSearch searches the Observations of one of 20 patients by code (50 per patient, 1,000 in
// all, a page of 20 with the total), from 2 x 8 goroutines.
func BenchmarkSearch(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			svc, ctx := benchService(b, engine)
			for p := range 20 {
				var sb strings.Builder
				sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
				for i := range 50 {
					if i > 0 {
						sb.WriteString(",")
					}
					code := []string{"8867-4", "8480-6", "29463-7"}[i%3]
					obs := strings.Replace(strings.Replace(benchObservation, `"Patient/p1"`, fmt.Sprintf(`"Patient/p%d"`, p), 1), `"8867-4"`, `"`+code+`"`, 1)
					fmt.Fprintf(&sb, `{"resource":%s,"request":{"method":"POST","url":"Observation"}}`, obs)
				}
				sb.WriteString(`]}`)
				if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: []byte(sb.String()), Return: rest.ReturnMinimal}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					q := url.Values{"patient": {fmt.Sprintf("p%d", i%20)}, "code": {"http://loinc.org|8867-4"}, "_count": {"20"}, "_total": {"accurate"}}
					resp, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.SearchType, Type: "Observation", Params: q})
					if err != nil {
						b.Fatal(err)
					}
					if !strings.Contains(string(resp.Body), `"total":17`) {
						b.Fatalf("unexpected result: %.300s", resp.Body)
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "searches/s")
		})
	}
}
