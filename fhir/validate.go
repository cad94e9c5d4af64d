package fhir

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// Validator checks resources against the R4 definitions with google/fhir/go's jsonformat (structure,
// data types, value sets of required bindings, cardinality, reference targets). It is safe for
// concurrent use.
type Validator struct {
	u *jsonformat.Unmarshaller
}

// maxNestingDepth bounds the JSON nesting a resource may have (protects the parser from deep inputs).
const maxNestingDepth = 64

// NewValidator returns a Validator for R4.
func NewValidator() (*Validator, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: validator: %w", err)
	}
	u.MaxNestingDepth = maxNestingDepth
	return &Validator{u: u}, nil
}

// Validate checks body, a resource in FHIR JSON, against the R4 definitions. A refusal is an *Error of
// KindInvalid (400: the resource fails FHIR's own rules — an unknown element, a wrong data type, an unknown
// code, a missing required element, a reference to a type the element does not allow) naming the element
// path (e.g. Patient.gender) and the reason. 422 is kept for what the server's own rules refuse in a
// resource that is valid R4 (business rules, a patch whose result breaks the rules).
func (v *Validator) Validate(body []byte) error {
	_, err := v.u.Unmarshal(body)
	if err == nil {
		return nil
	}
	issues := unmarshalIssues(err)
	if len(issues) == 0 {
		return &Error{Kind: KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
			Details: "the resource does not conform to FHIR R4", Diagnostics: err.Error()}
	}
	first := issues[0]
	return &Error{Kind: KindInvalid, Code: first.Code, Expression: first.Expression, Details: first.Details,
		Diagnostics: first.Diagnostics, More: issues[1:]}
}

// unmarshalIssues turns jsonformat's error list into issues. jsonformat reports its errors with an
// internal type whose exported fields (Path, Details, Diagnostics, Type) we read by reflection.
func unmarshalIssues(err error) []Issue {
	v := reflect.ValueOf(err)
	var elems []reflect.Value
	switch v.Kind() {
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			elems = append(elems, v.Index(i))
		}
	case reflect.Pointer:
		elems = append(elems, v)
	}
	var out []Issue
	for _, e := range elems {
		for e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface {
			if e.IsNil() {
				break
			}
			e = e.Elem()
		}
		if e.Kind() != reflect.Struct {
			continue
		}
		path := stringField(e, "Path")
		details := stringField(e, "Details")
		if details == "" {
			continue
		}
		typ := ""
		if f := e.FieldByName("Type"); f.IsValid() {
			typ = fmt.Sprint(f.Interface())
		}
		is := Issue{Severity: "error", Expression: path, Details: details, Diagnostics: stringField(e, "Diagnostics")}
		switch {
		case typ == "RequiredFieldError" || strings.HasPrefix(details, "missing required"):
			is.Code = "required"
			// "missing required field \"code\"" at Observation: the element is Observation.code.
			if _, field, ok := strings.Cut(details, `field "`); ok {
				if name, _, ok := strings.Cut(field, `"`); ok && name != "" {
					is.Expression = path + "." + name
				}
			}
		case typ == "ReferenceTypeError" || strings.Contains(details, "invalid reference"):
			is.Code = "value"
		case details == "unknown field" || details == "invalid JSON":
			is.Code = "structure"
		default:
			is.Code = "value"
		}
		if is.Diagnostics == "" && details == "unknown field" {
			is.Diagnostics = "the element is not defined in R4"
		}
		out = append(out, is)
	}
	return out
}

func stringField(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}
