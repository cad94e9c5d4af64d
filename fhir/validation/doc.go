// Package validation checks a FHIR R4 resource in JSON against the R4 core definitions: structure,
// data types and primitive formats, cardinality, choice elements, primitive extensions, references'
// target types, empty values, the codes of required bindings, the narrative's XHTML (an allow-list:
// package narrative, txt-1 and txt-2) and every FHIRPath invariant of the core definitions (package
// invariant). See Validator.
//
// The definitions are tables generated from the official R4 core package by fhir/internal/gendefs: the
// elements (fhir/model_gen.go, read through fhir.Children), and here in defs_gen.go the regular expression
// of each primitive type, the binding of every coded element, and the expansions of the value sets those
// bindings name that the package enumerates. Nothing is read at run time.
//
// Further checks (e.g. profiles) plug in as a Stage in Config.Stages: a
// stage is given the decoded resource and every typed node with its concrete path, and its issues join
// those of the walk.
package validation
