package profile

//go:generate go run ../internal/genprofiles -defs ../../../shared/fhir-r4/definitions/core -out core.json.gz
