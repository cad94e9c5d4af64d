package fhir

// The model tables are generated from the official R4 definitions. profiles-types.json is in the shared
// R4 definitions; profiles-resources.json (the resource StructureDefinitions of R4 4.0.1) must be given
// in FHIR_R4_PROFILES_RESOURCES. See fhir/internal/gendefs for where to get it.
//go:generate sh -c "go run ./internal/gendefs -resources \"$FHIR_R4_PROFILES_RESOURCES\" -types ../../shared/fhir-r4/definitions/profiles-types.json -resource-types ../../shared/fhir-r4/definitions/resource-types.json -out model_gen.go"
