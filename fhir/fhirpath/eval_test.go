package fhirpath

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

const inlineResource = `{
  "resourceType": "Observation",
  "id": "o1",
  "contained": [{"resourceType": "Patient", "id": "p1", "name": [{"given": ["Ann"]}]}],
  "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "1-1"}, {"system": "http://x", "code": "A"}], "text": "Thing"},
  "subject": {"reference": "#p1"},
  "performer": [
    {"reference": "Practitioner/pr1"},
    {"reference": "http://example.org/fhir/Organization/org1/_history/3"},
    {"reference": "urn:uuid:0b0b0b0b-0000-0000-0000-000000000000", "type": "RelatedPerson"},
    {"identifier": {"value": "only-identifier"}},
    {"reference": "urn:uuid:1c1c1c1c-0000-0000-0000-000000000000"}
  ],
  "valueQuantity": {"value": 1.50, "unit": "kg"},
  "note": [{"text": "a"}, {"text": "b"}, {"text": "a"}],
  "component": [
    {"code": {"text": "c1"}, "valueString": "s"},
    {"code": {"text": "c2"}, "valueInteger": 3},
    {"code": {"text": "c3"}, "valueBoolean": true}
  ],
  "identifier": [{"value": "x", "_value": {"extension": [{"url": "u", "valueCode": "c"}]}}],
  "_issued": {"extension": [{"url": "http://example.org/no-value", "valueString": "why"}]},
  "category": [{"coding": [{"code": "vital-signs"}]}],
  "interpretation": [null],
  "referenceRange": [{"text": "one"}],
  "focus": [{"display": "f"}],
  "method": {"coding": [{"code": "m"}]},
  "device": {"display": "d"},
  "specimen": {"display": "s"},
  "bodySite": {"text": "site"},
  "dataAbsentReason": {"text": "none"},
  "hasMember": [],
  "derivedFrom": []
}`

func evalInline(t *testing.T, expr string) ([]Node, error) {
	t.Helper()
	e, err := Compile(expr)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	return e.Evaluate(decodeJSON(t, []byte(inlineResource)))
}

func TestEvaluateInline(t *testing.T) {
	tests := []struct {
		expr      string
		want      []string
		wantTypes []string
	}{
		// paths and choice types
		{expr: "status", want: []string{"final"}},
		{expr: "Observation.code.coding.code", want: []string{"1-1", "A"}},
		{expr: "Observation.value", want: []string{`{"unit":"kg","value":1.50}`}, wantTypes: []string{"Quantity"}},
		{expr: "Observation.value.value", want: []string{"1.50"}, wantTypes: []string{"decimal"}},
		{expr: "Observation.component.value", want: []string{"s", "3", "true"}, wantTypes: []string{"string", "integer", "boolean"}},
		{expr: "Observation.component.value.ofType(integer)", want: []string{"3"}},
		{expr: "Observation.component.value.ofType(FHIR.boolean)", want: []string{"true"}},
		{expr: "Observation.component.value.ofType(System.String)", want: nil}, // FHIR string is not System.String
		{expr: "Observation.component.value.ofType(string)", want: []string{"s"}},
		{expr: "Observation.component.value.ofType(integer)", want: []string{"3"}},
		{expr: "Observation.component.value.ofType(Integer)", want: nil},
		{expr: "Observation.component.value.where($this is string)", want: []string{"s"}},
		{expr: "Observation.value is Quantity", want: []string{"true"}},
		{expr: "Observation.value is FHIR.Quantity", want: []string{"true"}},
		{expr: "Observation.value.is(Range)", want: []string{"false"}},
		{expr: "Observation is DomainResource", want: []string{"true"}},
		{expr: "Observation.nothing", want: []string{}},
		{expr: "Observation.interpretation", want: []string{}},
		{expr: "Observation.hasMember.exists()", want: []string{"false"}},
		// primitive extensions
		{expr: "identifier.value.extension.url", want: []string{"u"}},
		{expr: "identifier.value.extension('u').value", want: []string{"c"}, wantTypes: []string{"code"}},
		{expr: "Observation.issued.exists()", want: []string{"true"}},
		{expr: "Observation.issued.hasValue()", want: []string{"false"}},
		{expr: "Observation.issued.extension.value", want: []string{"why"}},
		// resolve()
		{expr: "subject.resolve().name.given", want: []string{"Ann"}},
		{expr: "subject.resolve() is Patient", want: []string{"true"}},
		{expr: "performer.resolve().id", want: []string{"pr1", "org1"}},
		{expr: "performer.where(resolve() is Organization).reference", want: []string{"http://example.org/fhir/Organization/org1/_history/3"}},
		{expr: "performer.where(resolve() is RelatedPerson).type", want: []string{"RelatedPerson"}},
		{expr: "performer.resolve().count()", want: []string{"3"}},
		{expr: "'Patient/123'.resolve().id", want: []string{"123"}},
		// collections and indexers
		{expr: "note.text", want: []string{"a", "b", "a"}},
		{expr: "note.text.distinct()", want: []string{"a", "b"}},
		{expr: "note.text.isDistinct()", want: []string{"false"}},
		{expr: "note.text | note.text", want: []string{"a", "b"}},
		{expr: "note.text.combine(note.text).count()", want: []string{"6"}},
		{expr: "note[1].text", want: []string{"b"}},
		{expr: "note[5].text", want: []string{}},
		{expr: "note.text[0]", want: []string{"a"}},
		{expr: "note.tail().text", want: []string{"b", "a"}},
		{expr: "note.skip(2).text", want: []string{"a"}},
		{expr: "note.take(1).text", want: []string{"a"}},
		{expr: "note.select(text)", want: []string{"a", "b", "a"}},
		{expr: "note.where($this.text = 'a').count()", want: []string{"2"}},
		{expr: "note.where($index > 0).text", want: []string{"b", "a"}},
		{expr: "note.all(text.exists())", want: []string{"true"}},
		{expr: "{}.count()", want: []string{"0"}},
		{expr: "{} | note[0].text", want: []string{"a"}},
		{expr: "code.coding.code contains 'A'", want: []string{"true"}},
		{expr: "'A' in code.coding.code", want: []string{"true"}},
		{expr: "'B' in code.coding.code", want: []string{"false"}},
		// equality and three-valued logic
		{expr: "status = 'final'", want: []string{"true"}},
		{expr: "status != 'final'", want: []string{"false"}},
		{expr: "nothing = 'final'", want: []string{}},
		{expr: "Observation.value.value = 1.5", want: []string{"true"}},
		{expr: "Observation.value.value = 1.500", want: []string{"true"}},
		{expr: "Observation.value.value = 2", want: []string{"false"}},
		{expr: "Observation.value.value > 1", want: []string{"true"}},
		{expr: "code.text ~ 'thing'", want: []string{"true"}},
		{expr: "code.text !~ 'thing'", want: []string{"false"}},
		{expr: "true and nothing", want: []string{}},
		{expr: "false and nothing", want: []string{"false"}},
		{expr: "true or nothing", want: []string{"true"}},
		{expr: "false or nothing", want: []string{}},
		{expr: "true xor false", want: []string{"true"}},
		{expr: "false implies nothing", want: []string{"true"}},
		{expr: "nothing implies true", want: []string{"true"}},
		{expr: "nothing.not()", want: []string{}},
		{expr: "(status = 'final').not()", want: []string{"false"}},
		{expr: "component.value.ofType(boolean).allTrue()", want: []string{"true"}},
		// strings and numbers
		{expr: "status.startsWith('fin') and status.endsWith('al') and status.contains('ina')", want: []string{"true"}},
		{expr: "status.upper() & '-' & status.length().toString()", want: []string{"FINAL-5"}},
		{expr: "status.substring(1, 3)", want: []string{"ina"}},
		{expr: "1 + 2 * 3", want: []string{"7"}, wantTypes: []string{"integer"}},
		{expr: "(1 + 2) * 3", want: []string{"9"}},
		{expr: "7 div 2 | 7 mod 2", want: []string{"3", "1"}},
		{expr: "1.1 + 2.2", want: []string{"3.3"}, wantTypes: []string{"decimal"}},
		{expr: "1 / 3", want: []string{"0.33333333"}},
		{expr: "1 / 0", want: []string{}},
		{expr: "-Observation.value.value", want: []string{"-1.50"}},
		{expr: "-(-2)", want: []string{"2"}},
		{expr: "'a' + 'b'", want: []string{"ab"}},
		{expr: "iif(status = 'final', 'done', 'open')", want: []string{"done"}},
		{expr: "iif(status = 'draft', 'done')", want: []string{}},
		// variables
		{expr: "%resource.id", want: []string{"o1"}},
		{expr: "%context.id", want: []string{"o1"}},
		{expr: "$this.id", want: []string{"o1"}},
		{expr: "%ucum", want: []string{"http://unitsofmeasure.org"}},
		{expr: "@2020-01-02 = @2020-01-02", want: []string{"true"}},
		{expr: "@2020-01-02T10:00:00Z", want: []string{"2020-01-02T10:00:00Z"}, wantTypes: []string{"System.DateTime"}},
		{expr: "`status`", want: []string{"final"}},
		{expr: "'it''s'.length()", want: nil}, // not valid: checked by compile test
	}
	for _, tc := range tests {
		if tc.want == nil {
			continue
		}
		t.Run(tc.expr, func(t *testing.T) {
			got, err := evalInline(t, tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(strs(got), tc.want) {
				t.Errorf("got %q, want %q", strs(got), tc.want)
			}
			if tc.wantTypes != nil && !slices.Equal(types(got), tc.wantTypes) {
				t.Errorf("types %q, want %q", types(got), tc.wantTypes)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"note.text.memberOf('http://hl7.org/fhir/ValueSet/x')", "memberOf() is not supported"},
		{"note.where(text)", ""}, // single string per item: true, no error
		{"note.where(%resource.note.text)", "expected a single boolean, got 3 items"},
		{"note.text.single()", "single() on 3 items"},
		{"note.text.startsWith('a')", "must be a single string"},
		{"status.startsWith(1)", "must be a string"},
		{"note.text > 'a'", "needs single items"},
		{"code > 1", "cannot compare"},
		{"note[note]", "expected a single integer"},
		{"descendants()" + strings.Repeat(".select(%resource.descendants())", 4) + ".count()", "nodes produced"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := evalInline(t, tc.expr)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not an *EvalError", err)
			}
		})
	}
	_, err := evalInline(t, "memberOf('x')")
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("memberOf error %v does not wrap ErrNotSupported", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr string
		pos  int
		msg  string
	}{
		{"", 0, "empty expression"},
		{"   ", 0, "empty expression"},
		{"Patient.", 8, "expected a name after '.'"},
		{"Patient..name", 8, "expected a name after '.'"},
		{"Patient.name(", 8, "unknown function name()"},
		{"Patient.foo()", 8, "unknown function foo()"},
		{"where()", 0, "where() takes 1 argument(s), got 0"},
		{"substring(1, 2, 3)", 0, "takes 1 to 2 argument(s), got 3"},
		{"'abc", 0, "unterminated string"},
		{"`abc", 0, "unterminated delimited identifier"},
		{"'a\\qb'", 2, "invalid escape"},
		{"1 +", 3, "unexpected end of expression"},
		{"(1 + 2", 6, `expected ")"`},
		{"a[1", 3, `expected "]"`},
		{"a is", 4, "expected a type name"},
		{"a.as(b.c.d)", 5, "as() expects a type name"},
		{"ofType('x')", 7, "ofType() expects a type name"},
		{"%nope", 0, "unknown environment variable %nope"},
		{"$totals", 0, "unsupported variable $totals"},
		{"a # b", 2, "unexpected character '#'"},
		{"a b", 2, `unexpected "b"`},
		{"@x", 0, "invalid date/time literal"},
		{"/* open", 0, "unterminated comment"},
		{"{1}", 1, `expected "}"`},
		{")", 0, `unexpected ")"`},
		{strings.Repeat("(", MaxDepth+5) + "1" + strings.Repeat(")", MaxDepth+5), -1, "nested deeper than"},
		{strings.Repeat("-", MaxDepth+5) + "1", -1, "nested deeper than"},
		{"a" + strings.Repeat(".a", MaxDepth+5), -1, "nested deeper than"},
		{"a" + strings.Repeat(" | a", MaxDepth+5), -1, "nested deeper than"},
		{strings.Repeat("a", MaxExpressionLength+1), MaxExpressionLength, "longer than"},
	}
	for _, tc := range tests {
		name := tc.expr
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		t.Run(name, func(t *testing.T) {
			_, err := Compile(tc.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a *SyntaxError", err, err)
			}
			if tc.pos >= 0 && se.Pos != tc.pos {
				t.Errorf("pos %d, want %d (%v)", se.Pos, tc.pos, err)
			}
			if !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", se.Msg, tc.msg)
			}
		})
	}
}

// TestLocation checks that result nodes carry enough location to mutate the resource.
func TestLocation(t *testing.T) {
	doc := decodeJSON(t, []byte(inlineResource)).(map[string]any)
	got, err := MustCompile("note[1].text").Evaluate(doc)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if got[0].Key != "text" || got[0].Index != -1 {
		t.Fatalf("node %+v", got[0])
	}
	got[0].Parent[got[0].Key] = "changed"
	if doc["note"].([]any)[1].(map[string]any)["text"] != "changed" {
		t.Fatalf("mutation through Parent did not reach the resource")
	}

	notes, _ := MustCompile("Observation.note").Evaluate(doc)
	for i, n := range notes {
		if n.Parent == nil || n.Key != "note" || n.Index != i || n.Name != "note" {
			t.Fatalf("note %d: %+v", i, n)
		}
	}
	v, _ := MustCompile("Observation.value").Evaluate(doc)
	if len(v) != 1 || v[0].Key != "valueQuantity" || v[0].Name != "value" || v[0].Index != -1 {
		t.Fatalf("value node %+v", v)
	}
	root, _ := MustCompile("Observation").Evaluate(doc)
	if len(root) != 1 || root[0].Located() || root[0].Type != "Observation" {
		t.Fatalf("root node %+v", root)
	}
	c, _ := MustCompile("subject.resolve()").Evaluate(doc)
	if len(c) != 1 || c[0].Key != "contained" || c[0].Index != 0 || c[0].Type != "Patient" {
		t.Fatalf("contained node %+v", c)
	}
	synth, _ := MustCompile("performer[0].resolve()").Evaluate(doc)
	if len(synth) != 1 || synth[0].Located() || synth[0].Type != "Practitioner" {
		t.Fatalf("synthetic node %+v", synth)
	}
	ext, _ := MustCompile("Observation.issued").Evaluate(doc)
	if len(ext) != 1 || ext[0].Value != nil || ext[0].PrimitiveElement() == nil || ext[0].Key != "issued" {
		t.Fatalf("extension-only primitive %+v", ext)
	}
}

func TestEvaluateNode(t *testing.T) {
	doc := decodeJSON(t, []byte(inlineResource))
	comps, err := MustCompile("Observation.component").Evaluate(doc)
	if err != nil || len(comps) != 3 {
		t.Fatalf("%v %v", comps, err)
	}
	sub := MustCompile("code.text | value.as(integer) | %resource.id | %context.code.text")
	var got []string
	for _, c := range comps {
		res, err := sub.EvaluateNode(doc, c)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join(strs(res), ","))
	}
	want := []string{"c1,o1", "c2,3,o1", "c3,o1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEvaluateOddInputs(t *testing.T) {
	e := MustCompile("Patient.name.given | descendants() | resolve() | children()")
	for _, v := range []any{nil, "text", true, []any{1, "x"}, map[string]any{}, map[string]any{"resourceType": 5},
		map[string]any{"a": []any{[]any{"nested"}, nil}}, float64(1.5)} {
		if _, err := e.Evaluate(v); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
	got, err := MustCompile("a.count() | b.extension.url").Evaluate(map[string]any{
		"a": []any{"x"}, "_a": []any{nil, map[string]any{"id": "2"}},
		"b": []any{"v"}, "_b": []any{map[string]any{"extension": []any{map[string]any{"url": "u"}}}},
	})
	if err != nil || !slices.Equal(strs(got), []string{"2", "u"}) {
		t.Errorf("primitive arrays with extensions: %q %v", strs(got), err)
	}
	got, err = MustCompile("a").Evaluate(map[string]any{"a": []any{[]any{"x", []any{"y"}}, "z"}})
	if err != nil || !slices.Equal(strs(got), []string{"x", "y", "z"}) {
		t.Errorf("nested arrays: %q %v", strs(got), err)
	}
}

func TestParseReference(t *testing.T) {
	tests := []struct{ ref, typ, id string }{
		{"Patient/123", "Patient", "123"},
		{"http://example.org/fhir/Patient/123", "Patient", "123"},
		{"http://example.org/fhir/Patient/123/_history/4", "Patient", "123"},
		{"Patient/123/_history/4", "Patient", "123"},
		{"http://hl7.org/fhir/ValueSet/abc|4.0.1", "ValueSet", "abc"},
		{"Patient/123?x=1", "Patient", "123"},
		{"urn:uuid:0b0b0b0b-0000-0000-0000-000000000000", "", ""},
		{"#p1", "", ""},
		{"Unknown/123", "", ""},
		{"Patient/", "", ""},
		{"Patient/a b", "", ""},
		{"123", "", ""},
		{"Patient/_history/4", "", ""},
		{"Patient/123/_history", "", ""},
		{"a/Patient/123/_history/", "Patient", "123"},
		{"_history/Patient/123", "Patient", "123"},
		{"/Patient/123/_history/4/", "", ""},
		{"Patient//_history/4", "", ""},
	}
	for _, tc := range tests {
		typ, id := ParseReference(tc.ref)
		if typ != tc.typ || id != tc.id {
			t.Errorf("ParseReference(%q) = %q, %q; want %q, %q", tc.ref, typ, id, tc.typ, tc.id)
		}
		if typ, id := parseReferenceBySegments(tc.ref); typ != tc.typ || id != tc.id {
			t.Errorf("parseReferenceBySegments(%q) = %q, %q; want %q, %q", tc.ref, typ, id, tc.typ, tc.id)
		}
	}
}

// parseReferenceBySegments is the definition of ParseReference, on the list of the path's segments.
func parseReferenceBySegments(ref string) (typ, id string) {
	if i := strings.IndexByte(ref, '|'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	segs := strings.Split(ref, "/")
	if n := len(segs); n >= 4 && segs[n-2] == "_history" {
		segs = segs[:n-2]
	}
	n := len(segs)
	if n < 2 || !IsResourceType(segs[n-2]) || !validID(segs[n-1]) {
		return "", ""
	}
	return segs[n-2], segs[n-1]
}

// FuzzParseReference checks ParseReference against its definition on arbitrary references.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"Patient/1", "http://x/Patient/1/_history/2", "a/_history/Patient/1", "Patient/1|2", "//", "_history/_history/Patient/1/_history/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		typ, id := ParseReference(ref)
		wtyp, wid := parseReferenceBySegments(ref)
		if typ != wtyp || id != wid {
			t.Errorf("ParseReference(%q) = %q, %q; want %q, %q", ref, typ, id, wtyp, wid)
		}
	})
}

func TestChoiceType(t *testing.T) {
	tests := []struct{ key, name, typ string }{
		{"valueQuantity", "value", "Quantity"},
		{"deceasedDateTime", "deceased", "dateTime"},
		{"valueCodeableConcept", "value", "CodeableConcept"},
		{"valueBase64Binary", "value", "base64Binary"},
		{"onsetAge", "onset", "Age"},
		{"value", "", ""},
		{"Quantity", "", ""},
		{"statusReason", "", ""},
	}
	for _, tc := range tests {
		name, typ, ok := ChoiceType(tc.key)
		if name != tc.name || typ != tc.typ || ok != (tc.typ != "") {
			t.Errorf("ChoiceType(%q) = %q, %q, %v", tc.key, name, typ, ok)
		}
	}
	if s, ok := ChoiceSuffix("dateTime"); !ok || s != "DateTime" {
		t.Errorf("ChoiceSuffix(dateTime) = %q, %v", s, ok)
	}
}

func TestSplitLast(t *testing.T) {
	tests := []struct {
		expr, parent, name string
		ok                 bool
	}{
		{"Patient.contact.telecom", "Patient.contact", "telecom", true},
		{"Patient.name.where(use = 'official').given", "Patient.name.where(use = 'official')", "given", true},
		{"Patient . identifier", "Patient", "identifier", true},
		{"identifier", "$this", "identifier", true},
		{"Patient", "", "", false},
		{"Patient.name[0]", "", "", false},
		{"Patient.name.first()", "", "", false},
		{"a | b", "", "", false},
	}
	doc := decodeJSON(t, []byte(inlineResource))
	for _, tc := range tests {
		parent, name, ok := MustCompile(tc.expr).SplitLast()
		if ok != tc.ok || name != tc.name || (ok && parent.String() != tc.parent) {
			t.Errorf("SplitLast(%q) = %v, %q, %v", tc.expr, parent, name, ok)
			continue
		}
		if ok {
			if _, err := parent.Evaluate(doc); err != nil {
				t.Errorf("%q: parent does not evaluate: %v", tc.expr, err)
			}
		}
	}
	parent, _, _ := MustCompile("note").SplitLast()
	got, err := parent.Evaluate(doc)
	if err != nil || len(got) != 1 || got[0].Type != "Observation" {
		t.Errorf("$this parent: %v %v", got, err)
	}
}

// TestConcurrentEvaluate evaluates one compiled expression from several goroutines (run with -race).
func TestConcurrentEvaluate(t *testing.T) {
	e := MustCompile("(Observation.value as Quantity).value | Observation.subject.where(resolve() is Patient).reference | note.text.distinct()")
	doc := decodeJSON(t, []byte(inlineResource))
	want := []string{"1.50", "#p1", "a", "b"}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				got, err := e.Evaluate(doc)
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(strs(got), want) {
					errs <- fmt.Errorf("got %q", strs(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
