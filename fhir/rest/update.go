package rest

import (
	"context"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// update is the update interaction: PUT [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#update).
// The body's id must equal the URL's. An unknown or deleted id is created (update as create, 201).
// If-Match makes the update version-aware (412 when the current version differs).
func (s *Service) update(ctx context.Context, req *Request) (*Response, error) {
	if req.ID == "" {
		return s.conditionalUpdate(ctx, req)
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
	if err := s.admitWrite(ctx, req, req.Type, req.ID, index); err != nil {
		return nil, err
	}
	if err := s.admitExisting(ctx, req, req.Type, req.ID); err != nil {
		return nil, err
	}
	v, err := s.commitOne(ctx, store.Op{Type: req.Type, ID: req.ID, Body: body, Index: index, Method: "PUT", IfMatch: match}, nil)
	if err != nil {
		return nil, err
	}
	status := 200
	if v.Created {
		status = 201
	}
	return s.versionResponse(req, status, v), nil
}
