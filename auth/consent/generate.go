package consent

//go:generate go run ./internal/genpurpose -cs ../../../shared/fhir-r4/definitions/terminology/CodeSystem-v3-ActReason.json -out purpose_gen.go
