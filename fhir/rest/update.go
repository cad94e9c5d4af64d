package rest

import (
	"context"
	"errors"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// update is the update interaction: PUT [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#update).
// The body's id must equal the URL's. An unknown or deleted id is created (update as create, 201).
// If-Match makes the update version-aware (412 when the current version differs).
func (s *Service) update(ctx context.Context, g Guard, req *Request) (*Response, error) {
	if req.ID == "" {
		return s.conditionalUpdate(ctx, g, req)
	}
	r, err := parseBody(req)
	if err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: req.Type + ".id",
			Details: "the resource must carry the id of the URL"}
	}
	if r.ID != req.ID {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: req.Type + ".id",
			Details: "the resource id does not match the URL", Diagnostics: "body id " + r.ID + ", URL id " + req.ID}
	}
	match, err := ifMatch(req)
	if err != nil {
		return nil, err
	}
	body, index, err := s.finish(r, req.ID)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		v, err := s.put(ctx, g, req, req.ID, body, index, match, nil)
		if errors.Is(err, errRaced) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s.writeResult(req, v), nil
	}
}

// put decides and commits the write of a resource body at id (update, conditional update).
func (s *Service) put(ctx context.Context, g Guard, req *Request, id string, body []byte, index []store.IndexEntry, match uint64, check func(context.Context) error) (*store.Version, error) {
	op := store.Op{Type: req.Type, ID: id, Body: body, Index: index, Method: "PUT", IfMatch: match}
	a, err := s.replacement(ctx, g, req, op, s.afterFacts(ctx, req.Type, id, body, index), nil)
	if err != nil {
		return nil, err
	}
	return s.commitOne(ctx, a, check)
}

// replacement decides on writing after in place of the current version of op's resource. A current
// version the caller may not see is answered as far as possible as if it did not exist: the write is
// decided as a create, and If-Match fails as it does on a resource that does not exist; only what cannot
// be imitated (creating on an id that is taken) is refused, with the answer of a hidden read.
func (s *Service) replacement(ctx context.Context, g Guard, req *Request, op store.Op, after *search.Facts, companion func(string) bool) (approved, error) {
	_, before, err := s.existing(ctx, op.Type, op.ID)
	if err != nil {
		return approved{}, err
	}
	if before != nil {
		if hidden := s.visible(ctx, g, req, before); hidden != nil {
			if err := g.Write(ctx, req, Change{After: after, Companion: companion}); err != nil {
				return approved{}, err
			}
			if op.IfMatch != 0 && fhir.KindOf(hidden) == fhir.KindNotFound {
				return approved{}, ifMatchFailed(op.Type, op.ID, op.IfMatch, 0) // as on a resource that does not exist
			}
			return approved{}, hidden
		}
	}
	return s.approve(ctx, g, req, Change{Before: before, After: after, Companion: companion}, op)
}
