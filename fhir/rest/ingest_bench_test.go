package rest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/internal/sharedtest"
)

// BenchmarkSyntheaIngest commits the first eight Synthea patient bundles of the shared data as transactions
// (about 2,500 resources of every kind Synthea writes), each into a fresh store; one op is the eight
// bundles. It reports resources/s, validation, indexing and the commit included.
func BenchmarkSyntheaIngest(b *testing.B) {
	dir := sharedtest.Path(b, "synthea")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		b.Fatal(err)
	}
	sort.Strings(files)
	var bundles [][]byte
	entries := 0
	for _, f := range files {
		if len(bundles) == 8 {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(body) > 4<<20 { // the few very long histories would dominate
			continue
		}
		var bundle struct {
			Entry []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(body, &bundle); err != nil {
			b.Fatal(err)
		}
		entries += len(bundle.Entry)
		bundles = append(bundles, body)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		svc, ctx := benchService(b, "embedded")
		b.StartTimer()
		for _, body := range bundles {
			if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: body, Return: rest.ReturnMinimal}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*entries)/b.Elapsed().Seconds(), "resources/s")
}
