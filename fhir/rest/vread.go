package rest

import (
	"context"
	"errors"
	"strconv"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// vread is the vread interaction: GET [base]/[type]/[id]/_history/[vid]
// (https://hl7.org/fhir/R4/http.html#vread). A version that records a deletion is 410 Gone.
func (s *Service) vread(ctx context.Context, req *Request) (*Response, error) {
	vid, err := strconv.ParseUint(req.VersionID, 10, 64)
	if err != nil || vid == 0 {
		return nil, &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST", Details: "no such version",
			Diagnostics: "a version id is a positive integer"}
	}
	v, err := s.store.ReadVersion(ctx, req.Type, req.ID, vid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST", Details: "no such version",
			Diagnostics: req.Type + "/" + req.ID + "/_history/" + req.VersionID + " is not known"}
	}
	if err != nil {
		return nil, err
	}
	if err := s.admit(ctx, req, v, false); err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, deleted(v)
	}
	if notModified(req, v) {
		return &Response{Status: 304, VersionID: req.VersionID, LastModified: v.LastUpdated}, nil
	}
	return s.resourceResponse(req, v)
}
