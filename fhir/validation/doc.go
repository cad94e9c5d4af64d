// Package validation checks a FHIR R4 resource in JSON against the R4 core definitions: structure,
// data types and primitive formats, cardinality, choice elements, primitive extensions, references'
// target types, empty values and the codes of required bindings. See Validator.
package validation
