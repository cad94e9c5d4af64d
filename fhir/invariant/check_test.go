package invariant

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"fhirgate/fhir"
)

// decode decodes a resource the way package fhirpath expects.
func decode(tb testing.TB, src string) map[string]any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(src))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return m
}

func decodeBytes(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

func errorsOf(issues []fhir.Issue) []fhir.Issue {
	var out []fhir.Issue
	for _, is := range issues {
		if is.Severity == "error" {
			out = append(out, is)
		}
	}
	return out
}

func TestCheckRefusesAndAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, bad, good string
		key, expression string
	}{
		{
			name: "obs-6 value and dataAbsentReason",
			bad: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a",
				"dataAbsentReason":{"text":"unknown"}}`,
			good:       `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a"}`,
			key:        "obs-6",
			expression: "Observation",
		},
		{
			name:       "ext-1 extension with a url and no value",
			bad:        `{"resourceType":"Patient","extension":[{"url":"http://example.org/a"}]}`,
			good:       `{"resourceType":"Patient","extension":[{"url":"http://example.org/a","valueString":"x"}]}`,
			key:        "ext-1",
			expression: "Patient.extension[0]",
		},
		{
			name: "obs-3 reference range with only a type",
			bad: `{"resourceType":"Observation","status":"final","code":{"text":"x"},
				"referenceRange":[{"type":{"text":"normal"}}]}`,
			good: `{"resourceType":"Observation","status":"final","code":{"text":"x"},
				"referenceRange":[{"type":{"text":"normal"},"text":"under 5"}]}`,
			key:        "obs-3",
			expression: "Observation.referenceRange[0]",
		},
		{
			name:       "pat-1 empty contact",
			bad:        `{"resourceType":"Patient","contact":[{}]}`,
			good:       `{"resourceType":"Patient","contact":[{"name":{"family":"Doe"}}]}`,
			key:        "pat-1",
			expression: "Patient.contact[0]",
		},
		{
			name: "per-1 on a Period inside a data type of a contained resource",
			bad: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p",
				"name":[{"period":{"start":"2020-02-01","end":"2020-01-01"}}]}],"subject":{"reference":"#p"}}`,
			good: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p",
				"name":[{"period":{"start":"2020-01-01","end":"2020-02-01"}}]}],"subject":{"reference":"#p"}}`,
			key:        "per-1",
			expression: "Observation.contained[0].name[0].period",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := errorsOf(Check(decode(t, tc.bad)))
			if len(errs) != 1 {
				t.Fatalf("bad: got %d errors, want 1: %+v", len(errs), errs)
			}
			is := errs[0]
			if is.Code != "invariant" || is.Expression != tc.expression || !strings.Contains(is.Details, tc.key+" (") {
				t.Errorf("bad: got %+v, want key %s at %s", is, tc.key, tc.expression)
			}
			if !strings.HasPrefix(is.Details, tc.expression+": ") {
				t.Errorf("details %q do not name the element %s", is.Details, tc.expression)
			}
			if issues := errorsOf(Check(decode(t, tc.good))); len(issues) != 0 {
				t.Errorf("good: got %+v, want none", issues)
			}
		})
	}
}

func TestObs7(t *testing.T) {
	t.Parallel()
	bad := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
		"valueString":"x","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"valueString":"y"}]}`
	good := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
		"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueString":"y"}],"valueString":"x"}`
	errs := errorsOf(Check(decode(t, bad)))
	if len(errs) != 1 || !strings.Contains(errs[0].Details, "obs-7 (") || errs[0].Expression != "Observation" {
		t.Errorf("bad: got %+v, want obs-7 at Observation", errs)
	}
	if errs := errorsOf(Check(decode(t, good))); len(errs) != 0 {
		t.Errorf("good: got %+v", errs)
	}
}
