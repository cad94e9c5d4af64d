package validation

import "fhirgate/fhir"

// Node is one element of a validated resource, as the structural walk typed it.
type Node struct {
	// Path is the concrete FHIRPath of the element, with indexes, e.g. "Patient.name[0].given[1]",
	// "Observation.value.ofType(Quantity)", "Bundle.entry[2].resource.code".
	Path string
	// Type is the element's FHIR type: a primitive ("string", "date"...), a complex type ("HumanName",
	// "Quantity"...), "BackboneElement", or a resource type for a resource (the top-level one, a contained
	// one, a Bundle entry's).
	Type string
	// Value is the decoded value: map[string]any for objects, string, json.Number or bool for primitives
	// (a primitive's "_name" sibling is a Node of its own, of type "Element").
	Value any
}

// Stage is a further check plugged into a Validator (Config.Stages): FHIRPath invariants, narrative
// XHTML, profiles. After the structural walk of a body, whether or not it found errors, Check is called
// once with the decoded top-level resource (nil if the body is not a JSON object) and every node the walk
// could type, in walk order, a parent before its children. Left out are unknown members, values of the
// wrong JSON kind or of an invalid primitive format, and whatever is below them. The body is not walked
// at all, nor the stages called, when it is not JSON or is beyond the limits. The values are shared with
// the other stages: a stage must not modify them.
//
// The issues a stage returns join the walk's: those of severity "error" or "fatal" make Validate refuse
// the resource (400), the others are reported by Check only. Each issue should name its element
// (Expression, a Path of the nodes) and its rule (e.g. "obs-6: ..." at the start of Details). A stage must
// be safe for concurrent use and must not panic on anything the walk lets through.
type Stage interface {
	Check(root map[string]any, nodes []Node) []fhir.Issue
}

// StageFunc adapts a function to Stage.
type StageFunc func(root map[string]any, nodes []Node) []fhir.Issue

// Check calls f.
func (f StageFunc) Check(root map[string]any, nodes []Node) []fhir.Issue { return f(root, nodes) }
