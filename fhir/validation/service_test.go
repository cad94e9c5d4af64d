package validation_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// TestWritesThroughTheService: the service refuses with 400 what R4 forbids, naming the element and the rule
// (empty values, invariants, the narrative's XHTML), reports the warnings of what it writes when asked for
// an OperationOutcome, and accepts a null-padded primitive array, which reads back with the same meaning.
func TestWritesThroughTheService(t *testing.T) {
	env := resttest.New(t)
	for _, tc := range []struct{ name, body, code, expr, rule string }{
		{"empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, "value", "Patient.name[0].family", "SHALL NOT be empty"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "structure", "Patient.name", "SHALL NOT be empty"},
		{"empty object", `{"resourceType":"Patient","contact":[{}]}`, "invariant", "Patient.contact[0]", "ele-1"},
		{"empty code", `{"resourceType":"Observation","status":"final","code":{}}`, "invariant", "Observation.code", "ele-1"},
		{"value and dataAbsentReason", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"v","dataAbsentReason":{"text":"asked"}}`, "invariant", "Observation", "obs-6"},
		{"extension without a value", `{"resourceType":"Patient","extension":[{"url":"http://example.org/x"}]}`, "invariant", "Patient.extension[0]", "ext-1"},
		{"reference range of a type only", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"referenceRange":[{"type":{"text":"normal"}}]}`, "invariant", "Observation.referenceRange[0]", "obs-3"},
		{"narrative outside the XHTML namespace", `{"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div>"}}`, "invariant", "Patient.text.div", "XHTML namespace"},
		{"narrative with a script", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x<script>alert(1)</script></div>"}}`, "invariant", "Patient.text.div", "<script> is not allowed in narrative (txt-1)"},
		{"narrative with an event attribute", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"alert(1)\">x</p></div>"}}`, "invariant", "Patient.text.div", "attribute onclick on <p> is not allowed (txt-1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Do(&rest.Request{Interaction: rest.Create, Type: strings.Split(strings.Split(tc.body, `"resourceType":"`)[1], `"`)[0],
				Body: []byte(tc.body), ContentType: "application/fhir+json"})
			fe := resttest.WantError(t, err, 400, tc.code, tc.expr)
			if !slices.ContainsFunc(fe.Issues(), func(is fhir.Issue) bool { return strings.Contains(is.Details, tc.rule) }) {
				t.Errorf("issues %+v do not name %q", fe.Issues(), tc.rule)
			}
		})
	}
	t.Run("warnings with the outcome", func(t *testing.T) {
		resp, err := env.Do(&rest.Request{Interaction: rest.Create, Type: "Patient", Body: []byte(`{"resourceType":"Patient","active":true}`),
			ContentType: "application/fhir+json", Return: rest.ReturnOutcome})
		if err != nil || resp.Status != 201 {
			t.Fatalf("create: %v %v", resp, err)
		}
		if !strings.Contains(string(resp.Body), `"severity":"warning"`) || !strings.Contains(string(resp.Body), "dom-6") {
			t.Fatalf("outcome %s does not carry the dom-6 warning", resp.Body)
		}
	})
	t.Run("null-padded array", func(t *testing.T) {
		body := `{"resourceType":"Patient","name":[{"given":["A",null,"B"],"_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"q"}]},null]}]}`
		loc := env.Create(t, body).Location
		id := strings.Split(strings.TrimPrefix(loc, resttest.BaseURL+"/Patient/"), "/")[0]
		got := env.Read(t, "Patient", id)
		want := decode(t, []byte(body))
		have := decode(t, got.Body)
		if !reflect.DeepEqual(have["name"], want["name"]) {
			t.Fatalf("read back %v, want %v", have["name"], want["name"])
		}
	})
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
