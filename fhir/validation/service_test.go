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

// TestWritesThroughTheService: the service refuses with 400 what R4 forbids, naming the element, and
// accepts a null-padded primitive array, which reads back with the same meaning.
func TestWritesThroughTheService(t *testing.T) {
	env := resttest.New(t)
	for _, tc := range []struct{ name, body, code, expr string }{
		{"empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, "value", "Patient.name[0].family"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "structure", "Patient.name"},
		{"empty object", `{"resourceType":"Patient","contact":[{}]}`, "invariant", "Patient.contact[0]"},
		{"empty code", `{"resourceType":"Observation","status":"final","code":{}}`, "invariant", "Observation.code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Do(&rest.Request{Interaction: rest.Create, Type: strings.Split(strings.Split(tc.body, `"resourceType":"`)[1], `"`)[0],
				Body: []byte(tc.body), ContentType: "application/fhir+json"})
			fe := resttest.WantError(t, err, 400, tc.code, tc.expr)
			if tc.code == "invariant" && !slices.ContainsFunc(fe.Issues(), func(is fhir.Issue) bool { return strings.Contains(is.Details, "ele-1") }) {
				t.Errorf("issues %+v do not name ele-1", fe.Issues())
			}
		})
	}
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
