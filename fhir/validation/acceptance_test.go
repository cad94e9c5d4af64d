package validation

import (
	"sort"
	"testing"

	"fhirgate/fhir"
)

// knownInvalid are the official R4 examples that break R4, with the element the refusal names and why.
// They are errata of the specification (google/fhir's own tests list the first five; jsonformat does not
// check the narrative).
var knownInvalid = map[string]struct{ expr, why string }{
	"DeviceMetric-example.json":        {"DeviceMetric.parent", "parent refers to a DeviceDefinition; R4 allows a Device only"},
	"DeviceUseStatement-example.json":  {"DeviceUseStatement.reasonReference[0]", "reasonReference refers to a Procedure, not among Condition, Observation, DiagnosticReport, DocumentReference, Media"},
	"MedicationRequest-medrx0301.json": {"MedicationRequest.dispenseRequest.performer", "performer refers to a Practitioner; R4 allows an Organization only"},
	"Observation-clinical-gender.json": {"Observation.performer[0]", "performer refers to an Encounter, not among the allowed performers"},
	"Questionnaire-qs1.json":           {"Questionnaire.item[0].item[0].linkId", "nested items have no linkId, which is required (1..1)"},
	// txt-2: "The narrative SHALL have some non-whitespace content".
	"ActivityDefinition-blood-tubes-supply.json":        {"ActivityDefinition.text.div", "the narrative's div holds only white space (txt-2)"},
	"ActivityDefinition-heart-valve-replacement.json":   {"ActivityDefinition.text.div", "the narrative's div holds only white space (txt-2)"},
	"EventDefinition-example.json":                      {"EventDefinition.text.div", "the narrative's div holds only white space (txt-2)"},
	"Questionnaire-zika-virus-exposure-assessment.json": {"Questionnaire.text.div", "the narrative's div holds only an empty <pre> (txt-2)"},
}

// TestOfficialExamplesAndSynthea: every official R4 example and every resource of the Synthea bundles is
// accepted, except the known-invalid examples, which are refused naming the offending element.
func TestOfficialExamplesAndSynthea(t *testing.T) {
	ex, sy := loadCorpus(t)
	v := newValidator(t)
	accepted, refused := map[string]int{}, 0
	for _, set := range []struct {
		name    string
		samples []sample
	}{{"examples", ex}, {"synthea", sy}} {
		for _, s := range set.samples {
			err := v.Validate(s.body)
			want, bad := knownInvalid[s.name]
			switch {
			case bad && err == nil:
				t.Errorf("%s: accepted, but %s", s.name, want.why)
			case bad:
				if fe := fhir.AsError(err); fe.Kind != fhir.KindInvalid || fe.Expression != want.expr {
					t.Errorf("%s: refused at %q (%v), want %q", s.name, fe.Expression, err, want.expr)
				}
				refused++
			case err != nil:
				t.Errorf("%s: refused: %v", s.name, err)
			default:
				accepted[set.name]++
			}
		}
	}
	names := make([]string, 0, len(knownInvalid))
	for n := range knownInvalid {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("examples: %d of %d accepted, %d known-invalid refused (%v); Synthea: %d of %d accepted",
		accepted["examples"], len(ex), refused, names, accepted["synthea"], len(sy))
	if refused != len(knownInvalid) {
		t.Errorf("%d known-invalid examples refused, want %d", refused, len(knownInvalid))
	}
}

// TestCheckAgreesWithValidate: on the whole corpus, Check's errors are exactly Validate's issues.
func TestCheckAgreesWithValidate(t *testing.T) {
	ex, sy := loadCorpus(t)
	v := newValidator(t)
	warnings := 0
	for _, s := range append(append([]sample{}, ex...), sy...) {
		issues := v.Check(s.body)
		errs := errorIssues(issues)
		warnings += len(issues) - len(errs)
		err := v.Validate(s.body)
		if (err == nil) != (len(errs) == 0) {
			t.Fatalf("%s: Validate %v, Check errors %v", s.name, err, errs)
		}
		if err != nil && len(fhir.AsError(err).Issues()) != len(errs) {
			t.Fatalf("%s: Validate %d issues, Check %d errors", s.name, len(fhir.AsError(err).Issues()), len(errs))
		}
	}
	t.Logf("%d warnings over %d resources (codes outside extensible and preferred bindings)", warnings, len(ex)+len(sy))
}
