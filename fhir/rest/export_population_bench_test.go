package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/auth/scope"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/gateway"
	"fhirgate/population"
)

// BenchmarkExportPopulation exports the whole bench population (population package, about 180
// resources a patient, each patient's Consents included) from the embedded engine on a temporary folder,
// wired as the server ships (gateway.Assemble): every patient through the decision point with consent on,
// one AuditEvent per exported patient durably stored before their data is written. One op is one
// Patient-level export of everything a system/*.rs client with purpose TREAT may see. It reports
// resources/s and the peak of the Go heap in use during the exports (HeapInuse, sampled every 20 ms),
// to be compared across the sizes: the memory should not grow with the population.
//
//	go test -run '^$' -bench 'ExportPopulation/resources=20k' -benchtime 3x ./fhir/rest/
//	go test -run '^$' -bench 'ExportPopulation/resources=200k' -benchtime 1x -timeout 30m ./fhir/rest/
func BenchmarkExportPopulation(b *testing.B) {
	for _, size := range []struct {
		name     string
		patients int
	}{{"20k", 117}, {"200k", 1170}} {
		b.Run("resources="+size.name, func(b *testing.B) { benchExportPopulation(b, size.patients) })
	}
}

// noPolicy serves no HTTP request: the benchmark calls the service directly.
type noPolicy struct{}

func (noPolicy) GuardFor(*http.Request) (gateway.Guard, error) {
	return nil, errors.New("no HTTP in this benchmark")
}

func benchExportPopulation(b *testing.B, patients int) {
	st, err := embedded.Open(embedded.Config{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	const base = "http://localhost:8080/fhir"
	app, err := gateway.Assemble(gateway.Assembly{Store: st, Gateway: gateway.Config{BaseURL: base}, Policy: noPolicy{},
		ConsentDefault: consent.Permit, Export: &rest.ExportConfig{Dir: b.TempDir(), MaxJobs: 1},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = app.Close(context.Background()) })
	ctx := context.Background()
	cfg := population.Config{Patients: patients}
	loaded := 0
	load := func(bundle []byte) {
		resp, err := app.Service.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: bundle, Return: rest.ReturnMinimal})
		if err != nil {
			b.Fatal(err)
		}
		loaded += len(resp.Entries)
	}
	load(population.Shared(cfg))
	for i := range patients {
		load(population.Patient(cfg, i))
	}
	guard := app.Access.Guard(&auth.Principal{ClientID: "bench-export", Issuer: "bench", Subject: "bench",
		Scopes: scope.Parse("system/*.rs"), PurposeOfUse: []string{"TREAT"}})

	runtime.GC()
	var peak uint64
	stop, sampled := make(chan struct{}), sync.WaitGroup{}
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	exported := 0
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		resp, err := app.Service.Do(ctx, guard, &rest.Request{Interaction: rest.Operation, Operation: "export",
			Type: "Patient", RespondAsync: true, Caller: "bench-export", Ledger: rest.NewLedger()})
		if err != nil || resp.Status != 202 {
			b.Fatalf("kick-off: %v %v", resp, err)
		}
		app.Exports.Wait()
		n := manifestTotal(b, app.Service, guard, resp.ContentLocation[len(base)+len("/$export-poll/"):])
		exported += n
		b.Logf("export: %d resources in %v", n, time.Since(began).Round(time.Millisecond))
	}
	b.StopTimer()
	close(stop)
	sampled.Wait()
	b.ReportMetric(float64(exported)/b.Elapsed().Seconds(), "resources/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(loaded), "resources-stored")
	b.Logf("%d patients, %d resources stored, %s exported per op", patients, loaded, strconv.Itoa(exported/max(b.N, 1)))
}

// manifestTotal returns the resources a completed export's manifest counts.
func manifestTotal(b *testing.B, svc *rest.Service, g rest.Guard, job string) int {
	resp, err := svc.Do(context.Background(), g, &rest.Request{Interaction: rest.Operation, Operation: "export-poll", ID: job, Caller: "bench-export"})
	if err != nil || resp.Status != 200 {
		b.Fatalf("status: %v %v", resp, err)
	}
	var m struct {
		Output []struct{ Count int } `json:"output"`
	}
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, o := range m.Output {
		n += o.Count
	}
	return n
}
