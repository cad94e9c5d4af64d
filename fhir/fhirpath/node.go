package fhirpath

import (
	"encoding/json"
	"math"
	"strconv"
)

// Node is one item of a FHIRPath result collection.
//
// Value is the JSON value as decoded: map[string]any, string, json.Number or bool (arrays are
// flattened into separate nodes), or nil for a primitive that has only an id or extensions (FHIR JSON
// "_name" without "name").
//
// When the value sits in the decoded resource tree, Parent is the JSON object that holds it, Key its
// member name in Parent (the JSON key, e.g. "valueQuantity"), and Index its position when
// Parent[Key] is an array (-1 otherwise). The root, results of resolve() for non-contained references,
// literals and computed values have a nil Parent. Mutating Parent[Key] (or Parent[Key].([]any)[Index])
// changes the resource the expression was evaluated on.
type Node struct {
	Value  any
	Type   string         // FHIR type name when known (Quantity, dateTime, Patient); JSON shape otherwise (string, boolean, integer, decimal); "" for an object of unknown type
	Parent map[string]any // containing JSON object, or nil
	Key    string         // JSON key in Parent
	Name   string         // FHIRPath element name: Key without a choice type suffix ("value" for "valueQuantity")
	Index  int            // index in the array Parent[Key], or -1

	ext  map[string]any // the "_name" sibling object of a primitive value (its id and extensions)
	path string         // with a Model, where the children of a backbone element are defined ("Patient.contact"); "" to use Type
}

// Located reports whether the node sits in the resource tree (Parent is set).
func (n Node) Located() bool { return n.Parent != nil }

// PrimitiveElement returns the id/extension object of a primitive node (the "_name" sibling in FHIR JSON),
// or nil.
func (n Node) PrimitiveElement() map[string]any { return n.ext }

// String returns a short form of the value for messages and tests: strings, numbers and booleans as
// their text, other values as compact JSON.
func (n Node) String() string {
	switch v := n.Value.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case bool:
		if v {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	b, err := json.Marshal(n.Value)
	if err != nil {
		return "?"
	}
	return string(b)
}

// shapeType infers a type name from the JSON shape of a value whose FHIR type is not known.
func shapeType(v any) string {
	switch x := v.(type) {
	case map[string]any:
		if rt, ok := x["resourceType"].(string); ok {
			return rt
		}
		return ""
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if isIntegerText(string(x)) {
			return "integer"
		}
		return "decimal"
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return "integer"
		}
		return "decimal"
	case int, int64:
		return "integer"
	}
	return ""
}

// isPrimitiveType reports whether a FHIR type name is a primitive (lower-case) type.
func isPrimitiveType(t string) bool {
	return t != "" && t[0] >= 'a' && t[0] <= 'z'
}

// shapeFits reports whether a JSON value can be of the FHIR type t: objects for complex types and
// resources, anything else for primitives.
func shapeFits(v any, t string) bool {
	_, isObj := v.(map[string]any)
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if e != nil {
				_, isObj = e.(map[string]any)
				break
			}
		}
	}
	return isObj != isPrimitiveType(t)
}

func isUpperStart(s string) bool {
	return s != "" && s[0] >= 'A' && s[0] <= 'Z'
}

func boolNode(b bool) Node     { return Node{Value: b, Type: sysBoolean, Index: -1} }
func stringNode(s string) Node { return Node{Value: s, Type: sysString, Index: -1} }

func intNode(i int) Node {
	return Node{Value: json.Number(strconv.Itoa(i)), Type: sysInteger, Index: -1}
}

// stringValue returns the value as a string when the node holds a JSON string.
func (n Node) stringValue() (string, bool) {
	s, ok := n.Value.(string)
	return s, ok
}
