package search

//go:generate go run ./internal/genparams -defs ../../../shared/fhir-r4/definitions -out params_gen.go
