package fhirpath_test

import (
	"errors"
	"fmt"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
)

var optionsPatient = map[string]any{
	"resourceType": "Patient",
	"birthDate":    "1974-12-25",
	"name":         []any{map[string]any{"given": []any{"Peter", "James"}}, map[string]any{"given": []any{"Jim"}}},
	"gender":       "male",
}

// evalWith compiles and evaluates src with opts on the test patient, rendering the result or the error.
func evalWith(t *testing.T, src string, opts fhirpath.Options) (string, error) {
	t.Helper()
	e, err := fhirpath.CompileWith(src, opts)
	if err != nil {
		return "", err
	}
	res, err := e.Evaluate(optionsPatient)
	if err != nil {
		return "", err
	}
	out := make([]string, len(res))
	for i, n := range res {
		out[i] = fhirpath.Format(n)
	}
	return fmt.Sprint(out), nil
}

func TestOptions(t *testing.T) {
	model := fhirpath.Options{Model: fhir.PathModel()}
	tests := []struct {
		name, expr string
		opts       fhirpath.Options
		want       string // "error" for an evaluation or compilation error
	}{
		{"model types primitives", "Patient.birthDate.is(date)", model, "[true]"},
		{"no model: JSON shape", "Patient.birthDate.is(date)", fhirpath.Options{}, "[false]"},
		{"model: code specialises string", "Patient.gender.is(string) and Patient.gender.is(code)", model, "[true]"},
		{"model: backbone and data types", "Patient.name.given.first().is(string)", model, "[true]"},
		{"model: unknown element", "Patient.name.given1", model, "error"},
		{"model: unknown type", "Patient.gender.as(string1)", model, "error"},
		{"FHIR boolean is not System.Boolean", "Patient.name.exists().is(Boolean) and Patient.gender.is(System.String).not()", model, "[true]"},
		{"as on many items fails", "Patient.name.given as string", model, "error"},
		{"LenientAs keeps the items", "Patient.name.given as string", fhirpath.Options{Model: fhir.PathModel(), LenientAs: true}, "[Peter James Jim]"},
		{"wrong leading type: empty", "Encounter.status", model, "[]"},
		{"wrong leading type: strict error", "Encounter.status", fhirpath.Options{Model: fhir.PathModel(), Strict: true}, "error"},
		{"dates compare by precision", "@2012-04-15 < @2012-04-15T10:00", fhirpath.Options{}, "[]"},
		{"partial dates: undecided", "Patient.birthDate > @1974-12", model, "[]"},
		{"dates compare as dates", "Patient.birthDate < @1975 and Patient.birthDate > @1974-11", model, "[true]"},
		{"conformsTo a core profile", "conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')", model, "[true]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := evalWith(t, tc.expr, tc.opts)
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("%s = %s, want an error", tc.expr, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%s = %s, %v; want %s", tc.expr, got, err, tc.want)
			}
		})
	}
}

func TestSuppliedFunctions(t *testing.T) {
	if _, err := evalWith(t, "Patient.gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')", fhirpath.Options{}); !errors.Is(err, fhirpath.ErrNotSupported) {
		t.Fatalf("memberOf without a supplied function: %v, want ErrNotSupported", err)
	}
	var calls []fhirpath.Call
	memberOf := func(c fhirpath.Call) ([]fhirpath.Node, error) {
		calls = append(calls, c)
		return []fhirpath.Node{{Value: c.Input[0].Value == "male", Type: "System.Boolean", Index: -1}}, nil
	}
	failing := func(fhirpath.Call) ([]fhirpath.Node, error) { return nil, errors.New("no terminology") }
	opts := fhirpath.Options{Functions: map[string]fhirpath.Func{"memberOf": memberOf, "htmlChecks": failing}}
	got, err := evalWith(t, "Patient.gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')", opts)
	if err != nil || got != "[true]" {
		t.Fatalf("memberOf = %s, %v; want [true]", got, err)
	}
	if len(calls) != 1 || len(calls[0].Args) != 1 || calls[0].Args[0][0].Value != "http://hl7.org/fhir/ValueSet/administrative-gender" || calls[0].Name != "memberOf" {
		t.Fatalf("calls = %+v", calls)
	}
	if _, err := evalWith(t, "htmlChecks()", opts); err == nil {
		t.Fatal("a supplied function's error must fail the evaluation")
	}
}
