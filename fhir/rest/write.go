package rest

import (
	"context"

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
	if err := s.enforceProfiles(body); err != nil { // the profiles its meta.profile names (validate.go)
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

// commitOne commits one approved operation; check (optional) re-verifies conditional matches under the
// store's commit lock.
func (s *Service) commitOne(ctx context.Context, a approved, check func(context.Context) error) (*store.Version, error) {
	vs, err := s.commit(ctx, []approved{a}, check)
	if err != nil {
		if _, ok := failedOp(err); ok && a.op.IfMatch != 0 {
			fhir.AsError(err).Expression = "If-Match"
		}
		return nil, err
	}
	return vs[0], nil
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

// IndexEntries returns the search index entries of a resource body (writers outside the service, such
// as the audit trail, index what they store with it).
func (s *Service) IndexEntries(typ string, body []byte) ([]store.IndexEntry, error) {
	return s.indexEntries(typ, body)
}
