package fhirpathpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzApply checks that Apply never panics, never modifies its arguments, returns *Error on failure,
// and returns a JSON-encodable resource on success.
func FuzzApply(f *testing.F) {
	seedParams := []map[string]any{
		parameters(param("add", "Patient", name("birthDate"), value("valueDate", "1930-01-01"))),
		parameters(param("add", "Patient", name("contact"), valueParts(sub("name", "valueHumanName", map[string]any{"text": "a name"})))),
		parameters(param("insert", "Patient.identifier", value("valueIdentifier", map[string]any{"value": "2"}), intPartOf("index", 0))),
		parameters(param("delete", "Patient.name.where(use = 'usual')")),
		parameters(param("replace", "Patient.deceased", value("valueDateTime", "2021"))),
		parameters(param("move", "Patient.name", intPartOf("source", 2), intPartOf("destination", 0))),
		parameters(param("add", "Patient.gender", name("extension"), valueParts(sub("url", "valueUri", "u"), sub("value[x]", "valueString", "x")))),
		parameters(param("add", "Patient.managingOrganization.resolve()", name("alias"), value("valueString", "A"))),
		parameters(param("move", "Patient.name[0].given", intPartOf("source", 1), intPartOf("destination", 0))),
		parameters(param("delete", "Patient.name[0].given[1]"), param("insert", "Patient.name[0].given", value("valueString", "x"), intPartOf("index", 1))),
	}
	for _, p := range seedParams {
		b, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(patient), b)
	}
	f.Add([]byte(`{"resourceType":"Patient","_given":[null,{"id":"x"}],"given":"a"}`), []byte(`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"given"},{"name":"index","valueInteger":0},{"name":"value","valueString":"b"}]}]}`))
	f.Fuzz(func(t *testing.T, resJSON, paramsJSON []byte) {
		res, ok1 := decodeMap(resJSON)
		params, ok2 := decodeMap(paramsJSON)
		if !ok1 || !ok2 {
			return
		}
		resBefore, _ := json.Marshal(res)
		paramsBefore, _ := json.Marshal(params)
		got, err := ApplyWithOptions(res, params, modelOptions())
		resAfter, _ := json.Marshal(res)
		paramsAfter, _ := json.Marshal(params)
		if !bytes.Equal(resBefore, resAfter) || !bytes.Equal(paramsBefore, paramsAfter) {
			t.Fatal("Apply modified its arguments")
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *Error: %v", err, err)
			}
			return
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("result cannot be encoded: %v", err)
		}
	})
}

func decodeMap(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}
