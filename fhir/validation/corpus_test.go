package validation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"fhirgate/internal/sharedtest"
)

// sample is one resource of the shared test data.
type sample struct {
	name string // the example's file name, or "synthea/<bundle file>#<entry index>"
	body []byte
}

var (
	corpusOnce sync.Once
	examples   []sample
	synthea    []sample
	corpusErr  error
)

// loadCorpus reads the 740 official R4 examples and every resource of the Synthea bundles, once.
func loadCorpus(tb testing.TB) ([]sample, []sample) {
	tb.Helper()
	dir := sharedtest.Dir(tb)
	corpusOnce.Do(func() {
		files, err := filepath.Glob(filepath.Join(dir, "examples", "*.json"))
		if err != nil {
			corpusErr = err
			return
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				corpusErr = err
				return
			}
			examples = append(examples, sample{filepath.Base(f), b})
		}
		bundles, _ := filepath.Glob(filepath.Join(dir, "synthea", "*.json"))
		sort.Strings(bundles)
		for _, f := range bundles {
			b, err := os.ReadFile(f)
			if err != nil {
				corpusErr = err
				return
			}
			var bu struct {
				Entry []struct {
					Resource json.RawMessage `json:"resource"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(b, &bu); err != nil {
				corpusErr = err
				return
			}
			for i, e := range bu.Entry {
				synthea = append(synthea, sample{filepath.Base(f) + "#" + itoa(i), e.Resource})
			}
		}
	})
	if corpusErr != nil {
		tb.Fatal(corpusErr)
	}
	if len(examples) == 0 || len(synthea) == 0 {
		tb.Fatalf("no examples (%d) or Synthea resources (%d) in %s", len(examples), len(synthea), dir)
	}
	return examples, synthea
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
