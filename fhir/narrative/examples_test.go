package narrative

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"fhirgate/internal/sharedtest"
)

// narratives returns the div of every Narrative in the JSON value v (resource text, contained resources,
// Bundle entries): every object with a string div and a status.
func narratives(v any, out []string) []string {
	switch x := v.(type) {
	case map[string]any:
		if d, ok := x["div"].(string); ok {
			if _, ok := x["status"]; ok {
				out = append(out, d)
			}
		}
		for _, c := range x {
			out = narratives(c, out)
		}
	case []any:
		for _, c := range x {
			out = narratives(c, out)
		}
	}
	return out
}

// sharedNarratives reads every narrative of the JSON files of a folder of the shared data.
func sharedNarratives(tb testing.TB, dir string) map[string][]string {
	tb.Helper()
	files, err := filepath.Glob(sharedtest.Path(tb, dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	found := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			tb.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if divs := narratives(v, nil); len(divs) > 0 {
			found[filepath.Base(f)] = divs
		}
	}
	return found
}

// refusedExamples are the files of the shared data whose narrative Check refuses, each with the reason:
// each breaks R4 itself, and only txt-2 (every problem of theirs must have that key).
var refusedExamples = map[string]string{
	"ActivityDefinition-blood-tubes-supply.json":        "the div holds only white space (txt-2)",
	"ActivityDefinition-heart-valve-replacement.json":   "the div holds only white space (txt-2)",
	"EventDefinition-example.json":                      "the div holds only white space (txt-2)",
	"Questionnaire-zika-virus-exposure-assessment.json": "the div holds only an empty pre (txt-2)",
}

// TestOfficialNarrativesAccepted checks every narrative of the official R4 examples and of the Synthea
// bundles: each must be accepted, except those of refusedExamples.
func TestOfficialNarrativesAccepted(t *testing.T) {
	t.Parallel()
	for _, set := range []struct {
		dir string
		// min is fewer narratives than the folder holds, so that a reader that finds none fails.
		min int
	}{{"examples", 600}, {"synthea", 150}} {
		found := sharedNarratives(t, set.dir)
		n, refused := 0, 0
		for file, divs := range found {
			for _, div := range divs {
				n++
				problems := Check(div)
				_, known := refusedExamples[file]
				switch {
				case len(problems) > 0 && !known:
					t.Errorf("%s/%s: narrative refused: %v", set.dir, file, problems)
				case len(problems) == 0 && known:
					t.Errorf("%s/%s: listed in refusedExamples but accepted: remove it", set.dir, file)
				case known:
					refused++
					for _, p := range problems {
						if p.Key != KeyTxt2 {
							t.Errorf("%s/%s: listed in refusedExamples for txt-2 but refused for %v", set.dir, file, p)
						}
					}
				}
			}
		}
		if n < set.min {
			t.Errorf("%s: found %d narratives, want at least %d", set.dir, n, set.min)
		}
		t.Logf("%s: %d narratives in %d files checked, %d accepted, %d refused as listed", set.dir, n, len(found), n-refused, refused)
	}
}
