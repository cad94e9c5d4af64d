package validation

import (
	"testing"

	"fhirgate/fhir"
)

// FuzzValidate: no body makes the validator panic, and Validate and Check agree on the errors.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		benchObservation,
		`{"resourceType":"Patient","name":[{"given":["A",null,"B"],"_given":[null,{"extension":[{"url":"http://x","valueString":"q"}]},null]}]}`,
		`{"resourceType":"Patient","name":[{"family":""}],"contact":[{}],"gender":"x","deceasedBoolean":true,"deceasedDateTime":"2020"}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","contained":[{"resourceType":"Organization"}]}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Observation","status":"final","code":{}}}]}`,
		`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","item":[{"type":"string"}]}]}`,
		`{"resourceType":"Patient","_birthDate":{"id":"a"},"birthDate":"2020-02-30","_gender":[{}]}`,
		`{"resourceType":"Patient","a":"\ud800","b":1e999,"gender":"male","gender":"female"}`,
		`{"resourceType":"Patient","photo":[{"data":"aGVsbG8=","size":-1}],"multipleBirthInteger":1.0}`,
		`[]`, `{`, ``, `null`, `{"resourceType":1}`,
	} {
		f.Add([]byte(s))
	}
	v, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := v.Validate(b)
		errs := errorIssues(v.Check(b))
		if (err == nil) != (len(errs) == 0) {
			t.Fatalf("Validate %v, Check errors %v", err, errs)
		}
		if err == nil {
			return
		}
		fe := fhir.AsError(err)
		if fe.Kind != fhir.KindInvalid || len(fe.Issues()) != len(errs) || fe.Details == "" {
			t.Fatalf("Validate %#v, Check %d errors", fe, len(errs))
		}
		for i, is := range fe.Issues() {
			if is.Expression != errs[i].Expression || is.Details != errs[i].Details {
				t.Fatalf("issue %d: Validate %+v, Check %+v", i, is, errs[i])
			}
		}
	})
}
