package rest

import (
	"context"
	"errors"
	"net/url"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// parseBody parses a write's body as a resource of the request's type.
func parseBody(req *Request) (*fhir.Resource, error) {
	if len(req.Body) == 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", MessageID: "MSG_CANT_PARSE_CONTENT",
			Details: "the request has no body; a resource is required"}
	}
	r, err := fhir.ParseResource(req.Body)
	if err != nil {
		return nil, err
	}
	if r.Type != req.Type {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_RESOURCE_TYPE_MISMATCH",
			Expression: "resourceType", Details: "the resource type does not match the URL",
			Diagnostics: "body is a " + r.Type + ", URL names " + req.Type}
	}
	return r, nil
}

// finish gives the resource its id, clears the server's meta elements, validates it, and extracts its
// search index entries. It returns the body and the entries to store.
func (s *Service) finish(r *fhir.Resource, id string) ([]byte, []store.IndexEntry, error) {
	if err := r.ClearServerMeta(); err != nil {
		return nil, nil, err
	}
	r.SetID(id)
	body := r.Bytes()
	if err := s.validator.Validate(body); err != nil {
		return nil, nil, err
	}
	if rule := s.rules[r.Type]; rule != nil {
		if err := rule(body); err != nil {
			return nil, nil, err
		}
	}
	index, err := s.indexEntries(r.Type, body)
	if err != nil {
		return nil, nil, err
	}
	return body, index, nil
}

// indexEntries extracts the search index entries of a resource body.
func (s *Service) indexEntries(typ string, body []byte) ([]store.IndexEntry, error) {
	doc, err := decode(body)
	if err != nil {
		return nil, err
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Details: "a resource is a JSON object"}
	}
	return s.indexDecoded(typ, m)
}

// Describe starts the index entries of a resource that its writer describes value by value (see
// search.Description).
func (s *Service) Describe(typ string) *search.Description { return s.indexer.Describe(typ) }

func (s *Service) indexDecoded(typ string, m map[string]any) ([]store.IndexEntry, error) {
	entries, err := s.indexer.Entries(typ, m)
	if err != nil {
		return nil, &fhir.Error{Kind: fhir.KindInternal, Details: "search index extraction failed", Err: err}
	}
	return entries, nil
}

// commitOne commits a single operation.
func (s *Service) commitOne(ctx context.Context, op store.Op, check func(context.Context) error) (*store.Version, error) {
	vs, err := s.store.Commit(ctx, &store.Tx{Ops: []store.Op{op}, Check: check})
	if err != nil {
		if _, ok := failedOp(err); ok && op.IfMatch != 0 {
			fhir.AsError(err).Expression = "If-Match"
		}
		return nil, err
	}
	s.committed(ctx, vs)
	return vs[0], nil
}

// conditionalMatch runs the criteria of a conditional interaction.
func (s *Service) conditionalMatch(ctx context.Context, typ, criteria, header string) ([]string, error) {
	q, err := url.ParseQuery(criteria)
	if err != nil || len(q) == 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: header,
			Details: "the criteria must be a non-empty search query string"}
	}
	return s.engine.Match(ctx, typ, q, 2)
}

func multipleMatches(header string) error {
	return &fhir.Error{Kind: fhir.KindPreconditionFailed, Code: "multiple-matches", MessageID: "SEARCH_MULTIPLE",
		Expression: header, Details: "the criteria match more than one resource"}
}

// ifMatchFailed is the 412 of an If-Match that names another version than the current one.
func ifMatchFailed(typ, id string, want, have uint64) error {
	err := fhir.AsError(store.PreconditionFailed(0, typ, id, want, have, false))
	err.Expression = "If-Match"
	return err
}

func storeOp(typ, id string, body []byte, index []store.IndexEntry, method string, ifMatch uint64) store.Op {
	return store.Op{Type: typ, ID: id, Body: body, Index: index, Method: method, IfMatch: ifMatch}
}

// versionValues returns the search index values of a version: from the store's index for a current
// version, extracted from the body for an older one (whose index entries are gone).
func (s *Service) versionValues(ctx context.Context, v *store.Version, current bool) func(param string) [][]byte {
	if current && !v.Deleted {
		return s.engine.StoredValues(ctx, v.Type, v.ID)
	}
	if v.Deleted || len(v.Body) == 0 {
		return func(string) [][]byte { return nil }
	}
	entries, err := s.indexEntries(v.Type, v.Body)
	if err != nil {
		return func(string) [][]byte { return nil }
	}
	return search.EntriesValues(entries)
}

// admit asks the request's guard whether a version may leave, and notes (in the request's ledger) the
// patients it is about, or its refusal.
func (s *Service) admit(ctx context.Context, req *Request, v *store.Version, current bool) error {
	return s.admitValues(ctx, req, v, s.versionValues(ctx, v, current))
}

// admitValues is admit with the version's index values at hand.
func (s *Service) admitValues(ctx context.Context, req *Request, v *store.Version, values func(string) [][]byte) error {
	err := guardFrom(ctx).Admit(ctx, req, v, values)
	patients := notePatients(ctx, v.Type, v.ID, values)
	if err != nil {
		ledgerFrom(ctx).refuse(v.Ref(), patients, err)
	}
	return err
}

// admitWrite asks the guard whether req may write a resource with these index entries.
func (s *Service) admitWrite(ctx context.Context, req *Request, typ, id string, index []store.IndexEntry) error {
	values := search.EntriesValues(index)
	err := guardFrom(ctx).AdmitWrite(ctx, req, typ, id, values)
	patients := notePatients(ctx, typ, id, values)
	if err != nil {
		ledgerFrom(ctx).refuse(typ+"/"+id, patients, err)
	}
	return err
}

// admitExisting asks the guard whether req may change (or delete) the resource's current version.
func (s *Service) admitExisting(ctx context.Context, req *Request, typ, id string) error {
	cur, err := s.store.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Deleted {
		return nil
	}
	values := s.engine.StoredValues(ctx, typ, id)
	err = guardFrom(ctx).AdmitWrite(ctx, req, typ, id, values)
	if req.Interaction == Delete { // a deletion leaves no index: the patients are those of what it deletes
		patients := notePatients(ctx, typ, id, values)
		if err != nil {
			ledgerFrom(ctx).refuse(typ+"/"+id, patients, err)
		}
	}
	return err
}

// searchFilter admits search results through the guard.
func (s *Service) searchFilter(req *Request) search.Filter {
	return func(ctx context.Context, v *store.Version, values func(string) [][]byte) bool {
		if values == nil {
			return s.admit(ctx, req, v, true) == nil
		}
		return s.admitValues(ctx, req, v, values) == nil
	}
}

// IndexEntries returns the search index entries of a resource body (writers outside the service, such
// as the audit trail, index what they store with it).
func (s *Service) IndexEntries(typ string, body []byte) ([]store.IndexEntry, error) {
	return s.indexEntries(typ, body)
}
