package narrative

import (
	"encoding/json"
	"os"
	"testing"

	"fhirgate/internal/sharedtest"
)

// BenchmarkCheck checks the narrative of two official examples: Patient-example, a typical generated
// narrative (505 bytes; the examples' median is about 750), and CapabilityStatement-base, the largest
// (141 KiB), for the cost per byte.
func BenchmarkCheck(b *testing.B) {
	for _, name := range []string{"Patient-example", "CapabilityStatement-base"} {
		raw, err := os.ReadFile(sharedtest.Path(b, "examples", name+".json"))
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
			b.Fatalf("%s: the narrative is refused: %v", name, p)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(r.Text.Div)))
			b.ReportAllocs()
			for b.Loop() {
				Check(r.Text.Div)
			}
		})
	}
}
