package fhirpathpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"fhirgate/internal/sharedtest"
)

// Helpers that build the Parameters resource of a FHIRPath Patch.

func param(typ, path string, parts ...map[string]any) map[string]any {
	all := []any{
		map[string]any{"name": "type", "valueCode": typ},
		map[string]any{"name": "path", "valueString": path},
	}
	for _, p := range parts {
		all = append(all, p)
	}
	return map[string]any{"name": "operation", "part": all}
}

func name(n string) map[string]any { return map[string]any{"name": "name", "valueString": n} }

// value is a "value" part with a value[x] member, e.g. value("valueDate", "1930-01-01").
func value(key string, v any) map[string]any { return map[string]any{"name": "value", key: v} }

// valueParts is a "value" part made of parts (complex and anonymous types).
func valueParts(parts ...map[string]any) map[string]any {
	return map[string]any{"name": "value", "part": toAny(parts)}
}

func sub(n, key string, v any) map[string]any { return map[string]any{"name": n, key: v} }

func subParts(n string, parts ...map[string]any) map[string]any {
	return map[string]any{"name": n, "part": toAny(parts)}
}

func intPartOf(n string, i int) map[string]any {
	return map[string]any{"name": n, "valueInteger": json.Number(itoa(i))}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func toAny(parts []map[string]any) []any {
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out
}

func parameters(ops ...map[string]any) map[string]any {
	return map[string]any{"resourceType": "Parameters", "parameter": toAny(ops)}
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// canonical renders a value as JSON with sorted keys for comparison.
func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const patient = `{
  "resourceType": "Patient",
  "id": "example",
  "identifier": [{"system": "http://a", "value": "1"}],
  "active": true,
  "name": [
    {"use": "official", "family": "Chalmers", "given": ["Peter", "James"], "_given": [null, {"extension": [{"url": "http://x", "valueString": "e"}]}]},
    {"use": "usual", "given": ["Jim"]},
    {"use": "maiden", "family": "Windsor"}
  ],
  "gender": "male",
  "deceasedBoolean": false,
  "managingOrganization": {"reference": "#org"},
  "generalPractitioner": [{"reference": "Practitioner/1"}],
  "contained": [{"resourceType": "Organization", "id": "org", "name": "Acme"}]
}`

// patientModel is a stand-in for the server's R4 model (fhir.LookupElement) in Options.Element.
var patientModel = map[string]ElementInfo{
	"Patient.identifier":           {Repeating: true},
	"Patient.name":                 {Repeating: true},
	"Patient.name.given":           {Repeating: true},
	"Patient.telecom":              {Repeating: true},
	"Patient.contact":              {Repeating: true},
	"Patient.contact.name":         {},
	"Patient.contact.telecom":      {Repeating: true},
	"Patient.contact.relationship": {Repeating: true},
	"Patient.contact.gender":       {},
	"Patient.deceased":             {Choice: true},
	"Patient.multipleBirth":        {Choice: true},
	"Patient.birthDate":            {},
	"Patient.birthDate.extension":  {Repeating: true},
	"Patient.gender":               {},
	"Patient.photo":                {Repeating: true},
	"Organization.name":            {},
	"Organization.alias":           {Repeating: true},
}

func modelOptions() Options {
	return Options{Element: func(path string) (ElementInfo, bool) {
		info, ok := patientModel[path]
		return info, ok
	}}
}

type patchCase struct {
	name    string
	ops     []map[string]any
	opts    *Options
	want    string                 // expected resource (JSON); empty when an error is expected
	edit    func(m map[string]any) // alternatively: expected = patient edited by this function
	wantErr Kind
	wantMsg string
}

func runCases(t *testing.T, tests []patchCase) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := decode(t, patient)
			before := canonical(t, res)
			params := parameters(tc.ops...)
			paramsBefore := canonical(t, params)
			opts := Options{}
			if tc.opts != nil {
				opts = *tc.opts
			}
			got, err := ApplyWithOptions(res, params, opts)
			if canonical(t, res) != before || canonical(t, params) != paramsBefore {
				t.Fatal("Apply modified its arguments")
			}
			if tc.wantErr != 0 {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("got %v, %v; want a *Error", got, err)
				}
				if pe.Kind != tc.wantErr {
					t.Errorf("kind %v, want %v (%v)", pe.Kind, tc.wantErr, err)
				}
				if tc.wantMsg != "" && err.Error() != tc.wantMsg {
					t.Errorf("message\n got %q\nwant %q", err.Error(), tc.wantMsg)
				}
				if got != nil {
					t.Errorf("a resource was returned with the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var want string
			if tc.edit != nil {
				m := decode(t, patient)
				tc.edit(m)
				want = canonical(t, m)
			} else {
				want = canonical(t, decode(t, tc.want))
			}
			if g := canonical(t, got); g != want {
				t.Errorf("got  %s\nwant %s", g, want)
			}
		})
	}
}

// TestSpecExamples covers the examples of the R4 FHIRPath Patch page (adding birthDate, adding a
// contact made of parts) and one example of each other operation of its table, on a Patient.
func TestSpecExamples(t *testing.T) {
	model := modelOptions()
	runCases(t, []patchCase{
		{
			name: "add birthDate (spec example)",
			ops:  []map[string]any{param("add", "Patient", name("birthDate"), value("valueDate", "1930-01-01"))},
			edit: func(m map[string]any) { m["birthDate"] = "1930-01-01" },
		},
		{
			name: "add contact from parts (spec example)",
			ops: []map[string]any{param("add", "Patient", name("contact"),
				valueParts(sub("name", "valueHumanName", map[string]any{"text": "a name"})))},
			opts: &model,
			edit: func(m map[string]any) {
				m["contact"] = []any{map[string]any{"name": map[string]any{"text": "a name"}}}
			},
		},
		{
			name: "insert an identifier at the start of the list",
			ops: []map[string]any{param("insert", "Patient.identifier",
				value("valueIdentifier", map[string]any{"system": "http://b", "value": "2"}), intPartOf("index", 0))},
			edit: func(m map[string]any) {
				m["identifier"] = []any{map[string]any{"system": "http://b", "value": "2"}, m["identifier"].([]any)[0]}
			},
		},
		{
			name: "delete the usual name",
			ops:  []map[string]any{param("delete", "Patient.name.where(use = 'usual')")},
			edit: func(m map[string]any) {
				names := m["name"].([]any)
				m["name"] = []any{names[0], names[2]}
			},
		},
		{
			name: "replace gender",
			ops:  []map[string]any{param("replace", "Patient.gender", value("valueCode", "female"))},
			edit: func(m map[string]any) { m["gender"] = "female" },
		},
		{
			name: "move the maiden name to the front",
			ops:  []map[string]any{param("move", "Patient.name", intPartOf("source", 2), intPartOf("destination", 0))},
			edit: func(m map[string]any) {
				names := m["name"].([]any)
				m["name"] = []any{names[2], names[0], names[1]}
			},
		},
	})
}

func TestOperations(t *testing.T) {
	model := modelOptions()
	runCases(t, []patchCase{
		// add
		{
			name: "add a given name to an existing list (keeps _given aligned)",
			ops:  []map[string]any{param("add", "Patient.name[0]", name("given"), value("valueString", "Jr"))},
			edit: func(m map[string]any) {
				n := m["name"].([]any)[0].(map[string]any)
				n["given"] = append(n["given"].([]any), "Jr")
				n["_given"] = append(n["_given"].([]any), nil)
			},
		},
		{
			name: "add a repeating element known by default creates a list",
			ops:  []map[string]any{param("add", "Patient.name[2]", name("given"), value("valueString", "Ann"))},
			edit: func(m map[string]any) {
				m["name"].([]any)[2].(map[string]any)["given"] = []any{"Ann"}
			},
		},
		{
			name: "add a repeating element known from the model creates a list",
			ops:  []map[string]any{param("add", "Patient", name("photo"), value("valueAttachment", map[string]any{"url": "http://p"}))},
			opts: &model,
			edit: func(m map[string]any) { m["photo"] = []any{map[string]any{"url": "http://p"}} },
		},
		{
			name: "without a model an unknown element is added as a single value",
			ops:  []map[string]any{param("add", "Patient", name("photo"), value("valueAttachment", map[string]any{"url": "http://p"}))},
			edit: func(m map[string]any) { m["photo"] = map[string]any{"url": "http://p"} },
		},
		{
			name: "add an extension to a primitive",
			ops: []map[string]any{param("add", "Patient.gender", name("extension"),
				valueParts(sub("url", "valueUri", "http://ext"), sub("value", "valueString", "x")))},
			edit: func(m map[string]any) {
				m["_gender"] = map[string]any{"extension": []any{map[string]any{"url": "http://ext", "value": "x"}}}
			},
		},
		{
			name: "add an extension with a choice value named value[x]",
			ops: []map[string]any{param("add", "Patient", name("extension"),
				valueParts(sub("url", "valueUri", "http://ext"), sub("value[x]", "valueBoolean", true)))},
			edit: func(m map[string]any) {
				m["extension"] = []any{map[string]any{"url": "http://ext", "valueBoolean": true}}
			},
		},
		{
			name: "add a choice element named deceased[x]",
			ops: []map[string]any{
				param("delete", "Patient.deceased"),
				param("add", "Patient", name("deceased[x]"), value("valueDateTime", "2020-01-01")),
			},
			edit: func(m map[string]any) {
				delete(m, "deceasedBoolean")
				m["deceasedDateTime"] = "2020-01-01"
			},
		},
		{
			name: "add a choice element known from the model",
			ops:  []map[string]any{param("add", "Patient", name("multipleBirth"), value("valueInteger", json.Number("2")))},
			opts: &model,
			edit: func(m map[string]any) { m["multipleBirthInteger"] = json.Number("2") },
		},
		{
			name: "add a contact with nested parts and repeated names",
			ops: []map[string]any{param("add", "Patient", name("contact"), valueParts(
				sub("gender", "valueCode", "female"),
				sub("telecom", "valueContactPoint", map[string]any{"system": "phone", "value": "1"}),
				sub("telecom", "valueContactPoint", map[string]any{"system": "email", "value": "a@b"}),
				subParts("name", sub("family", "valueString", "Doe")),
			))},
			opts: &model,
			edit: func(m map[string]any) {
				m["contact"] = []any{map[string]any{
					"gender": "female",
					"telecom": []any{
						map[string]any{"system": "phone", "value": "1"},
						map[string]any{"system": "email", "value": "a@b"},
					},
					"name": map[string]any{"family": "Doe"},
				}}
			},
		},
		{
			name: "add to a contained resource through resolve()",
			ops:  []map[string]any{param("add", "Patient.managingOrganization.resolve()", name("alias"), value("valueString", "ACME"))},
			opts: &model,
			edit: func(m map[string]any) {
				m["contained"].([]any)[0].(map[string]any)["alias"] = []any{"ACME"}
			},
		},
		{
			name: "add a contained resource",
			ops: []map[string]any{param("add", "Patient", name("contained"),
				map[string]any{"name": "value", "resource": map[string]any{"resourceType": "Practitioner", "id": "p"}})},
			edit: func(m map[string]any) {
				m["contained"] = append(m["contained"].([]any), map[string]any{"resourceType": "Practitioner", "id": "p"})
			},
		},
		{
			name:    "add an element that exists",
			ops:     []map[string]any{param("add", "Patient", name("gender"), value("valueCode", "female"))},
			wantErr: Unprocessable,
			wantMsg: `operation 0 (add Patient): element "gender" already exists`,
		},
		{
			name:    "add a choice element that exists with another type",
			ops:     []map[string]any{param("add", "Patient", name("deceased[x]"), value("valueDateTime", "2020"))},
			wantErr: Unprocessable,
			wantMsg: `operation 0 (add Patient): element "deceased" already exists (as "deceasedBoolean")`,
		},
		{
			name:    "add where the path matches several elements",
			ops:     []map[string]any{param("add", "Patient.name", name("text"), value("valueString", "x"))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (add Patient.name): path matches 3 elements, expected one",
		},
		{
			name:    "add where the path matches nothing",
			ops:     []map[string]any{param("add", "Patient.contact", name("gender"), value("valueCode", "male"))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (add Patient.contact): path matches no element",
		},
		{
			name:    "add to another resource through resolve()",
			ops:     []map[string]any{param("add", "Patient.generalPractitioner.resolve()", name("active"), value("valueBoolean", true))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (add Patient.generalPractitioner.resolve()): path does not refer to an element inside the resource",
		},
		// insert
		{
			name: "insert at the end of a list",
			ops:  []map[string]any{param("insert", "Patient.name[1].given", value("valueString", "Jimmy"), intPartOf("index", 1))},
			edit: func(m map[string]any) {
				m["name"].([]any)[1].(map[string]any)["given"] = []any{"Jim", "Jimmy"}
			},
		},
		{
			name: "insert in the middle keeps _given aligned",
			ops:  []map[string]any{param("insert", "Patient.name[0].given", value("valueString", "P."), intPartOf("index", 1))},
			edit: func(m map[string]any) {
				n := m["name"].([]any)[0].(map[string]any)
				n["given"] = []any{"Peter", "P.", "James"}
				ext := n["_given"].([]any)
				n["_given"] = []any{nil, nil, ext[1]}
			},
		},
		{
			name: "insert into an absent list",
			ops:  []map[string]any{param("insert", "Patient.telecom", value("valueContactPoint", map[string]any{"value": "1"}), intPartOf("index", 0))},
			edit: func(m map[string]any) { m["telecom"] = []any{map[string]any{"value": "1"}} },
		},
		{
			name:    "insert beyond the end",
			ops:     []map[string]any{param("insert", "Patient.identifier", value("valueIdentifier", map[string]any{"value": "x"}), intPartOf("index", 2))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (insert Patient.identifier): index 2 out of range (the list has 1 elements)",
		},
		{
			name:    "insert into a single value",
			ops:     []map[string]any{param("insert", "Patient.gender", value("valueCode", "x"), intPartOf("index", 0))},
			wantErr: Unprocessable,
			wantMsg: `operation 0 (insert Patient.gender): "gender" is not a list`,
		},
		// delete
		{
			name: "delete a primitive with its extensions",
			ops:  []map[string]any{param("delete", "Patient.name[0].given[1]")},
			edit: func(m map[string]any) {
				n := m["name"].([]any)[0].(map[string]any)
				n["given"] = []any{"Peter"}
				delete(n, "_given") // only nulls were left
			},
		},
		{
			name: "delete the last item of a list removes the list",
			ops:  []map[string]any{param("delete", "Patient.identifier[0]")},
			edit: func(m map[string]any) { delete(m, "identifier") },
		},
		{
			name: "delete a choice element",
			ops:  []map[string]any{param("delete", "Patient.deceased")},
			edit: func(m map[string]any) { delete(m, "deceasedBoolean") },
		},
		{
			name: "delete inside a contained resource",
			ops:  []map[string]any{param("delete", "Patient.contained.where(id = 'org').name")},
			edit: func(m map[string]any) { delete(m["contained"].([]any)[0].(map[string]any), "name") },
		},
		{
			name: "delete of nothing is a no-op",
			ops:  []map[string]any{param("delete", "Patient.birthDate")},
			edit: func(map[string]any) {},
		},
		{
			name:    "delete of several elements",
			ops:     []map[string]any{param("delete", "Patient.name.given")},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (delete Patient.name.given): path matches 3 elements; only one element can be deleted",
		},
		{
			name:    "delete the resource itself",
			ops:     []map[string]any{param("delete", "Patient")},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (delete Patient): path does not refer to an element inside the resource",
		},
		// replace
		{
			name: "replace a choice element with another type",
			ops:  []map[string]any{param("replace", "Patient.deceased", value("valueDateTime", "2021-02-03"))},
			edit: func(m map[string]any) {
				delete(m, "deceasedBoolean")
				m["deceasedDateTime"] = "2021-02-03"
			},
		},
		{
			name: "replace a list item with a complex value from parts",
			ops: []map[string]any{param("replace", "Patient.name[1]", valueParts(
				sub("use", "valueCode", "nickname"), sub("given", "valueString", "Jimbo")))},
			edit: func(m map[string]any) {
				m["name"].([]any)[1] = map[string]any{"use": "nickname", "given": []any{"Jimbo"}}
			},
		},
		{
			name: "replace in a primitive list",
			ops:  []map[string]any{param("replace", "Patient.name[0].given[0]", value("valueString", "Pete"))},
			edit: func(m map[string]any) {
				m["name"].([]any)[0].(map[string]any)["given"].([]any)[0] = "Pete"
			},
		},
		{
			name:    "replace of nothing",
			ops:     []map[string]any{param("replace", "Patient.birthDate", value("valueDate", "2000"))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (replace Patient.birthDate): path matches no element",
		},
		{
			name:    "replace the resource",
			ops:     []map[string]any{param("replace", "Patient", value("valueString", "x"))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (replace Patient): path does not refer to an element inside the resource",
		},
		// move
		{
			name: "move keeps _given aligned",
			ops:  []map[string]any{param("move", "Patient.name[0].given", intPartOf("source", 1), intPartOf("destination", 0))},
			edit: func(m map[string]any) {
				n := m["name"].([]any)[0].(map[string]any)
				n["given"] = []any{"James", "Peter"}
				ext := n["_given"].([]any)
				n["_given"] = []any{ext[1], nil}
			},
		},
		{
			name:    "move from beyond the end",
			ops:     []map[string]any{param("move", "Patient.name", intPartOf("source", 3), intPartOf("destination", 0))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (move Patient.name): source 3 out of range (the list has 3 elements)",
		},
		{
			name:    "move to beyond the end",
			ops:     []map[string]any{param("move", "Patient.name", intPartOf("source", 0), intPartOf("destination", 3))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (move Patient.name): destination 3 out of range (the list has 3 elements)",
		},
		{
			name:    "move in an absent list",
			ops:     []map[string]any{param("move", "Patient.telecom", intPartOf("source", 0), intPartOf("destination", 0))},
			wantErr: Unprocessable,
			wantMsg: "operation 0 (move Patient.telecom): path matches no element",
		},
		// sequences
		{
			name: "operations apply in order",
			ops: []map[string]any{
				param("add", "Patient", name("birthDate"), value("valueDate", "1930-01-01")),
				param("replace", "Patient.birthDate", value("valueDate", "1931-01-01")),
				param("insert", "Patient.identifier", value("valueIdentifier", map[string]any{"value": "0"}), intPartOf("index", 0)),
				param("move", "Patient.identifier", intPartOf("source", 0), intPartOf("destination", 1)),
				param("delete", "Patient.identifier[0]"),
			},
			edit: func(m map[string]any) {
				m["birthDate"] = "1931-01-01"
				m["identifier"] = []any{map[string]any{"value": "0"}}
			},
		},
		{
			name: "a failing operation applies nothing",
			ops: []map[string]any{
				param("replace", "Patient.gender", value("valueCode", "female")),
				param("replace", "Patient.photo", value("valueAttachment", map[string]any{})),
			},
			wantErr: Unprocessable,
			wantMsg: "operation 1 (replace Patient.photo): path matches no element",
		},
	})
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		msg    string
	}{
		{"not Parameters", map[string]any{"resourceType": "Patient"}, "invalid patch: the patch is not a Parameters resource"},
		{"parameter not an array", map[string]any{"resourceType": "Parameters", "parameter": map[string]any{}}, "invalid patch: Parameters.parameter is not an array"},
		{"parameter not named operation", parameters(map[string]any{"name": "op", "part": []any{}}), `operation 0: parameter is named "op", expected "operation"`},
		{"no parts", parameters(map[string]any{"name": "operation"}), "operation 0: operation has no parts"},
		{"unknown type", parameters(param("upsert", "Patient")), `operation 0 (upsert Patient): unknown operation type "upsert"`},
		{"missing type", parameters(map[string]any{"name": "operation", "part": []any{map[string]any{"name": "path", "valueString": "Patient"}}}), `operation 0 (Patient): missing part "type"`},
		{"missing path", parameters(map[string]any{"name": "operation", "part": []any{map[string]any{"name": "type", "valueCode": "delete"}}}), `operation 0 (delete): missing part "path"`},
		{"bad path", parameters(param("delete", "Patient.")), `operation 0 (delete Patient.): invalid path: expected a name after '.', found end of expression at offset 8`},
		{"missing name", parameters(param("add", "Patient", value("valueDate", "2000"))), `operation 0 (add Patient): missing part "name"`},
		{"missing value", parameters(param("add", "Patient", name("birthDate"))), `operation 0 (add Patient): missing part "value"`},
		{"missing index", parameters(param("insert", "Patient.name", value("valueString", "x"))), `operation 0 (insert Patient.name): missing part "index"`},
		{"missing source", parameters(param("move", "Patient.name", intPartOf("destination", 0))), `operation 0 (move Patient.name): missing part "source"`},
		{"negative index", parameters(param("insert", "Patient.name", value("valueString", "x"), map[string]any{"name": "index", "valueInteger": json.Number("-1")})), `operation 0 (insert Patient.name): part "index": valueInteger is negative`},
		{"index not an integer", parameters(param("insert", "Patient.name", value("valueString", "x"), map[string]any{"name": "index", "valueString": "1"})), `operation 0 (insert Patient.name): part "index": valueString is not an integer`},
		{"unknown part", parameters(param("delete", "Patient.name", map[string]any{"name": "where", "valueString": "x"})), `operation 0 (delete Patient.name): unknown part "where"`},
		{"repeated part", parameters(param("delete", "Patient.name", map[string]any{"name": "path", "valueString": "x"})), `operation 0 (delete Patient.name): part "path" is repeated`},
		{"insert path not ending in a name", parameters(param("insert", "Patient.name.first()", value("valueString", "x"), intPartOf("index", 0))), `operation 0 (insert Patient.name.first()): the path of insert must end with the name of the list element`},
		{"bad element name", parameters(param("add", "Patient", name("a.b"), value("valueString", "x"))), `operation 0 (add Patient): invalid element name "a.b"`},
		{"value with two value[x]", parameters(param("replace", "Patient.gender", map[string]any{"name": "value", "valueCode": "a", "valueString": "b"})), `operation 0 (replace Patient.gender): part "value" must have exactly one of value[x], resource or part`},
		{"unknown value type", parameters(param("replace", "Patient.gender", value("valueFoo", "a"))), `operation 0 (replace Patient.gender): unknown value type "valueFoo"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply(decode(t, patient), tc.params)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a *Error", got, err)
			}
			if pe.Kind != InvalidPatch {
				t.Errorf("kind %v, want InvalidPatch", pe.Kind)
			}
			if err.Error() != tc.msg {
				t.Errorf("message\n got %q\nwant %q", err.Error(), tc.msg)
			}
		})
	}
	if _, err := Apply(nil, parameters()); err == nil {
		t.Error("nil resource accepted")
	}
	got, err := Apply(decode(t, patient), map[string]any{"resourceType": "Parameters"})
	if err != nil || canonical(t, got) != canonical(t, decode(t, patient)) {
		t.Errorf("empty patch: %v", err)
	}
}

// TestRealExample patches the official Patient example.
func TestRealExample(t *testing.T) {
	data, err := os.ReadFile(sharedtest.Path(t, "examples", "Patient-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := decode(t, string(data))
	params := parameters(
		param("replace", "Patient.birthDate", value("valueDate", "1974-12-26")),
		param("delete", "Patient.telecom.where(use = 'old')"),
		param("move", "Patient.name", intPartOf("source", 2), intPartOf("destination", 0)),
		param("add", "Patient.contact[0].name.family", name("extension"),
			valueParts(sub("url", "valueUri", "http://example.org/x"), sub("value[x]", "valueString", "y"))),
	)
	got, err := Apply(res, params)
	if err != nil {
		t.Fatal(err)
	}
	if got["birthDate"] != "1974-12-26" {
		t.Errorf("birthDate %v", got["birthDate"])
	}
	if _, ok := got["_birthDate"]; !ok {
		t.Errorf("replace dropped the birthDate extension")
	}
	if n := len(got["telecom"].([]any)); n != 3 {
		t.Errorf("%d telecoms, want 3", n)
	}
	if use := got["name"].([]any)[0].(map[string]any)["use"]; use != "maiden" {
		t.Errorf("first name use %v", use)
	}
	fam := got["contact"].([]any)[0].(map[string]any)["name"].(map[string]any)["_family"].(map[string]any)
	if n := len(fam["extension"].([]any)); n != 2 {
		t.Errorf("%d family extensions, want 2", n)
	}
	if reflect.DeepEqual(got, res) {
		t.Error("the input was returned unchanged")
	}
	out, err := json.Marshal(got)
	if err != nil || !bytes.Contains(out, []byte(`"valueString":"y"`)) {
		t.Errorf("marshal: %v %s", err, out)
	}
}

func TestPrune(t *testing.T) {
	res := decode(t, `{"resourceType": "Patient", "birthDate": "2000", "_birthDate": {"extension": [{"url": "u", "valueString": "v"}]},
		"name": [{"given": ["a", "b"], "_given": [{"extension": [{"url": "u", "valueString": "v"}]}, {"id": "x"}]}]}`)
	got, err := Apply(res, parameters(
		param("delete", "Patient.birthDate.extension"),
		param("delete", "Patient.name.given[0].extension"),
	))
	if err != nil {
		t.Fatal(err)
	}
	want := canonical(t, decode(t, `{"resourceType": "Patient", "birthDate": "2000", "name": [{"given": ["a", "b"], "_given": [null, {"id": "x"}]}]}`))
	if g := canonical(t, got); g != want {
		t.Errorf("got  %s\nwant %s", g, want)
	}
	got, err = Apply(got, parameters(param("delete", "Patient.name.given[1].id")))
	if err != nil {
		t.Fatal(err)
	}
	want = canonical(t, decode(t, `{"resourceType": "Patient", "birthDate": "2000", "name": [{"given": ["a", "b"]}]}`))
	if g := canonical(t, got); g != want {
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

func TestPrimitiveArraysWithExtensionsOnly(t *testing.T) {
	const doc = `{"resourceType": "Patient", "name": [{"given": ["a"], "_given": [null, {"id": "g2"}, {"id": "g3"}]}]}`
	got, err := Apply(decode(t, doc), parameters(param("replace", "Patient.name.given[1]", value("valueString", "b"))))
	if err != nil {
		t.Fatal(err)
	}
	want := canonical(t, decode(t, `{"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [null, {"id": "g2"}, {"id": "g3"}]}]}`))
	if g := canonical(t, got); g != want {
		t.Errorf("replace: got %s\nwant %s", g, want)
	}
	got, err = Apply(decode(t, doc), parameters(param("delete", "Patient.name.given[2]")))
	if err != nil {
		t.Fatal(err)
	}
	want = canonical(t, decode(t, `{"resourceType": "Patient", "name": [{"given": ["a"], "_given": [null, {"id": "g2"}]}]}`))
	if g := canonical(t, got); g != want {
		t.Errorf("delete: got %s\nwant %s", g, want)
	}
}
