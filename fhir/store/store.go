// Package store defines fhirgate's storage contract: versioned FHIR resources, history, and atomic
// commits of several writes with version preconditions. Engines live in sub-packages (embedded: Pebble on
// disk; redis; memstore: in memory, for tests) and must all pass the conformance suite in storetest; they
// share their commit rules and planner (internal/commit) and their byte formats (internal/codec).
//
// Invariants every engine keeps:
//   - every version of every resource is kept; a deletion is a version without a body;
//   - a Commit is atomic (all its operations or none) and durable before it returns nil;
//   - versions get a store-wide sequence number (Seq) in commit order, and lastUpdated never decreases
//     along Seq, so history can be paged newest-first by Seq;
//   - stored values carry a format header so that compression or encryption can be added later;
//   - records (Records) are the server's own small state beside the resources: no version, no history,
//     swapped atomically across the processes sharing the store, stored as given (their writer owns
//     their format).
package store

import (
	"context"
	"errors"
	"time"

	"fhirgate/fhir"
)

// Version is one version of a resource.
type Version struct {
	Type        string
	ID          string
	VersionID   uint64
	LastUpdated time.Time
	// Deleted marks a deletion: the resource was deleted by this version and Body is nil.
	Deleted bool
	// Method is the interaction that made the version: POST, PUT, PATCH or DELETE.
	Method string
	// Body is the resource JSON as stored, with id, meta.versionId and meta.lastUpdated set.
	Body []byte
	// Seq is the store-wide commit sequence number of the version.
	Seq uint64
	// Created marks a version that brought the resource into existence: its first version, or the
	// first after a deletion.
	Created bool
	// Chained marks a version written as a link of the audit chain (Op.Chain): the resource is never
	// changed or deleted afterwards.
	Chained bool
}

// Ref returns "Type/id".
func (v *Version) Ref() string { return v.Type + "/" + v.ID }

// Op is one write of a transaction.
type Op struct {
	Type, ID string
	// Delete deletes the resource instead of writing Body. Deleting an absent or already deleted
	// resource writes nothing and yields a nil Version.
	Delete bool
	// Body is the resource JSON, id set, meta.versionId and meta.lastUpdated cleared (fhir.Resource.Bytes).
	Body []byte
	// Template, when set, is Body prepared for stamping by its writer (fhir.StampTemplateOfEncoded), so
	// that the engine need not parse Body.
	Template *fhir.StampTemplate
	// Method is the interaction recorded in history: POST, PUT, PATCH or DELETE.
	Method string
	// IfMatch, when non-zero, requires the current version to be exactly this one (and not deleted).
	IfMatch uint64
	// IfNoneExist requires that the resource has never existed (a create with a client id).
	IfNoneExist bool
	// Index holds the search index entries of Body; the store replaces the resource's previous ones in
	// the same commit.
	Index []IndexEntry
	// Chain makes the new version a link of the audit chain (see ChainHash); only creates may chain,
	// and a chained resource is never written again (KindNotAllowed). An engine may write the history
	// and search index entries of chained resources after the commit returns, in batches, provided that
	// every read that could miss them (History, IndexScan) waits for them first: to every reader, they
	// are there once Commit has returned.
	Chain bool
	// Fresh, with Chain, declares an id that no resource of the type has ever had: one the server has
	// just made, time-ordered and random (an audit event's). The planner then does not look for a
	// current version, a lookup that costs each audited request a read of every level of an LSM for a
	// key that is never there. Without Chain it is ignored.
	Fresh bool
}

// IndexEntry is one search index entry of a resource: a parameter and an encoded, engine-neutral value.
type IndexEntry struct {
	Param string
	Value []byte
}

// Tx is an atomic group of writes.
type Tx struct {
	Ops []Op
	// Check, when set, runs while the commit holds the store's write lock, before the operations are
	// applied; reads it makes see every earlier commit. An error aborts the transaction. It serves
	// conditional interactions (If-None-Exist) that must not race with other writers.
	Check func(ctx context.Context) error
}

// HistoryQuery selects versions for the history interactions, newest first.
type HistoryQuery struct {
	// Type and ID narrow the history to a type or an instance; both empty means the whole system.
	Type, ID string
	// Since keeps versions whose lastUpdated is at or after it (zero: no bound).
	Since time.Time
	// Before keeps versions with Seq < Before (paging; zero: no bound).
	Before uint64
	// Limit is the most versions returned (zero: no limit).
	Limit int
}

// Store is the storage contract.
type Store interface {
	// Read returns the current version of a resource (a deleted resource's current version has
	// Deleted set), or ErrNotFound when it never existed.
	Read(ctx context.Context, typ, id string) (*Version, error)
	// ReadMany returns the current versions of several resources of typ, nil where a resource never
	// existed: searches read their candidates in batches (one round trip on a networked engine).
	ReadMany(ctx context.Context, typ string, ids []string) ([]*Version, error)
	// ReadVersion returns one version, or ErrNotFound.
	ReadVersion(ctx context.Context, typ, id string, versionID uint64) (*Version, error)
	// History returns versions newest first (by Seq).
	History(ctx context.Context, q HistoryQuery) ([]*Version, error)
	// Commit applies the transaction atomically and durably. It returns one Version per Op, nil for a
	// delete that wrote nothing. A failed precondition is a *fhir.Error of KindPreconditionFailed (IfMatch)
	// or KindConflict (IfNoneExist), naming the operation in Expression as "Tx.op[i]".
	Commit(ctx context.Context, tx *Tx) ([]*Version, error)
	// IndexScan calls fn, in value order, for every index entry of a parameter of typ whose value v has
	// lo <= v < hi (byte-wise; a nil hi means no upper bound), until fn returns false.
	IndexScan(ctx context.Context, typ, param string, lo, hi []byte, fn func(value []byte, id string) bool) error
	// IndexEntries returns the index entries of a resource's current version (none once deleted).
	IndexEntries(ctx context.Context, typ, id string) ([]IndexEntry, error)
	// IndexEntriesMany returns the index entries of several resources' current versions.
	IndexEntriesMany(ctx context.Context, typ string, ids []string) ([][]IndexEntry, error)
	// IndexValues returns the index values of one parameter of a resource's current version.
	IndexValues(ctx context.Context, typ, id, param string) ([][]byte, error)
	// ScanIDs calls fn, in id order, with the id of every resource of typ that currently exists (not
	// deleted), until fn returns false.
	ScanIDs(ctx context.Context, typ string, fn func(id string) bool) error
	// Changes returns a count that grows whenever a resource of typ is written; every process sharing
	// the store sees every other's writes in it before they are acknowledged. Caches of data derived from
	// resources (parsed Consents) compare it to know whether they are still valid.
	Changes(ctx context.Context, typ string) (uint64, error)
	// ChainRecords and ChainHead expose the audit chain.
	Chain
	// Records keeps the server's own small records beside the resources.
	Records
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store; pending commits finish first.
	Close() error
}

// ErrNotFound is returned when a resource or version does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrCorrupt is wrapped by the errors of stored bytes an engine cannot decode (altered, or truncated).
var ErrCorrupt = errors.New("store: corrupt stored value")

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("store: closed")

// Unavailable wraps an engine failure as a FHIR error (503), keeping the cause for the logs.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return err
	}
	return &fhir.Error{Kind: fhir.KindUnavailable, Code: "transient", Details: "the store is unavailable", Err: err}
}

// PreconditionFailed is the error of an IfMatch that does not hold.
func PreconditionFailed(i int, typ, id string, want, have uint64, deleted bool) error {
	d := "the resource's current version does not match If-Match"
	if have == 0 {
		d = "the resource does not exist, so If-Match cannot hold"
	} else if deleted {
		d = "the resource is deleted, so If-Match cannot hold"
	}
	return &fhir.Error{Kind: fhir.KindPreconditionFailed, Code: "conflict", MessageID: "MSG_VERSION_AWARE_CONFLICT",
		Expression: opExpr(i), Details: d,
		Diagnostics: typ + "/" + id + ": If-Match version " + utoa(want) + ", current version " + utoa(have)}
}

// AlreadyExists is the error of an IfNoneExist that does not hold.
func AlreadyExists(i int, typ, id string) error {
	return &fhir.Error{Kind: fhir.KindConflict, Code: "duplicate", Expression: opExpr(i),
		Details: "the resource already exists", Diagnostics: typ + "/" + id + " already exists"}
}

func opExpr(i int) string { return "Tx.op[" + utoa(uint64(i)) + "]" }

func utoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	return string(b[i:])
}
