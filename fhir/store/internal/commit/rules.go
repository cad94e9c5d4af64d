package commit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// Begin checks a transaction before its commit takes the engine's lane: every op names a resource, none
// twice (CheckDistinct), the context is still live, and the bodies are parsed for stamping (Templates),
// so that inside the lane rendering a version is a few appends.
func Begin(ctx context.Context, tx *store.Tx) ([]*fhir.StampTemplate, error) {
	if err := CheckDistinct(tx.Ops); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return Templates(tx.Ops)
}

// CheckDistinct refuses a transaction that names no type or id, or writes a resource twice.
func CheckDistinct(ops []store.Op) error {
	seen := make(map[string]bool, len(ops))
	for i, op := range ops {
		if op.Type == "" || op.ID == "" {
			return &fhir.Error{Kind: fhir.KindInternal, Details: fmt.Sprintf("store: op %d has no type or id", i)}
		}
		k := op.Type + "/" + op.ID
		if seen[k] {
			return &fhir.Error{Kind: fhir.KindInvalid, Code: "duplicate", Expression: fmt.Sprintf("Tx.op[%d]", i),
				Details: "a transaction may not write the same resource twice", Diagnostics: k}
		}
		seen[k] = true
	}
	return nil
}

// Templates parses the bodies of a transaction for stamping, before any lock is taken.
func Templates(ops []store.Op) ([]*fhir.StampTemplate, error) {
	tmpls := make([]*fhir.StampTemplate, len(ops))
	for i, op := range ops {
		if op.Delete {
			continue
		}
		if op.Template != nil {
			tmpls[i] = op.Template
			continue
		}
		t, err := fhir.NewStampTemplate(op.Body, op.ID)
		if err != nil {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Expression: fmt.Sprintf("Tx.op[%d]", i),
				Details: "the resource body is not a JSON object", Err: err}
		}
		tmpls[i] = t
	}
	return tmpls, nil
}

// Decide decides op i against the resource's current version (nil when it never existed): the new
// version (nil when a delete has nothing to delete), or the precondition that fails. seq is the new
// version's sequence number and now its instant; the body is rendered from tmpl.
func Decide(i int, op *store.Op, cur *store.Version, tmpl *fhir.StampTemplate, seq uint64, now time.Time) (*store.Version, error) {
	var curVID uint64
	curDeleted := false
	if cur != nil {
		curVID, curDeleted = cur.VersionID, cur.Deleted
	}
	if op.IfMatch != 0 && (cur == nil || curDeleted || curVID != op.IfMatch) {
		return nil, store.PreconditionFailed(i, op.Type, op.ID, op.IfMatch, curVID, curDeleted)
	}
	if op.IfNoneExist && cur != nil {
		return nil, store.AlreadyExists(i, op.Type, op.ID)
	}
	if op.Delete && (cur == nil || curDeleted) {
		return nil, nil // nothing to delete
	}
	if (op.Chain && (op.Delete || cur != nil)) || (cur != nil && cur.Chained) {
		return nil, &fhir.Error{Kind: fhir.KindNotAllowed, Code: "not-supported", Expression: fmt.Sprintf("Tx.op[%d]", i),
			Details: "an audit event is written once and never changed", Diagnostics: op.Type + "/" + op.ID + " is a link of the audit chain"}
	}
	v := &store.Version{Type: op.Type, ID: op.ID, VersionID: curVID + 1, LastUpdated: now, Seq: seq, Method: op.Method,
		Created: !op.Delete && (cur == nil || curDeleted), Chained: op.Chain}
	if op.Delete {
		v.Deleted = true
		v.Method = "DELETE"
	} else {
		v.Body = tmpl.Render(v.VersionID, now)
	}
	return v, nil
}

// IndexDiff compares a resource's stored entries with an op's: the entries to remove, the entries to
// add, and the resource's new list (duplicates dropped, order kept). A deletion has no entries.
func IndexDiff(old []store.IndexEntry, op *store.Op) (remove, add, next []store.IndexEntry) {
	if !op.Delete {
		next = distinctEntries(op.Index)
	}
	if len(old) == 0 { // a new resource (most writes, every audit event): everything is added
		return nil, next, next
	}
	keep := make(map[string]bool, len(next))
	for _, e := range next {
		keep[e.Param+"\x00"+string(e.Value)] = true
	}
	had := make(map[string]bool, len(old))
	for _, e := range old {
		k := e.Param + "\x00" + string(e.Value)
		had[k] = true
		if !keep[k] {
			remove = append(remove, e)
		}
	}
	for _, e := range next {
		if !had[e.Param+"\x00"+string(e.Value)] {
			add = append(add, e)
		}
	}
	return remove, add, next
}

// distinctEntries drops repeated entries, keeping the first of each and the order. Indexers give each
// parameter's entries together, so a repeat is looked for among the entries of the same parameter only,
// by comparing them (there are a few per parameter); entries in another arrangement, or a parameter with
// many entries, are deduplicated with a map.
func distinctEntries(index []store.IndexEntry) []store.IndexEntry {
	const run = 32 // entries of one parameter compared one by one at most
	next := make([]store.IndexEntry, 0, len(index))
	start := 0        // where the current parameter's entries begin in next
	var done []string // parameters whose entries are complete
	for i, e := range index {
		if i > 0 && e.Param != index[i-1].Param {
			done = append(done, index[i-1].Param)
			if slices.Contains(done, e.Param) {
				return distinctEntriesMap(index)
			}
			start = len(next)
		}
		if len(next)-start >= run {
			return distinctEntriesMap(index)
		}
		dup := false
		for _, n := range next[start:] {
			if bytes.Equal(n.Value, e.Value) {
				dup = true
				break
			}
		}
		if !dup {
			next = append(next, e)
		}
	}
	return next
}

func distinctEntriesMap(index []store.IndexEntry) []store.IndexEntry {
	next := make([]store.IndexEntry, 0, len(index))
	seen := make(map[string]bool, len(index))
	var k []byte
	for _, e := range index {
		k = append(append(append(k[:0], e.Param...), 0), e.Value...)
		if !seen[string(k)] {
			seen[string(k)] = true
			next = append(next, e)
		}
	}
	return next
}
