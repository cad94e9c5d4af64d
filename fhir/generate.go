package fhir

// The model tables (model_gen.go) and the validator's tables (validation/defs_gen.go) are generated from the
// official R4 core package, one file per definition, in the shared R4 definitions.
//go:generate go run ./internal/gendefs -core ../../shared/fhir-r4/definitions/core -out model_gen.go -validation-out validation/defs_gen.go
