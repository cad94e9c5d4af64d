// Package loadgen loads a FHIR R4 server with a synthetic population and drives measured load against
// it, for operators sizing a deployment and for tracking this server's speed.
//
// Populate sends the deterministic population of package population through the REST API as
// transaction Bundles: the shared resources first, then one Bundle per patient, in parallel. Run drives
// one workload (read, search, create, transaction or mixed) from a bounded number of connections for a
// bounded time and reports throughput, latency percentiles and every status code it received: only 2xx
// answers count as throughput, everything else is an error.
//
// Both speak plain FHIR REST with an optional bearer token, so the same load can be pointed at any R4
// server for a side-by-side comparison.
package loadgen
