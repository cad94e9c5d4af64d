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
// already deleted resource changes nothing and succeeds. If-Match makes it version-aware.
func (s *Service) delete(ctx context.Context, req *Request) (*Response, error) {
	match, err := ifMatch(req)
	if err != nil {
		return nil, err
	}
	var check func(context.Context) error
	if req.ID == "" { // conditional delete: one match at most
		crit, id, err := s.conditionalTarget(ctx, req)
		if err != nil {
			return nil, err
		}
		if id == "" {
			return &Response{Status: 204}, nil
		}
		req.ID, check = id, s.stillMatches(req.Type, crit, id)
	}
	if err := s.admitExisting(ctx, req, req.Type, req.ID); err != nil {
		return nil, err
	}
	v, err := s.commitOne(ctx, store.Op{Type: req.Type, ID: req.ID, Delete: true, Method: "DELETE", IfMatch: match}, check)
	if errors.Is(err, errRaced) {
		return nil, &fhir.Error{Kind: fhir.KindConflict, Code: "conflict", Details: "the resources matching the criteria changed meanwhile; retry"}
	}
	if err != nil {
		return nil, err
	}
	if v == nil {
		resp := &Response{Status: 204}
		if req.Return == ReturnOutcome {
			resp.Status = 200
			resp.Body = Outcome(fhir.Issue{Severity: "information", Code: "informational",
				Details: fmt.Sprintf("%s/%s does not exist or is already deleted; nothing changed", req.Type, req.ID)})
		}
		return resp, nil
	}
	resp := s.versionResponse(req, 204, v)
	if resp.Body != nil {
		resp.Status = 200
	}
	return resp, nil
}
