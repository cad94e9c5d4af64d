// Package gateway is fhirgate's HTTP face: the echo server, the FHIR routes generated from the REST route
// table, content negotiation (_format, Accept, _pretty), conditional and Prefer headers, the mapping of
// every error to one OperationOutcome with its status, request ids, metrics, and the request pipeline
// authenticate -> authorize -> consent -> act -> audit around the transport-neutral service (fhir/rest).
package gateway
