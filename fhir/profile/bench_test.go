package profile_test

import (
	"testing"

	"fhirgate/fhir/profile"
)

// BenchmarkValidate: a body weight against bodyweight (the check a write declaring it pays), decoding
// included.
func BenchmarkValidate(b *testing.B) {
	p, ok := profile.Core().Lookup(bodyWeight)
	if !ok {
		b.Fatal("bodyweight not loaded")
	}
	body := []byte(weight())
	b.ReportAllocs()
	for b.Loop() {
		res, err := profile.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if issues := p.Validate(res); len(issues) != 0 {
			b.Fatal(issues)
		}
	}
}
