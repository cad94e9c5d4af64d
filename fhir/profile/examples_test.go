package profile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fhirgate/fhir/profile"
	"fhirgate/internal/sharedtest"
)

// exampleFailures are the official examples that do not conform to a core profile they declare, each
// with the reason (the examples were published with these defects).
var exampleFailures = map[string]string{}

// TestOfficialExamples: every official R4 example whose meta.profile names a core profile conforms to it
// (no error), except those listed in exampleFailures, which must still fail (so the list stays true).
func TestOfficialExamples(t *testing.T) {
	dir := sharedtest.Path(t, "examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s", dir)
	}
	set := profile.Core()
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := profile.Decode(b)
		if err != nil {
			continue
		}
		known, _ := set.Declared(res)
		for _, p := range known {
			checked++
			name := filepath.Base(f) + " " + p.Label()
			var errs []string
			for _, is := range p.Validate(res) {
				if is.Severity == "error" {
					errs = append(errs, is.Expression+": "+is.Details)
				}
			}
			reason, listed := exampleFailures[name]
			switch {
			case listed && len(errs) == 0:
				t.Errorf("%s is listed as failing (%s) but conforms", name, reason)
			case !listed && len(errs) > 0:
				t.Errorf("%s does not conform:\n  %s", name, strings.Join(errs, "\n  "))
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d example-profile pairs checked", checked)
	}
	t.Logf("%d example-profile pairs checked", checked)
}
