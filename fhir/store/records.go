package store

import "context"

// Records is what every engine offers besides resources: small opaque records, each under a namespace
// and a key, for the state of work the server does on its own (a bulk export's progress and lease) that
// must survive a restart and be seen by every process sharing the store. Records are not resources: they
// have no versions, no history, no search index and no place in the audit chain, and the FHIR API never
// serves them. Namespaces and keys are short printable strings without 0x00.
type Records interface {
	// GetRecord returns a record's value, or ErrNotFound.
	GetRecord(ctx context.Context, ns, key string) ([]byte, error)
	// PutRecord writes a record, durably before it returns.
	PutRecord(ctx context.Context, ns, key string, value []byte) error
	// SwapRecord writes value only if the record is exactly old (nil old: only if there is no record;
	// nil value: deletes it), atomically across processes, and reports whether it did.
	SwapRecord(ctx context.Context, ns, key string, old, value []byte) (bool, error)
	// DeleteRecord removes a record (nothing when there is none).
	DeleteRecord(ctx context.Context, ns, key string) error
	// ListRecords calls fn with every record of a namespace, in key order, until fn returns false.
	ListRecords(ctx context.Context, ns string, fn func(key string, value []byte) bool) error
}
