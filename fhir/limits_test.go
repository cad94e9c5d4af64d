package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// shapeOf counts a valid document's values (member names aside) and its deepest nesting with the
// standard library's tokenizer: the reference JSONLimits.Check must agree with.
func shapeOf(t testing.TB, b []byte) (values, depth int) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct{ object, key bool }
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return values, depth
		}
		if err != nil {
			t.Fatalf("reference tokenizer: %v", err)
		}
		isKey := false
		if n := len(stack); n > 0 && stack[n-1].object {
			if _, ok := tok.(json.Delim); !ok || tok == json.Delim('{') || tok == json.Delim('[') {
				isKey = stack[n-1].key
				stack[n-1].key = !stack[n-1].key
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			values++
			stack = append(stack, frame{object: tok == json.Delim('{'), key: true})
			depth = max(depth, len(stack))
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if !isKey {
				values++
			}
		}
	}
}

func checkShape(t *testing.T, b []byte) {
	values, depth := shapeOf(t, b)
	if depth > 64 {
		return // beyond what the scanner remembers of keys; the depth limit refuses it long before
	}
	if err := (JSONLimits{MaxDepth: depth, MaxValues: values}).Check(b); err != nil {
		t.Fatalf("%q (%d values, depth %d) refused at its own limits: %v", b, values, depth, err)
	}
	if values > 1 { // (a limit of 0 is no limit)
		err := (JSONLimits{MaxValues: values - 1}).Check(b)
		if fe := AsError(err); err == nil || fe.Limit != "max-json-values" || fe.Kind != KindTooCostly {
			t.Fatalf("%q (%d values) accepted with a limit of %d: %v", b, values, values-1, err)
		}
	}
	if depth > 1 {
		err := (JSONLimits{MaxDepth: depth - 1}).Check(b)
		if fe := AsError(err); err == nil || fe.Limit != "max-json-depth" {
			t.Fatalf("%q (depth %d) accepted with a limit of %d: %v", b, depth, depth-1, err)
		}
	}
}

func TestJSONLimitsCountLikeTheTokenizer(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"x"}`, `{"resourceType":"Patient","name":[{"given":["a","b"]}]}`,
		`{"a":"with \"quotes\" and \\ and , : { [","b":true,"c":false,"d":-1.5e3}`,
		` { "a" : [ [ [ ] ] , { } ] } `, `"just a string"`, `[1,[2,[3,[4]]]]`, `{"a":{"b":{"c":{"d":{}}}}}`,
		`{"k":"v","k2":["v",{"k3":"v"}],"k4":{"k5":[]}}`,
	} {
		checkShape(t, []byte(doc))
	}
}

func TestJSONLimitsAtTheLimit(t *testing.T) {
	// 1,000 values: a resource and 999 given names... less the name object, array and the type string.
	body := `{"resourceType":"Patient","name":[{"given":[` + strings.Repeat(`"a",`, 995) + `"a"]}]}`
	if v, _ := shapeOf(t, []byte(body)); v != 1001 {
		t.Fatalf("the fixture has %d values", v)
	}
	if err := (JSONLimits{MaxDepth: 5, MaxValues: 1001}).Check([]byte(body)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	err := (JSONLimits{MaxDepth: 5, MaxValues: 1000}).Check([]byte(body))
	fe := AsError(err)
	if fe.Kind != KindTooCostly || fe.Kind.Status() != 400 || !strings.Contains(fe.Details, "1000") || !strings.Contains(fe.Details, "--max-json-values") {
		t.Fatalf("one beyond: %v (%v)", err, fe.Kind)
	}
	deep := strings.Repeat(`[`, 65) + strings.Repeat(`]`, 65)
	if err := (JSONLimits{MaxDepth: 65}).Check([]byte(deep)); err != nil {
		t.Fatalf("depth 65 at a limit of 65: %v", err)
	}
	if fe := AsError((JSONLimits{MaxDepth: 64}).Check([]byte(deep))); fe == nil || fe.Limit != "max-json-depth" || !strings.Contains(fe.Details, "64") {
		t.Fatalf("depth 65 at a limit of 64: %v", fe)
	}
}

func FuzzJSONLimits(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[[[]]]`, `"x\"y"`, `{"a":"\\"}`, `{"":{"":[""]}}`, `[1,2e5,-0.1,true]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Any input: no panic, and an answer.
		_ = (JSONLimits{MaxDepth: 8, MaxValues: 50}).Check(b)
		if json.Valid(b) {
			checkShape(t, b)
		}
	})
}
