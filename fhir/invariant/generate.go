package invariant

// The table of invariants is generated from the R4 core StructureDefinitions in the shared definitions.
//go:generate go run ../internal/geninvariants -defs ../../../shared/fhir-r4/definitions/core -out invariants_gen.go
