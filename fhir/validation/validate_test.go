package validation

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"fhirgate/fhir"
)

func newValidator(tb testing.TB) *Validator {
	tb.Helper()
	v, err := New(Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestRefusals: what R4 forbids is refused with a 400 naming the element and the rule.
func TestRefusals(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct {
		name, in   string
		code, expr string
		details    string // a part of the text
	}{
		{"empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, "value", "Patient.name[0].family", "SHALL NOT be empty"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "structure", "Patient.name", "array SHALL NOT be empty"},
		{"empty object in an array", `{"resourceType":"Patient","contact":[{}]}`, "invariant", "Patient.contact[0]", "ele-1"},
		{"empty complex value", `{"resourceType":"Observation","status":"final","code":{}}`, "invariant", "Observation.code", "ele-1"},
		{"code outside a required binding", `{"resourceType":"Patient","gender":"mail"}`, "code-invalid", "Patient.gender", "required binding"},
		{"coding outside a required binding", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"comparator":"=<"}}`, "code-invalid", "Observation.value.ofType(Quantity).comparator", "quantity-comparator"},
		{"concept outside a required binding", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"gone"}]}}`, "code-invalid", "AllergyIntolerance.clinicalStatus", "no coding"},
		{"bad month", `{"resourceType":"Patient","birthDate":"1990-13-01"}`, "value", "Patient.birthDate", "date"},
		{"no 30 February", `{"resourceType":"Patient","birthDate":"2020-02-30"}`, "value", "Patient.birthDate", "calendar"},
		{"dateTime without zone", `{"resourceType":"Patient","deceasedDateTime":"2020-02-03T10:00:00"}`, "value", "Patient.deceased.ofType(dateTime)", "dateTime"},
		{"instant without time", `{"resourceType":"Patient","meta":{"lastUpdated":"2020-02-03"}}`, "value", "Patient.meta.lastUpdated", "instant"},
		{"unknown element", `{"resourceType":"Patient","foo":1}`, "structure", "Patient.foo", "unknown element"},
		{"unknown choice suffix", `{"resourceType":"Patient","deceasedString":"x"}`, "structure", "Patient.deceasedString", "deceased[x]"},
		{"two forms of a choice", `{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}`, "structure", "Patient.deceased[x]", "exactly one"},
		{"missing required", `{"resourceType":"Observation","status":"final"}`, "required", "Observation.code", "minimum cardinality"},
		{"missing required choice", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"code":{"text":"y"}}],"referenceRange":[{"text":"x"}],"effectiveTiming":{}}`, "invariant", "Observation.effective.ofType(Timing)", "ele-1"},
		{"wrong reference target", `{"resourceType":"Patient","managingOrganization":{"reference":"Patient/1"}}`, "value", "Patient.managingOrganization", "Organization"},
		{"number for a string", `{"resourceType":"Patient","name":[{"given":[1]}]}`, "value", "Patient.name[0].given[0]", "JSON string"},
		{"string for a boolean", `{"resourceType":"Patient","active":"true"}`, "value", "Patient.active", "boolean"},
		{"decimal for an integer", `{"resourceType":"RiskAssessment","status":"final","subject":{"reference":"Patient/1"},"prediction":[{"probabilityDecimal":1.5}],"extension":[{"url":"http://x","valueInteger":1.5}]}`, "value", "RiskAssessment.extension[0].value.ofType(integer)", "whole number"},
		{"integer out of range", `{"resourceType":"Patient","multipleBirthInteger":2147483648}`, "value", "Patient.multipleBirth.ofType(integer)", "32-bit"},
		{"negative positiveInt", `{"resourceType":"Patient","photo":[{"size":-1}]}`, "value", "Patient.photo[0].size", "unsignedInt"},
		{"bad base64", `{"resourceType":"Patient","photo":[{"data":"abc"}]}`, "value", "Patient.photo[0].data", "base64Binary"},
		{"bad id", `{"resourceType":"Patient","id":"a_b"}`, "value", "Patient.id", "id"},
		{"bad code whitespace", `{"resourceType":"Patient","gender":" male"}`, "value", "Patient.gender", "code"},
		{"array for a single value", `{"resourceType":"Patient","gender":["male"]}`, "structure", "Patient.gender", "single value"},
		{"single value for an array", `{"resourceType":"Patient","name":{"family":"x"}}`, "structure", "Patient.name", "must be an array"},
		{"null value", `{"resourceType":"Patient","gender":null}`, "structure", "Patient.gender", "null"},
		{"null in an array without its extension", `{"resourceType":"Patient","name":[{"given":["A",null]}]}`, "structure", "Patient.name[0].given[1]", "null"},
		{"primitive sibling lengths differ", `{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[{"id":"x"}]}]}`, "structure", "Patient.name[0].given", "as many entries"},
		{"null in both arrays", `{"resourceType":"Patient","name":[{"given":["A",null],"_given":[{"id":"x"},null]}]}`, "structure", "Patient.name[0].given[1]", "null"},
		{"primitive sibling with a value", `{"resourceType":"Patient","_birthDate":{"value":"2000"}}`, "structure", "Patient.birthDate.value", "unknown element"},
		{"sibling of a complex element", `{"resourceType":"Patient","_name":[{"id":"x"}]}`, "structure", "Patient._name", "unknown element"},
		{"contained resource checked", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","active":1}]}`, "value", "Patient.contained[0].active", "boolean"},
		{"Bundle entry checked", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","gender":"x"}}]}`, "code-invalid", "Bundle.entry[0].resource.gender", "required binding"},
		{"Parameters resource checked", `{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","bogus":true}}]}`, "structure", "Parameters.parameter[0].resource.bogus", "unknown element"},
		{"content reference", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","item":[{"type":"string"}]}]}`, "required", "Questionnaire.item[0].item[0].linkId", "minimum cardinality"},
		{"unknown resource type", `{"resourceType":"Patiente"}`, "structure", "", "unknown resource type"},
		{"no resource type", `{"id":"1"}`, "required", "", "resourceType"},
		{"not an object", `[]`, "structure", "", "JSON object"},
		{"duplicate member", `{"resourceType":"Patient","gender":"male","gender":"female"}`, "structure", "", "twice"},
		{"not JSON", `{"resourceType":"Patient"`, "structure", "", "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Validate([]byte(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			fe := fhir.AsError(err)
			found := false
			for _, is := range fe.Issues() {
				found = found || is.Code == tc.code && is.Expression == tc.expr && strings.Contains(is.Details, tc.details)
			}
			if fe.Kind != fhir.KindInvalid || !found {
				t.Fatalf("got kind=%v issues %+v; want invalid with %q %q %q", fe.Kind, fe.Issues(), tc.code, tc.expr, tc.details)
			}
			if len(fe.Issues()) != len(errorIssues(v.Check([]byte(tc.in)))) {
				t.Fatalf("Validate gave %d issues, Check %d errors", len(fe.Issues()), len(errorIssues(v.Check([]byte(tc.in)))))
			}
		})
	}
}

func errorIssues(issues []fhir.Issue) []fhir.Issue {
	var out []fhir.Issue
	for _, is := range issues {
		if is.Severity == "error" || is.Severity == "fatal" {
			out = append(out, is)
		}
	}
	return out
}

// TestLimits: a body beyond the JSON limits is refused as too costly, by both Validate and Check.
func TestLimits(t *testing.T) {
	deep := []byte(`{"resourceType":"Patient","extension":[` + strings.Repeat(`{"url":"x","extension":[`, 40) + strings.Repeat(`]}`, 40) + `]}`)
	for _, tc := range []struct {
		name   string
		limits fhir.JSONLimits
		body   []byte
		limit  string
	}{
		{"default depth", fhir.JSONLimits{}, deep, "max-json-depth"},
		{"values", fhir.JSONLimits{MaxValues: 5}, []byte(`{"resourceType":"Patient","name":[{"given":["a","b","c","d"]}]}`), "max-json-values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(Config{Limits: tc.limits})
			if err != nil {
				t.Fatal(err)
			}
			fe := fhir.AsError(v.Validate(tc.body))
			if fe == nil || fe.Kind != fhir.KindTooCostly || fe.Limit != tc.limit {
				t.Fatalf("got %#v, want too costly (%s)", fe, tc.limit)
			}
			if issues := v.Check(tc.body); len(issues) != 1 || issues[0].Code != "too-costly" {
				t.Fatalf("Check: %+v", issues)
			}
		})
	}
}

// TestAcceptance: what R4 allows is accepted, among them the forms jsonformat refused.
func TestAcceptance(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct{ name, in string }{
		{"null-padded primitive array", `{"resourceType":"Patient","name":[{"given":["A",null,"B"],"_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"q"}]},null]}]}`},
		{"value given by its extension alone", `{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}`},
		{"a resource with nothing but its type", `{"resourceType":"Patient"}`},
		{"leap day", `{"resourceType":"Patient","birthDate":"2024-02-29"}`},
		{"partial dateTime", `{"resourceType":"Patient","deceasedDateTime":"2024-02"}`},
		{"required choice given by its extension", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"_effectiveDateTime":{"extension":[{"url":"http://example.org/x","valueBoolean":true}]}}`},
		{"reference to another server", `{"resourceType":"Patient","managingOrganization":{"reference":"http://example.org/fhir/Patient/1"}}`},
		{"contained reference", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"O"}],"managingOrganization":{"reference":"#o"}}`},
		{"CodeableConcept with text only", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"clinicalStatus":{"text":"active"}}`},
		{"code outside an extensible binding", `{"resourceType":"Patient","maritalStatus":{"coding":[{"system":"http://example.org","code":"x"}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.Validate([]byte(tc.in)); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// TestWarnings: Check reports codes outside extensible bindings as warnings that Validate ignores.
func TestWarnings(t *testing.T) {
	v := newValidator(t)
	text := `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">A patient</div>"},`
	body := []byte(`{"resourceType":"Patient",` + text + `"maritalStatus":{"coding":[{"system":"http://example.org","code":"x"}]}}`)
	issues := v.Check(body)
	if len(issues) != 1 || issues[0].Severity != "warning" || issues[0].Expression != "Patient.maritalStatus" {
		t.Fatalf("issues %+v, want one warning at Patient.maritalStatus", issues)
	}
	ok := []byte(`{"resourceType":"Patient",` + text + `"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M"}]}}`)
	if issues := v.Check(ok); len(issues) != 0 {
		t.Fatalf("issues %+v for a code of the value set", issues)
	}
}

// TestEveryErrorIsReported: all the errors of a body come back, the first in the Error, in path order.
func TestEveryErrorIsReported(t *testing.T) {
	v := newValidator(t)
	err := v.Validate([]byte(`{"resourceType":"Patient","name":[{"family":""}],"gender":"x","foo":1}`))
	fe := fhir.AsError(err)
	var got []string
	for _, is := range fe.Issues() {
		got = append(got, is.Expression)
	}
	want := []string{"Patient.foo", "Patient.gender", "Patient.name[0].family"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("issues at %v, want %v", got, want)
	}
}

// TestStages: a stage sees the decoded resource and every node with its type and path, and its errors
// refuse the resource.
func TestStages(t *testing.T) {
	var seen map[string]string
	stage := StageFunc(func(root map[string]any, nodes []Node) []fhir.Issue {
		seen = map[string]string{}
		for _, n := range nodes {
			seen[n.Path] = n.Type
		}
		if root["gender"] == "other" {
			return []fhir.Issue{{Severity: "error", Code: "invariant", Expression: "Patient.gender", Details: "x-1: no other"}}
		}
		return nil
	})
	v, err := New(Config{Stages: []Stage{stage}})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"resourceType":"Patient","gender":"male","name":[{"given":["A"]}],"deceasedBoolean":false,"contained":[{"resourceType":"Organization","id":"o","name":"o"}],"managingOrganization":{"reference":"#o"}}`
	if err := v.Validate([]byte(body)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Patient": "Patient", "Patient.gender": "code", "Patient.name[0]": "HumanName", "Patient.name[0].given[0]": "string",
		"Patient.deceased.ofType(boolean)": "boolean", "Patient.contained[0]": "Organization", "Patient.contained[0].name": "string",
	}
	for path, typ := range want {
		if seen[path] != typ {
			t.Fatalf("nodes %v, want among them %v", seen, want)
		}
	}
	err = v.Validate([]byte(`{"resourceType":"Patient","gender":"other"}`))
	if fe := fhir.AsError(err); err == nil || fe.Details != "x-1: no other" {
		t.Fatalf("stage error not reported: %v", err)
	}
}

// TestDecodeMatchesEncodingJSON: the decoder gives what encoding/json with UseNumber gives.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":[1,2.5e3,-0.1,true,false,null,"x\u00e9\ud83d\ude00\n\"\\/"],"b":{"c":{}},"d":[]}`,
		`"\ud800"`, `[{"a":"\t"}]`, `  {"é":"ü"}  `,
	} {
		got, err := decode([]byte(in), 64)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, want %#v", in, got, want)
		}
	}
	for _, in := range []string{`{"a":1,"a":1}`, "\"\xff\"", `{"a":01}`, `[1,]`, `{"a" 1}`, `"\x"`, `tru`, `1 2`, "\"a\x01\""} {
		if _, err := decode([]byte(in), 64); err == nil {
			t.Errorf("%q decoded", in)
		}
	}
}
