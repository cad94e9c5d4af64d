package narrative

import (
	"encoding/json"
	"os"
	"testing"

	"fhirgate/internal/sharedtest"
)

// BenchmarkCheck checks the narrative of the official Patient example, a typical generated narrative.
func BenchmarkCheck(b *testing.B) {
	raw, err := os.ReadFile(sharedtest.Path(b, "examples", "Patient-example.json"))
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		Text struct{ Div string }
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		b.Fatal(err)
	}
	if p := Check(r.Text.Div); len(p) > 0 {
		b.Fatalf("the example is refused: %v", p)
	}
	b.SetBytes(int64(len(r.Text.Div)))
	b.ReportAllocs()
	for b.Loop() {
		Check(r.Text.Div)
	}
}
