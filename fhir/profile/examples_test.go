package profile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir/profile"
	"fhirgate/internal/sharedtest"
)

// specific are the official vital-sign examples with the specific profile each is an instance of (they
// declare only vitalsigns): checked against it as well.
var specific = map[string]string{
	"Observation-blood-pressure.json":     "bp",
	"Observation-blood-pressure-dar.json": "bp",
	"Observation-bmi.json":                "bmi",
	"Observation-body-height.json":        "bodyheight",
	"Observation-body-temperature.json":   "bodytemp",
	"Observation-head-circumference.json": "headcircum",
	"Observation-heart-rate.json":         "heartrate",
	"Observation-respiratory-rate.json":   "resprate",
	"Observation-satO2.json":              "oxygensat",
	"Observation-vitals-panel.json":       "vitalspanel",
}

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
		if id, ok := specific[filepath.Base(f)]; ok {
			p, found := set.Lookup("http://hl7.org/fhir/StructureDefinition/" + id)
			if !found {
				t.Fatalf("no core profile %s", id)
			}
			known = append(known, p)
		}
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

// TestOfficialExampleAgainstAnotherProfile: an official example checked against a profile it is not an
// instance of fails it, naming what differs (the passes above are not the validator seeing nothing).
func TestOfficialExampleAgainstAnotherProfile(t *testing.T) {
	b, err := os.ReadFile(sharedtest.Path(t, "examples", "Observation-heart-rate.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := profile.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ profile, want string }{
		{bodyWeight, "Observation.code.coding: slice BodyWeightCode: minimum 1, found 0 (profile bodyweight)"},
		{bloodPress, "Observation.component: slice SystolicBP: minimum 1, found 0 (profile bp)"},
	} {
		p, _ := profile.Core().Lookup(tc.profile)
		var errs []string
		for _, is := range p.Validate(res) {
			if is.Severity == "error" {
				errs = append(errs, is.Details)
			}
		}
		if !slices.Contains(errs, tc.want) {
			t.Errorf("heart rate against %s: errors %q, want %q among them", tc.profile, errs, tc.want)
		}
	}
}
