// Package profile validates resources against FHIR R4 profiles: StructureDefinitions with derivation
// constraint, read from their snapshot. The core profiles of R4 (vitalsigns, bodyweight, bp, ...) are
// embedded (core.json.gz, written by fhir/internal/genprofiles); LoadDir adds the profiles of an
// implementation guide's package folder.
//
// What a profile is checked for: the cardinality of each element it constrains, fixed[x] and pattern[x]
// values, slicing (discriminators of type value, pattern, exists, and type on choice elements; each
// slice's cardinality; closed slicing), required bindings to value sets that can be expanded here
// (explicit concepts or complete code systems; others give an information issue), the profile's own
// invariants (FHIRPath; one that does not compile or evaluate gives a warning, never a refusal), and
// extension slices by URL. mustSupport is ignored; type profiles and target profiles of references are
// not followed; the contents of extensions are not checked against their definitions.
//
// Issues name the element (a FHIRPath with indexes) and, in their details, the element's path, the
// slice and the profile: "Observation.category: slice VSCat: minimum 1, found 0 (profile vitalsigns)".
// The R4 rules themselves (structure, data types, base cardinalities and bindings) are the R4
// validator's, not this package's.
package profile
