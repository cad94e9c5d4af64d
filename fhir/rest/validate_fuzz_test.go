package rest_test

import (
	"net/url"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// FuzzValidate posts arbitrary bodies and query strings to $validate, on a type and on a stored
// instance: no input may panic or produce a server error, and nothing is stored.
func FuzzValidate(f *testing.F) {
	for _, s := range []struct{ query, body string }{
		{"profile=" + url.QueryEscape(vitalSignsURL), bodyWeight("", "29463-7", false)},
		{"", `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Observation"}},{"name":"mode","valueCode":"update"},{"name":"profile","valueCanonical":"http://hl7.org/fhir/StructureDefinition/bp"}]}`},
		{"mode=delete", ""},
		{"mode=update&profile=x&profile=y", `{"resourceType":"Observation","id":"w1"}`},
		{"", `{"resourceType":"Parameters","parameter":[{"name":"resource"},{"name":"mode"},null,7]}`},
		{"", `{"resourceType":"Parameters","parameter":{}}`},
		{"%zz", `mode=create&profile=`},
		{"", `{"resourceType":"Observation","meta":{"profile":[1,null,"` + bodyWeightURL + `"]}}`},
		{"", `[]`}, {"", `{`}, {"", `null`},
	} {
		f.Add(s.query, []byte(s.body))
	}
	env := resttest.New(f)
	env.Put(f, withID(bodyWeight("", "29463-7", true), "w1"))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		id, ct := "", "application/fhir+json" // on the type, or (odd lengths) on the stored instance with a form
		if len(body)%2 == 1 {
			id, ct = "w1", "application/x-www-form-urlencoded"
		}
		req := &rest.Request{Interaction: rest.Operation, Operation: "validate", Type: "Observation", ID: id,
			Params: params, Body: body, ContentType: ct}
		if _, err := env.Do(req); err != nil && fhir.KindOf(err).Status() >= 500 {
			t.Fatalf("server error: %v", err)
		}
		if n := len(env.Versions(t, "Observation", "")); n != 1 {
			t.Fatalf("%d versions stored, want the one put", n)
		}
	})
}
