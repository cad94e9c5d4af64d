package fhirpath

import (
	"encoding/json"
	"strings"
)

// kind is the System type a value behaves as in operators and functions.
type kind uint8

const (
	kNone kind = iota // no value (a primitive with only extensions)
	kBool
	kString
	kInteger
	kDecimal
	kDate
	kDateTime
	kTime
	kQuantity
	kObject
)

// System type names of the values the evaluator computes (literals, results of operators and
// functions).
const (
	sysBoolean  = "System.Boolean"
	sysString   = "System.String"
	sysInteger  = "System.Integer"
	sysDecimal  = "System.Decimal"
	sysDate     = "System.Date"
	sysDateTime = "System.DateTime"
	sysTime     = "System.Time"
)

// fhirKinds maps the FHIR types that convert to System types.
var fhirKinds = map[string]kind{
	"boolean": kBool,
	"string":  kString, "code": kString, "id": kString, "markdown": kString, "uri": kString, "url": kString,
	"canonical": kString, "oid": kString, "uuid": kString, "base64Binary": kString, "xhtml": kString,
	"integer": kInteger, "positiveInt": kInteger, "unsignedInt": kInteger, "integer64": kInteger,
	"decimal": kDecimal,
	"date":    kDate, "dateTime": kDateTime, "instant": kDateTime, "time": kTime,
	"Quantity": kQuantity, "Age": kQuantity, "Count": kQuantity, "Distance": kQuantity, "Duration": kQuantity,
	"MoneyQuantity": kQuantity, "SimpleQuantity": kQuantity,
	"Boolean": kBool, "String": kString, "Integer": kInteger, "Decimal": kDecimal, "Date": kDate,
	"DateTime": kDateTime, "Time": kTime,
}

// kindOf returns how a node behaves in operators: by its type when it converts to a System type, or
// else by its JSON shape.
func kindOf(n Node) kind {
	t := strings.TrimPrefix(n.Type, "System.")
	if k, ok := fhirKinds[t]; ok {
		if n.Value == nil {
			return kNone
		}
		if k == kQuantity {
			if _, isObj := n.Value.(map[string]any); !isObj {
				return kObject
			}
		}
		return k
	}
	switch v := n.Value.(type) {
	case nil:
		return kNone
	case string:
		return kString
	case bool:
		return kBool
	case json.Number:
		if isIntegerText(string(v)) {
			return kInteger
		}
		return kDecimal
	case float64, int, int64:
		if s, _ := numberText(v); isIntegerText(s) {
			return kInteger
		}
		return kDecimal
	}
	return kObject
}

// isSystem reports whether the node's type is a System type.
func isSystem(t string) bool { return strings.HasPrefix(t, "System.") }

// momentOf parses a date/time node.
func momentOf(n Node) (moment, kind, bool) {
	k := kindOf(n)
	if k != kDate && k != kDateTime && k != kTime {
		return moment{}, k, false
	}
	s, ok := n.Value.(string)
	if !ok {
		return moment{}, k, false
	}
	m, ok := parseMoment(s, k)
	return m, k, ok
}

// momentNode builds a node of the System type of kind k holding m.
func momentNode(m moment, k kind) Node {
	switch k {
	case kDate:
		return Node{Value: m.format(), Type: sysDate, Index: -1}
	case kTime:
		return Node{Value: m.format(), Type: sysTime, Index: -1}
	}
	return Node{Value: m.format(), Type: sysDateTime, Index: -1}
}

// Format writes a node the way the FHIRPath specification writes values: dates and times with "@"
// (and "@T" for times), quantities as value 'unit', strings and numbers as they are, objects as JSON.
func Format(n Node) string {
	switch kindOf(n) {
	case kDate, kDateTime:
		if s, ok := n.Value.(string); ok {
			return "@" + s
		}
	case kTime:
		if s, ok := n.Value.(string); ok {
			return "@T" + s
		}
	case kQuantity:
		if q, ok := asQuantity(n); ok {
			return formatQuantity(q)
		}
	}
	return n.String()
}
