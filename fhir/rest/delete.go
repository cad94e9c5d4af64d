package rest

import (
	"context"
	"errors"
	"fmt"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// delete is the delete interaction: DELETE [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#delete).
// The deletion is a new version; later reads answer 410 Gone and history keeps it. Deleting an absent or
// already deleted resource changes nothing and succeeds, and so does, to the client, deleting a resource
// it may not see (nothing changes; the audit trail records the refusal). If-Match makes it
// version-aware. Conditional delete (criteria in the URL) acts on the one match the caller may see.
func (s *Service) delete(ctx context.Context, g Guard, req *Request) (*Response, error) {
	match, err := ifMatch(req)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		resp, err := s.deleteOnce(ctx, g, req, match)
		if errors.Is(err, errRaced) && attempt < maxAttempts {
			continue
		}
		return resp, err
	}
}

func (s *Service) deleteOnce(ctx context.Context, g Guard, req *Request, match uint64) (*Response, error) {
	id := req.ID
	var check func(context.Context) error
	if id == "" { // conditional delete: one match at most
		crit, matched, err := s.criteria(ctx, g, req)
		if err != nil {
			return nil, err
		}
		if matched == "" {
			return &Response{Status: 204}, nil
		}
		id, check = matched, s.stillMatches(g, req, crit, matched)
	}
	a, nothing, err := s.deletion(ctx, g, req, id, match, nil)
	if err != nil {
		return nil, err
	}
	if nothing {
		return s.nothingDeleted(req, req.Type+"/"+id), nil
	}
	v, err := s.commitOne(ctx, a, check)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return s.nothingDeleted(req, req.Type+"/"+id), nil
	}
	resp := s.versionResponse(req, 204, v)
	if resp.Body != nil {
		resp.Status = 200
	}
	return resp, nil
}

// deletion decides on deleting id. A current version the caller may not see is answered as a resource
// that does not exist: nothing to delete (nothing is true), or with If-Match the 412 of a missing
// resource. An absent or deleted one is left to the store (nothing, or 412 with If-Match).
func (s *Service) deletion(ctx context.Context, g Guard, req *Request, id string, match uint64, companion func(string) bool) (approved, bool, error) {
	_, before, err := s.existing(ctx, req.Type, id)
	if err != nil {
		return approved{}, false, err
	}
	if before != nil {
		if hidden := s.visible(ctx, g, req, before); hidden != nil {
			switch {
			case fhir.KindOf(hidden) != fhir.KindNotFound:
				return approved{}, false, hidden
			case match != 0:
				return approved{}, false, ifMatchFailed(req.Type, id, match, 0)
			}
			return approved{}, true, nil
		}
	}
	a, err := s.approve(ctx, g, req, Change{Before: before, Companion: companion},
		store.Op{Type: req.Type, ID: id, Delete: true, Method: "DELETE", IfMatch: match})
	return a, false, err
}

// nothingDeleted is the answer of a delete that changed nothing: what is absent (or hidden, or matched by
// nothing) stays so.
func (s *Service) nothingDeleted(req *Request, what string) *Response {
	resp := &Response{Status: 204}
	if req.Return == ReturnOutcome {
		resp.Status = 200
		resp.Body = Outcome(fhir.Issue{Severity: "information", Code: "informational",
			Details: fmt.Sprintf("%s does not exist or is already deleted; nothing changed", what)})
	}
	return resp
}
