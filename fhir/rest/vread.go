package rest

import (
	"context"
	"strconv"

	"fhirgate/fhir"
)

// vread is the vread interaction: GET [base]/[type]/[id]/_history/[vid]
// (https://hl7.org/fhir/R4/http.html#vread). A version that records a deletion is 410 Gone.
func (s *Service) vread(ctx context.Context, g Guard, req *Request) (*Response, error) {
	vid, err := strconv.ParseUint(req.VersionID, 10, 64)
	if err != nil || vid == 0 {
		return nil, &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST", Details: "no such version",
			Diagnostics: "a version id is a positive integer"}
	}
	v, err := s.readVersion(ctx, g, req, req.Type, req.ID, vid)
	if err != nil {
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
