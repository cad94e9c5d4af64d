package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"fhirgate/internal/sharedtest"
)

func TestParseObjectKeepsOrderAndExactValues(t *testing.T) {
	in := `{"resourceType":"Observation", "id":"x",
	  "valueQuantity": {"value": 1.50, "unit":"mg"}, "status":"final", "big": 12345678901234567890}`
	o, err := ParseObject([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range o {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "resourceType,id,valueQuantity,status,big" {
		t.Fatalf("order = %v", names)
	}
	got := string(o.Bytes())
	want := `{"resourceType":"Observation","id":"x","valueQuantity":{"value":1.50,"unit":"mg"},"status":"final","big":12345678901234567890}`
	if got != want {
		t.Fatalf("bytes:\n got %s\nwant %s", got, want)
	}
}

func TestParseObjectRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"array", `[1]`, "expected a JSON object"},
		{"duplicate", `{"a":1,"a":2}`, "duplicate member"},
		{"trailing", `{"a":1} {"b":2}`, "unexpected data"},
		{"truncated", `{"a":`, "unexpected end"},
		{"syntax", "{\n\"a\":tru}", "line 2"},
		{"empty", ``, "unexpected end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseObject([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParseResourceRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, expr string }{
		{"no type", `{"id":"1"}`, "resourceType"},
		{"unknown type", `{"resourceType":"Patinet"}`, "resourceType"},
		{"type not a string", `{"resourceType":7}`, "resourceType"},
		{"id not a string", `{"resourceType":"Patient","id":7}`, "Patient.id"},
		{"not json", `{"resourceType":"Patient",}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseResource([]byte(tc.in))
			fe := AsError(err)
			if err == nil || fe.Kind != KindInvalid || fe.Expression != tc.expr {
				t.Fatalf("err = %#v, want invalid at %q", fe, tc.expr)
			}
		})
	}
}

func TestStampSetsServerMetaOnly(t *testing.T) {
	in := []byte(`{"resourceType":"Patient","meta":{"versionId":"9","lastUpdated":"2001-01-01T00:00:00Z","tag":[{"code":"t"}]},"active":true,"id":"old"}`)
	at := time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC)
	out, err := Stamp(in, "p1", 4, at)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"4","lastUpdated":"2026-11-29T10:00:00.123Z","tag":[{"code":"t"}]},"active":true}`
	if string(out) != want {
		t.Fatalf("stamp:\n got %s\nwant %s", out, want)
	}
}

func TestSubset(t *testing.T) {
	b, err := os.ReadFile(sharedtest.Path(t, "examples", "Patient-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys := func(b []byte) []string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return sortStrings(out)
	}
	hasSubsetted := func(b []byte) bool { return strings.Contains(string(b), `"SUBSETTED"`) }
	for _, tc := range []struct {
		name     string
		summary  Summary
		elements []string
		want     []string
		subset   bool
	}{
		{"whole", SummaryFalse, nil, keys(b), false},
		{"summary", SummaryTrue, nil, []string{"_birthDate", "active", "address", "birthDate", "deceasedBoolean", "gender", "id", "identifier", "managingOrganization", "meta", "name", "resourceType", "telecom"}, true},
		{"text", SummaryText, nil, []string{"id", "meta", "resourceType", "text"}, true},
		{"data", SummaryData, nil, sortStrings(append(without(keys(b), "text"), "meta")), true},
		{"elements", SummaryFalse, []string{"name", "Patient.birthDate"}, []string{"_birthDate", "birthDate", "id", "meta", "name", "resourceType"}, true},
		{"choice element", SummaryFalse, []string{"deceased"}, []string{"deceasedBoolean", "id", "meta", "resourceType"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Subset(b, tc.summary, tc.elements)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(out); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("keys = %v\nwant %v", got, tc.want)
			}
			if hasSubsetted(out) != tc.subset {
				t.Fatalf("SUBSETTED tag present = %v, want %v", hasSubsetted(out), tc.subset)
			}
		})
	}
	// Backbone elements keep only their summary children: Patient.link.other and .type are summary,
	// Patient.contact is not summary at all.
	in := []byte(`{"resourceType":"Patient","contact":[{"gender":"male"}],"link":[{"other":{"reference":"Patient/2"},"type":"seealso","extension":[{"url":"http://x","valueString":"y"}]}]}`)
	out, err := Subset(in, SummaryTrue, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "contact") || strings.Contains(string(out), "http://x") || !strings.Contains(string(out), `"other"`) {
		t.Fatalf("summary of backbone elements: %s", out)
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func without(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func TestElementLookup(t *testing.T) {
	for _, tc := range []struct {
		path, types string
		array       bool
	}{
		{"Patient.name", "HumanName", true},
		{"Patient.name.given", "string", true},
		{"Observation.value", "Quantity|CodeableConcept|string|boolean|integer|Range|Ratio|SampledData|time|dateTime|Period", false},
		{"Questionnaire.item.item.linkId", "string", false},
		{"Observation.component.code.coding.system", "uri", false},
	} {
		e, ok := LookupElement(tc.path)
		if !ok || e.Types != tc.types || e.IsArray() != tc.array {
			t.Errorf("%s: %+v, %v", tc.path, e, ok)
		}
	}
	if _, ok := LookupElement("Patient.nope"); ok {
		t.Error("unknown element found")
	}
	if !IsResourceType("Patient") || IsResourceType("patient") || IsResourceType("Resource") || len(ResourceTypes()) != 146 {
		t.Errorf("resource types: %d", len(ResourceTypes()))
	}
}

// FuzzParseObject: the fast scanner and the careful decoder agree on every input.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{"a" : [1, {"b c":" x\" y "}],\n\t"<&>":"\u2028"}`, `{"a":1,"b":[1,{"c":"}"}],"d":"x\"y"}`, `{}`, ` { "a" : true } `, `{"a":1,"a":2}`, `{"\u0061":1}`, `[1]`, `{"a":{"b":[]}}x`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		slow, slowErr := decodeObject(b)
		fast, fastErr := ParseObject(b)
		if (slowErr == nil) != (fastErr == nil) {
			t.Fatalf("decoder err %v, ParseObject err %v", slowErr, fastErr)
		}
		if slowErr != nil {
			return
		}
		if len(slow) != len(fast) {
			t.Fatalf("%d vs %d members", len(slow), len(fast))
		}
		for i := range slow {
			if slow[i].Name != fast[i].Name || !bytes.Equal(compact(t, slow[i].Value), compact(t, fast[i].Value)) {
				t.Fatalf("member %d: %q=%s vs %q=%s", i, slow[i].Name, slow[i].Value, fast[i].Name, fast[i].Value)
			}
		}
		// Bytes writes compact JSON whatever the input's spacing, names escaped as encoding/json would.
		if out := fast.Bytes(); !json.Valid(out) || !bytes.Equal(out, compact(t, out)) {
			t.Fatalf("Bytes is not compact JSON: %s", out)
		}
		var a, b2 any
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("the decoder took %q, encoding/json does not: %v", b, err)
		}
		if err := json.Unmarshal(fast.Bytes(), &b2); err != nil {
			t.Fatalf("Bytes is not JSON: %v", err)
		}
		if !reflect.DeepEqual(a, b2) {
			t.Fatalf("Bytes changes the document: %s", fast.Bytes())
		}
	})
}

func compact(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A body its writer encoded with resourceType, id and meta first renders exactly as a parsed one.
func TestStampTemplateOfEncoded(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 123e6, time.UTC)
	for _, body := range []string{
		`{"resourceType":"AuditEvent","id":"a1","meta":{},"type":{"code":"rest"}}`,
		`{"resourceType":"AuditEvent","id":"a1","meta":{"profile":["http://x"],"security":[{"code":"BTG"}]},"recorded":"2026"}`,
		`{"resourceType":"AuditEvent","id":"a1","meta":{"profile":["p"]}}`,
	} {
		tm, ok := StampTemplateOfEncoded([]byte(body), "AuditEvent", "a1")
		if !ok {
			t.Fatalf("%s: not taken", body)
		}
		want, err := Stamp([]byte(body), "a1", 7, at)
		if err != nil {
			t.Fatal(err)
		}
		if got := tm.Render(7, at); !bytes.Equal(got, want) {
			t.Fatalf("%s renders\n%s\nwant\n%s", body, got, want)
		}
	}
	for _, body := range []string{
		`{"resourceType":"AuditEvent","id":"a2","meta":{}}`, // another id
		`{"resourceType":"Patient","id":"a1","meta":{}}`,
		`{"id":"a1","resourceType":"AuditEvent","meta":{}}`,
		`{"resourceType":"AuditEvent","id":"a1","type":{}}`,
		`{"resourceType":"AuditEvent","id":"a1","meta":{"versionId":"3"}}`,
		`{"resourceType":"AuditEvent","id":"a1","meta":{`,
		`{"resourceType": "AuditEvent","id":"a1","meta":{}}`,
	} {
		if _, ok := StampTemplateOfEncoded([]byte(body), "AuditEvent", "a1"); ok {
			t.Errorf("%s: taken", body)
		}
	}
}

// FuzzAppendJSONString: strings are escaped exactly as encoding/json escapes them (HTML escaping off).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" back \\ slash", "\b\f\n\r\t\x00\x1f\x7f", "<a&b>", "é ü 漢字 🙂",
		"\u2028\u2029", "bad \xff\xfe utf-8", "\xe2\x80", "GET /Patient?name=\"x\"&_count=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendJSONString(nil, s), MustJSON(s); !bytes.Equal(got, want) {
			t.Fatalf("%q encodes as %s, encoding/json gives %s", s, got, want)
		}
	})
}
