// Package fhirpath compiles and evaluates a subset of FHIRPath (http://hl7.org/fhirpath/N1) over FHIR
// R4 resources decoded from JSON (with json.Decoder.UseNumber): objects are map[string]any, arrays
// []any, numbers json.Number, and strings, booleans and nil.
//
// The subset covers every expression of the R4 search parameters and the paths used by FHIRPath
// Patch:
//
//   - paths, with arrays flattened into collections; a leading type name ("Patient.name") selects the
//     context only when its resourceType matches; "Resource" and "DomainResource" match any resource;
//   - choice elements: "Observation.value" finds valueQuantity, valueString, ... and types the result
//     from the suffix; primitives' "_name" siblings give them id and extension children;
//   - literals ('string', 12, 1.5, true, false, @2020-01-01, {}), %resource, %rootResource, %context,
//     %ucum, %sct, %loinc, $this, $index, parentheses and the [n] indexer;
//   - operators: . [] unary - * / div mod + - & is as | < > <= >= = ~ != !~ in contains and xor or implies;
//   - functions: empty exists all allTrue anyTrue allFalse anyFalse not where select first last tail
//     skip take single count distinct isDistinct union combine ofType as is extension hasValue children
//     descendants resolve memberOf startsWith endsWith contains lower upper length substring toString
//     iif trace.
//
// Types come from choice suffixes, resourceType, or the JSON shape (string, boolean, integer,
// decimal); objects of other types are untyped, because the package has no FHIR model. Type tests
// accept FHIR names (Quantity, dateTime, with an optional FHIR. prefix), subtypes (Age is a Quantity,
// code is a string) and System types (System.String, DateTime, ...).
//
// Deviations from the specification, chosen for search indexing: "as" filters a collection like
// ofType instead of failing on more than one item; union and distinct compare objects by their JSON
// form; dates compare as strings; resolve() never fetches anything (see the resolve() notes on
// ParseReference); memberOf() compiles but fails with ErrNotSupported when evaluated.
//
// Most search parameter expressions (unions of paths with type filters and where(resolve() is T))
// are evaluated by a plan that walks the resource without the general evaluator's intermediate
// collections; its results are the same, node for node.
//
// Compile never panics and bounds the expression length (MaxExpressionLength) and nesting depth
// (MaxDepth); evaluation bounds the number of nodes it produces (MaxNodes).
package fhirpath
