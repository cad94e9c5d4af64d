package invariant

import "testing"

// FuzzCheck holds that Check never panics, whatever the decoded JSON.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"u"}}`,
		`{"resourceType":"Patient","extension":[{"url":"http://example.org/a"}],"contact":[{}]}`,
		`{"resourceType":"Observation","referenceRange":[{"type":{"text":"n"}}],"component":[{"code":1}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","contained":[{"resourceType":"Patient"}]}}]}`,
		`{"resourceType":"Patient","_birthDate":{"extension":[{"url":"x"}]},"name":[{"period":{"start":"2020","end":"2019"}}]}`,
		`{"resourceType":"Questionnaire","item":[{"type":"display","item":[{"item":[{}]}]}]}`,
		`{"resourceType":"Observation","valueQuantity":[1,2],"effectivePeriod":"x","contained":{}}`,
		`{"resourceType":"Patient","contact":null,"name":[null,{},[]]}`,
		`{"resourceType":1}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeBytes(data)
		if err != nil {
			return
		}
		for _, is := range Check(m) {
			if is.Code != "invariant" || is.Expression == "" {
				t.Fatalf("malformed issue %+v", is)
			}
		}
	})
}
