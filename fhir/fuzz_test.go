package fhir

import (
	"testing"
	"time"
)

// FuzzResource feeds arbitrary bytes to the parsers that take resources from the network: no input may
// panic, and whatever parses must survive stamping and parse again.
func FuzzResource(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","id":"1","gender":"male"}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}`,
		`{"resourceType":"Patient","meta":{"versionId":"3","tag":[{"code":"a"}]},"name":[{"given":["A"]}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Patient","contained":[{}]}]}`,
		`{"resourceType":"Patient","meta":[]}`,
		`{"a":"\u0000"}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResource(b)
		if err != nil {
			if AsError(err).Kind != KindInvalid {
				t.Fatalf("parse error of kind %v", AsError(err).Kind)
			}
			return
		}
		if err := r.ClearServerMeta(); err != nil {
			return
		}
		r.SetID("x")
		out, err := Stamp(r.Bytes(), "x", 1, time.Unix(0, 0))
		if err != nil {
			return
		}
		if _, err := ParseResource(out); err != nil {
			t.Fatalf("stamped resource does not parse: %v: %s", err, out)
		}
		_, _ = Subset(out, SummaryTrue, nil)
		_, _ = Subset(out, SummaryFalse, []string{"id", "name"})
	})
}
