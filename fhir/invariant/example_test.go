package invariant_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"fhirgate/fhir/invariant"
)

func ExampleCheck() {
	d := json.NewDecoder(strings.NewReader(`{"resourceType":"Observation","status":"final","code":{"text":"glucose"},
		"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">glucose</div>"},
		"valueString":"high","dataAbsentReason":{"text":"unknown"},"referenceRange":[{"type":{"text":"normal"}}]}`))
	d.UseNumber()
	var r map[string]any
	if err := d.Decode(&r); err != nil {
		panic(err)
	}
	for _, is := range invariant.Check(r) {
		fmt.Println(is.Severity, is.Code, is.Expression)
		fmt.Println(is.Details)
	}
	// Output:
	// error invariant Observation
	// Observation: obs-6 (dataAbsentReason SHALL only be present if Observation.value[x] is not present)
	// error invariant Observation.referenceRange[0]
	// Observation.referenceRange[0]: obs-3 (Must have at least a low or a high or text)
}
