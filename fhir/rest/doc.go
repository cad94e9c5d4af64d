// Package rest is the FHIR R4 RESTful API as a transport-neutral service: a Request in, a Response out,
// no HTTP. The gateway turns HTTP into Requests; batch and transaction entries re-enter the same Do, so
// every entry passes the same checks as a request of its own.
//
// One file per interaction (https://hl7.org/fhir/R4/http.html): read.go, vread.go, create.go, update.go,
// patch.go, delete.go, history.go, batch.go (batch and transaction). routes.go is the route table, as data:
// the gateway registers its HTTP routes from it, batch entries are matched against it, and the
// CapabilityStatement is generated from it.
//
// Every Do needs a Guard in its context (WithGuard): without one, nothing is served.
package rest
