package rest

import (
	"context"
	"fmt"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// read is the read interaction: GET [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#read),
// with conditional read (If-None-Match, If-Modified-Since -> 304), _summary and _elements.
func (s *Service) read(ctx context.Context, g Guard, req *Request) (*Response, error) {
	v, _, err := s.readCurrent(ctx, g, req, req.Type, req.ID)
	if err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, deleted(v)
	}
	if notModified(req, v) {
		return &Response{Status: 304, VersionID: fmt.Sprint(v.VersionID), LastModified: v.LastUpdated}, nil
	}
	return s.resourceResponse(req, v)
}

func deleted(v *store.Version) error {
	return &fhir.Error{Kind: fhir.KindGone, MessageID: "MSG_DELETED", Details: "the resource has been deleted",
		Diagnostics: fmt.Sprintf("%s/%s was deleted in version %d", v.Type, v.ID, v.VersionID)}
}

// notModified evaluates the conditional read headers.
func notModified(req *Request, v *store.Version) bool {
	if req.IfNoneMatch != "" {
		for _, tag := range strings.Split(req.IfNoneMatch, ",") {
			if strings.TrimSpace(tag) == "*" {
				return true
			}
			if n, ok := parseVersionTag(tag); ok && n == v.VersionID {
				return true
			}
		}
		return false // If-None-Match takes precedence over If-Modified-Since
	}
	if !req.IfModifiedSince.IsZero() {
		return !v.LastUpdated.Truncate(1e9).After(req.IfModifiedSince)
	}
	return false
}

// resourceResponse returns a stored version, subsetted as _summary and _elements ask.
func (s *Service) resourceResponse(req *Request, v *store.Version) (*Response, error) {
	body, err := subset(req, v.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: 200, Body: body, VersionID: fmt.Sprint(v.VersionID), LastModified: v.LastUpdated,
		Touched: []*store.Version{v}}, nil
}

func subset(req *Request, body []byte) ([]byte, error) {
	summary, err := fhir.ParseSummary(req.Params.Get("_summary"))
	if err != nil {
		return nil, err
	}
	var elements []string
	for _, e := range req.Params["_elements"] {
		for _, part := range strings.Split(e, ",") {
			if part = strings.TrimSpace(part); part != "" {
				elements = append(elements, part)
			}
		}
	}
	if summary == fhir.SummaryCount && req.Interaction != SearchType && req.Interaction != SearchSystem {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "_summary",
			Details: "_summary=count applies to searches only"}
	}
	return fhir.Subset(body, summary, elements)
}
