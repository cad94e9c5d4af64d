// Package fhir is fhirgate's FHIR R4 model: resource JSON as it travels (ordered members, exact bytes),
// parsing, the resource and element definitions generated from the R4 specification (validation against
// them is package fhir/validation), the FHIR error type with its mapping to HTTP status and OperationOutcome,
// summaries and element subsets, and Bundle building.
//
// The package knows no HTTP and no tokens: the REST service (fhir/rest) and the gateway build on it.
// Resources are kept as the JSON the client wrote; only id, meta.versionId and meta.lastUpdated are set by
// the server (Stamp). They are never re-serialised through protocol buffers.
package fhir
