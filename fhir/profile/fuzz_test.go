package profile_test

import (
	"testing"

	"fhirgate/fhir/profile"
)

// FuzzValidate validates arbitrary JSON against core profiles with slices of every kind the core uses
// and against the handwritten national profile: no input may panic, and what decodes gets an answer.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		weight(), weight("category", ""), weight("value", `"valueString":"x"`),
		`{"resourceType":"Observation","category":[1,"x",null,{"coding":{}}],"code":{"coding":[[]]},"valueQuantity":[]}`,
		`{"resourceType":"Observation","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]}},{}]}`,
		`{"resourceType":"Patient","extension":[{"url":7}],"identifier":{"system":"x"},"telecom":[{"system":["email"]}],"address":[null]}`,
		`{"resourceType":"Patient","gender":{"coding":[]},"name":[{"family":["a"]}]}`,
		`{}`, `{"resourceType":null}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	set, err := profile.LoadDir("testdata/national")
	if err != nil {
		f.Fatal(err)
	}
	var profiles []*profile.Profile
	for _, u := range []string{vitalSigns, bodyWeight, bloodPress, national} {
		p, ok := set.Lookup(u)
		if !ok {
			f.Fatalf("%s not loaded", u)
		}
		profiles = append(profiles, p)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := profile.Decode(body)
		if err != nil {
			return
		}
		set.Declared(res)
		for _, p := range profiles {
			for _, is := range p.Validate(res) {
				if is.Severity == "" || is.Code == "" || is.Details == "" {
					t.Fatalf("an incomplete issue %+v", is)
				}
			}
		}
	})
}
