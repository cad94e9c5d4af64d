package jsonpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRFC6902AppendixA runs the examples of RFC 6902 Appendix A. Expected documents are written with
// this package's member order (original order kept, new members appended).
func TestRFC6902AppendixA(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		patch   string
		want    string // expected document; empty when an error is expected
		wantErr Kind
	}{
		{
			name:  "A.1 adding an object member",
			doc:   `{"foo": "bar"}`,
			patch: `[{ "op": "add", "path": "/baz", "value": "qux" }]`,
			want:  `{"foo":"bar","baz":"qux"}`,
		},
		{
			name:  "A.2 adding an array element",
			doc:   `{"foo": [ "bar", "baz" ]}`,
			patch: `[{ "op": "add", "path": "/foo/1", "value": "qux" }]`,
			want:  `{"foo":["bar","qux","baz"]}`,
		},
		{
			name:  "A.3 removing an object member",
			doc:   `{"baz": "qux", "foo": "bar"}`,
			patch: `[{ "op": "remove", "path": "/baz" }]`,
			want:  `{"foo":"bar"}`,
		},
		{
			name:  "A.4 removing an array element",
			doc:   `{"foo": [ "bar", "qux", "baz" ]}`,
			patch: `[{ "op": "remove", "path": "/foo/1" }]`,
			want:  `{"foo":["bar","baz"]}`,
		},
		{
			name:  "A.5 replacing a value",
			doc:   `{"baz": "qux", "foo": "bar"}`,
			patch: `[{ "op": "replace", "path": "/baz", "value": "boo" }]`,
			want:  `{"baz":"boo","foo":"bar"}`,
		},
		{
			name:  "A.6 moving a value",
			doc:   `{"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}`,
			patch: `[{ "op": "move", "from": "/foo/waldo", "path": "/qux/thud" }]`,
			want:  `{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`,
		},
		{
			name:  "A.7 moving an array element",
			doc:   `{"foo": [ "all", "grass", "cows", "eat" ]}`,
			patch: `[{ "op": "move", "from": "/foo/1", "path": "/foo/3" }]`,
			want:  `{"foo":["all","cows","eat","grass"]}`,
		},
		{
			name:  "A.8 testing a value: success",
			doc:   `{"baz": "qux", "foo": [ "a", 2, "c" ]}`,
			patch: `[{ "op": "test", "path": "/baz", "value": "qux" }, { "op": "test", "path": "/foo/1", "value": 2 }]`,
			want:  `{"baz":"qux","foo":["a",2,"c"]}`,
		},
		{
			name:    "A.9 testing a value: error",
			doc:     `{ "baz": "qux" }`,
			patch:   `[{ "op": "test", "path": "/baz", "value": "bar" }]`,
			wantErr: TestFailed,
		},
		{
			name:  "A.10 adding a nested member object",
			doc:   `{ "foo": "bar" }`,
			patch: `[{ "op": "add", "path": "/child", "value": { "grandchild": { } } }]`,
			want:  `{"foo":"bar","child":{"grandchild":{}}}`,
		},
		{
			name:  "A.11 ignoring unrecognized elements",
			doc:   `{ "foo": "bar" }`,
			patch: `[{ "op": "add", "path": "/baz", "value": "qux", "xyz": 123 }]`,
			want:  `{"foo":"bar","baz":"qux"}`,
		},
		{
			name:    "A.12 adding to a nonexistent target",
			doc:     `{ "foo": "bar" }`,
			patch:   `[{ "op": "add", "path": "/baz/bat", "value": "qux" }]`,
			wantErr: Unprocessable,
		},
		{
			name:    "A.13 invalid JSON patch document",
			doc:     `{ "foo": "bar" }`,
			patch:   `[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]`,
			wantErr: InvalidPatch,
		},
		{
			name:  "A.14 ~ escape ordering",
			doc:   `{"/": 9, "~1": 10}`,
			patch: `[{"op": "test", "path": "/~01", "value": 10}]`,
			want:  `{"/":9,"~1":10}`,
		},
		{
			name:    "A.15 comparing strings and numbers",
			doc:     `{"/": 9, "~1": 10}`,
			patch:   `[{"op": "test", "path": "/~01", "value": "10"}]`,
			wantErr: TestFailed,
		},
		{
			name:  "A.16 adding an array value",
			doc:   `{ "foo": ["bar"] }`,
			patch: `[{ "op": "add", "path": "/foo/-", "value": ["abc", "def"] }]`,
			want:  `{"foo":["bar",["abc","def"]]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkApply(t, tc.doc, tc.patch, tc.want, tc.wantErr, "")
		})
	}
}

// checkApply applies patch to doc and checks the output or the error kind and message.
func checkApply(t *testing.T, doc, patch, want string, wantKind Kind, wantMsg string) {
	t.Helper()
	docBytes := []byte(doc)
	orig := append([]byte(nil), docBytes...)
	got, err := Apply(docBytes, []byte(patch))
	if !bytes.Equal(docBytes, orig) {
		t.Fatalf("the input document was modified")
	}
	if wantKind != 0 {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("got %s, %v; want a *Error of kind %v", got, err, wantKind)
		}
		if pe.Kind != wantKind {
			t.Errorf("kind %v, want %v (%v)", pe.Kind, wantKind, err)
		}
		if got != nil {
			t.Errorf("output %s returned with an error", got)
		}
		if wantMsg != "" && err.Error() != wantMsg {
			t.Errorf("message %q, want %q", err.Error(), wantMsg)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		patch   string
		want    string
		wantErr Kind
		wantMsg string
	}{
		{
			name:  "numbers keep their text",
			doc:   `{"a": 1.50, "b": 1e3, "c": 12345678901234567890123, "d": -0.0}`,
			patch: `[{"op": "add", "path": "/e", "value": 2.000}, {"op": "copy", "from": "/c", "path": "/f"}]`,
			want:  `{"a":1.50,"b":1e3,"c":12345678901234567890123,"d":-0.0,"e":2.000,"f":12345678901234567890123}`,
		},
		{
			name:  "member order preserved on replace and new members appended",
			doc:   `{"resourceType": "Patient", "id": "p", "gender": "male", "active": true}`,
			patch: `[{"op": "replace", "path": "/gender", "value": "female"}, {"op": "add", "path": "/birthDate", "value": "1970"}, {"op": "add", "path": "/id", "value": "q"}]`,
			want:  `{"resourceType":"Patient","id":"q","gender":"female","active":true,"birthDate":"1970"}`,
		},
		{
			name:  "remove then re-add moves the member to the end",
			doc:   `{"a": 1, "b": 2, "c": 3}`,
			patch: `[{"op": "move", "from": "/a", "path": "/a2"}]`,
			want:  `{"b":2,"c":3,"a2":1}`,
		},
		{
			name:  "move to the same location is a no-op",
			doc:   `{"a": {"b": 1}}`,
			patch: `[{"op": "move", "from": "/a", "path": "/a"}]`,
			want:  `{"a":{"b":1}}`,
		},
		{
			name:  "move to a sibling with a shared prefix",
			doc:   `{"a": 1, "ab": {}}`,
			patch: `[{"op": "move", "from": "/a", "path": "/ab/x"}]`,
			want:  `{"ab":{"x":1}}`,
		},
		{
			name:  "copy is deep",
			doc:   `{"a": {"x": [1]}}`,
			patch: `[{"op": "copy", "from": "/a", "path": "/b"}, {"op": "add", "path": "/b/x/-", "value": 2}]`,
			want:  `{"a":{"x":[1]},"b":{"x":[1,2]}}`,
		},
		{
			name:  "the same value added twice is not shared",
			doc:   `{"a": []}`,
			patch: `[{"op": "add", "path": "/a/-", "value": {"n": 1}}, {"op": "copy", "from": "/a/0", "path": "/a/-"}, {"op": "replace", "path": "/a/1/n", "value": 2}]`,
			want:  `{"a":[{"n":1},{"n":2}]}`,
		},
		{
			name:  "replace the whole document",
			doc:   `{"a": 1}`,
			patch: `[{"op": "replace", "path": "", "value": [1, 2]}]`,
			want:  `[1,2]`,
		},
		{
			name:  "add at the root replaces the document",
			doc:   `{"a": 1}`,
			patch: `[{"op": "add", "path": "", "value": {"b": null}}]`,
			want:  `{"b":null}`,
		},
		{
			name:  "add at the end index of an array",
			doc:   `[1, 2]`,
			patch: `[{"op": "add", "path": "/2", "value": 3}, {"op": "add", "path": "/0", "value": 0}]`,
			want:  `[0,1,2,3]`,
		},
		{
			name:  "escaped pointer tokens",
			doc:   `{"a/b": {"m~n": 1}, "": {"": 2}}`,
			patch: `[{"op": "replace", "path": "/a~1b/m~0n", "value": 10}, {"op": "test", "path": "/", "value": {"": 2}}, {"op": "replace", "path": "//", "value": 3}]`,
			want:  `{"a/b":{"m~n":10},"":{"":3}}`,
		},
		{
			name:  "test compares numbers by value and objects regardless of order",
			doc:   `{"n": 1.0, "o": {"a": 1, "b": [true, null]}}`,
			patch: `[{"op": "test", "path": "/n", "value": 1}, {"op": "test", "path": "/n", "value": 10e-1}, {"op": "test", "path": "/o", "value": {"b": [true, null], "a": 1.00}}]`,
			want:  `{"n":1.0,"o":{"a":1,"b":[true,null]}}`,
		},
		{
			name:  "strings are re-escaped minimally and html is not escaped",
			doc:   `{"s": "\u00e9<&>\"\\\/\n\u0001\u2028", "t": "\ud83d\ude00"}`,
			patch: `[]`,
			want:  `{"s":"é<&>\"\\/\n\u0001\u2028","t":"😀"}`,
		},
		{
			name:  "value null is a value",
			doc:   `{"a": 1}`,
			patch: `[{"op": "replace", "path": "/a", "value": null}]`,
			want:  `{"a":null}`,
		},
		{
			name:    "replace a missing member",
			doc:     `{"resourceType": "Patient"}`,
			patch:   `[{"op": "test", "path": "/resourceType", "value": "Patient"}, {"op": "add", "path": "/active", "value": true}, {"op": "replace", "path": "/gender", "value": "male"}]`,
			wantErr: Unprocessable,
			wantMsg: "op 2 (replace /gender): path does not exist",
		},
		{
			name:    "remove a missing member",
			doc:     `{"a": 1}`,
			patch:   `[{"op": "remove", "path": "/b"}]`,
			wantErr: Unprocessable,
			wantMsg: "op 0 (remove /b): path does not exist",
		},
		{
			name:    "remove the document",
			doc:     `{"a": 1}`,
			patch:   `[{"op": "remove", "path": ""}]`,
			wantErr: Unprocessable,
			wantMsg: `op 0 (remove ""): cannot remove the whole document`,
		},
		{
			name:    "array index out of bounds",
			doc:     `{"a": [1]}`,
			patch:   `[{"op": "add", "path": "/a/2", "value": 3}]`,
			wantErr: Unprocessable,
			wantMsg: "op 0 (add /a/2): path: array index 2 out of bounds (length 1)",
		},
		{
			name:    "leading zero index",
			doc:     `{"a": [1, 2]}`,
			patch:   `[{"op": "replace", "path": "/a/01", "value": 3}]`,
			wantErr: Unprocessable,
			wantMsg: `op 0 (replace /a/01): path: invalid array index "01"`,
		},
		{
			name:    "dash is not an existing element",
			doc:     `{"a": [1, 2]}`,
			patch:   `[{"op": "remove", "path": "/a/-"}]`,
			wantErr: Unprocessable,
			wantMsg: "op 0 (remove /a/-): path does not exist",
		},
		{
			name:    "from does not exist",
			doc:     `{"a": 1}`,
			patch:   `[{"op": "copy", "from": "/x", "path": "/b"}]`,
			wantErr: Unprocessable,
			wantMsg: `op 0 (copy /b): from location "/x" does not exist`,
		},
		{
			name:    "parent is a scalar",
			doc:     `{"a": 1}`,
			patch:   `[{"op": "add", "path": "/a/b", "value": 2}]`,
			wantErr: Unprocessable,
			wantMsg: "op 0 (add /a/b): the parent of path is not an object or array",
		},
		{
			name:    "failed test leaves nothing applied",
			doc:     `{"a": 1}`,
			patch:   `[{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}]`,
			wantErr: TestFailed,
			wantMsg: "op 1 (test /a): test failed: the value differs",
		},
		{
			name:    "move into its own child",
			doc:     `{"a": {"b": {}}}`,
			patch:   `[{"op": "move", "from": "/a", "path": "/a/b/c"}]`,
			wantErr: InvalidPatch,
			wantMsg: `op 0 (move /a/b/c): "from" "/a" is a proper prefix of "path": cannot move a value into itself`,
		},
		{name: "patch not an array", doc: `{}`, patch: `{"op": "add"}`, wantErr: InvalidPatch, wantMsg: "invalid patch: the patch is not a JSON array"},
		{name: "patch not JSON", doc: `{}`, patch: `[{"op": "add",]`, wantErr: InvalidPatch},
		{name: "operation not an object", doc: `{}`, patch: `[1]`, wantErr: InvalidPatch, wantMsg: "op 0: operation is not a JSON object"},
		{name: "missing op", doc: `{}`, patch: `[{"path": "/a"}]`, wantErr: InvalidPatch, wantMsg: `op 0: missing "op"`},
		{name: "op not a string", doc: `{}`, patch: `[{"op": 1, "path": "/a"}]`, wantErr: InvalidPatch, wantMsg: `op 0: "op" is not a string`},
		{name: "unknown op", doc: `{}`, patch: `[{"op": "merge", "path": "/a"}]`, wantErr: InvalidPatch, wantMsg: `op 0 (merge /a): unknown op "merge"`},
		{name: "missing path", doc: `{}`, patch: `[{"op": "remove"}]`, wantErr: InvalidPatch, wantMsg: `op 0 (remove ""): missing "path"`},
		{name: "path not a string", doc: `{}`, patch: `[{"op": "remove", "path": 1}]`, wantErr: InvalidPatch, wantMsg: `op 0 (remove ""): "path" is not a string`},
		{name: "missing value", doc: `{}`, patch: `[{"op": "add", "path": "/a"}]`, wantErr: InvalidPatch, wantMsg: `op 0 (add /a): missing "value"`},
		{name: "missing from", doc: `{}`, patch: `[{"op": "copy", "path": "/a"}]`, wantErr: InvalidPatch, wantMsg: `op 0 (copy /a): missing "from"`},
		{name: "from not a string", doc: `{}`, patch: `[{"op": "move", "path": "/a", "from": null}]`, wantErr: InvalidPatch, wantMsg: `op 0 (move /a): "from" is not a string`},
		{name: "pointer without slash", doc: `{}`, patch: `[{"op": "remove", "path": "a"}]`, wantErr: InvalidPatch, wantMsg: `op 0 (remove a): invalid "path": pointer "a" does not start with '/'`},
		{name: "bad escape", doc: `{}`, patch: `[{"op": "remove", "path": "/a~2"}]`, wantErr: InvalidPatch},
		{name: "trailing tilde", doc: `{}`, patch: `[{"op": "remove", "path": "/a~"}]`, wantErr: InvalidPatch},
		{name: "second operation malformed", doc: `{}`, patch: `[{"op": "add", "path": "/a", "value": 1}, {"op": "add", "path": "/b"}]`, wantErr: InvalidPatch, wantMsg: `op 1 (add /b): missing "value"`},
		{name: "document not JSON", doc: `{"a": }`, patch: `[]`, wantErr: InvalidDocument},
		{name: "document with trailing data", doc: `{} {}`, patch: `[]`, wantErr: InvalidDocument},
		{name: "empty document", doc: ``, patch: `[]`, wantErr: InvalidDocument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkApply(t, tc.doc, tc.patch, tc.want, tc.wantErr, tc.wantMsg)
		})
	}
}

func TestParseReuse(t *testing.T) {
	p, err := Parse([]byte(`[{"op": "add", "path": "/list/-", "value": {"n": 1}}, {"op": "replace", "path": "/list/0/n", "value": 5}]`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 2 {
		t.Fatalf("Len() = %d", p.Len())
	}
	for i := 0; i < 3; i++ {
		got, err := p.Apply([]byte(`{"list": []}`))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != `{"list":[{"n":5}]}` {
			t.Fatalf("run %d: %s (the patch's own value was modified)", i, got)
		}
	}
}

func TestCompactMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{"resourceType":"Patient","name":[{"given":["Ann","B\u00e9"]}],"n":1.0e+2,"b":false,"z":null}`,
		`[]`, `{}`, `"x"`, `0`, `-1.5E-3`, ` [ 1 , { "a" : [ ] } ] `,
		`{"a":1,"a":2}`,
		"\"\xff\xfe\"",
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`,
	}
	for _, d := range docs {
		got, err := Compact([]byte(d))
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		var a, b any
		if err := json.Unmarshal([]byte(d), &a); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Errorf("%s: output %s is not JSON: %v", d, got, err)
			continue
		}
		ab, _ := json.Marshal(a)
		bb, _ := json.Marshal(b)
		if !bytes.Equal(ab, bb) {
			t.Errorf("%s: decoded differently: %s vs %s", d, ab, bb)
		}
	}
	for _, bad := range []string{`{"a" 1}`, `[1,]`, `01`, `1.`, `.5`, `1e`, `-`, `tru`, `nul`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`, `{"a":1,}`, `[`, `{`, strings.Repeat("[", 10002) + strings.Repeat("]", 10002)} {
		if _, err := Compact([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
		if json.Valid([]byte(bad)) {
			t.Errorf("%q: encoding/json accepts it (bad test)", bad)
		}
	}
}

func TestGrowthLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[{"op": "add", "path": "/s", "value": "` + strings.Repeat("x", 1000) + `"}`)
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, `, {"op": "copy", "from": "", "path": "/c%d"}`, i) // doubles the document
	}
	b.WriteString("]")
	_, err := Apply([]byte(`{}`), []byte(b.String()))
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != Unprocessable || !strings.Contains(pe.Reason, "too large") {
		t.Fatalf("got %v, want a too-large error", err)
	}
	// A few copies of a normal document stay within the limit.
	got, err := Apply([]byte(`{"a": [1, 2, 3]}`), []byte(`[{"op": "copy", "from": "/a", "path": "/b"}, {"op": "copy", "from": "", "path": "/c"}]`))
	if err != nil || string(got) != `{"a":[1,2,3],"b":[1,2,3],"c":{"a":[1,2,3],"b":[1,2,3]}}` {
		t.Fatalf("got %s, %v", got, err)
	}
}
