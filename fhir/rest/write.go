package rest

import (
	"context"
	"net/url"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// Matcher finds the resources of a type that match search criteria. Conditional interactions
// (If-None-Exist, conditional references in transactions) use it; the search engine provides it.
type Matcher interface {
	// Match returns the ids of up to limit resources of typ matching query.
	Match(ctx context.Context, typ string, query url.Values, limit int) ([]string, error)
}

// SetMatcher installs the matcher of conditional interactions.
func (s *Service) SetMatcher(m Matcher) { s.matcher = m }

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

// finish gives the resource its id, clears the server's meta elements, and validates it. It returns the
// body to store.
func (s *Service) finish(r *fhir.Resource, id string) ([]byte, error) {
	if err := r.ClearServerMeta(); err != nil {
		return nil, err
	}
	r.SetID(id)
	body := r.Bytes()
	if err := s.validator.Validate(body); err != nil {
		return nil, err
	}
	return body, nil
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
	return vs[0], nil
}

// conditionalMatch runs the criteria of a conditional interaction.
func (s *Service) conditionalMatch(ctx context.Context, typ, criteria, header string) ([]string, error) {
	if s.matcher == nil {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", Expression: header,
			Details: "conditional interactions need the search engine, which this server does not run"}
	}
	q, err := url.ParseQuery(criteria)
	if err != nil || len(q) == 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: header,
			Details: "the criteria must be a non-empty search query string"}
	}
	return s.matcher.Match(ctx, typ, q, 2)
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
