// Package audit is the audit trail: every FHIR interaction, permitted or refused, becomes IHE BALP
// AuditEvents (one per patient whose data it touched or was refused, one about no patient when none
// was) that are durably stored before the response leaves.
//
// The gateway describes an interaction in an Interaction and calls Trail.Record; the trail builds the
// events (event.go), encodes and indexes them itself (encode.go, index.go), and hands them to a Sink
// within the audit deadline: past it the caller answers 503 without data, unless the trail fails open
// (ADR 0003, ADR 0006). The StoreSink commits events in groups, each a link of the store's hash chain
// (fhir/store, chain.go). What one request can make the trail record is bounded: long queries are cut
// and hashed, requests refused for want of a token or for throttling are counted in aggregate
// (aggregate.go). Events a client reports are marked as reported (AsReported), never taken for what
// this server saw.
//
// The chain shows any record altered, removed, inserted or reordered; a Checkpointer signs its head at
// intervals with an Ed25519 key so that records cut off its end are noticed too, and Verify walks the
// chain against the signed checkpoints (fhirgate audit verify). The Notifier tells a patient of a
// professional's first access and of break-the-glass accesses.
package audit
