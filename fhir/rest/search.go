package rest

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// search is the search interaction (https://hl7.org/fhir/R4/http.html#search, search.html): GET
// [base]/[type]?..., POST [base]/[type]/_search (form parameters count with the URL's), GET [base]?_type=...
// (system level), and compartment search GET [base]/Patient/[id]/[type]?.... The result is a searchset
// Bundle with the total, self and next links (opaque cursors), matches, includes, and an outcome entry
// naming the parameters that were ignored.
func (s *Service) search(ctx context.Context, g Guard, req *Request) (*Response, error) {
	params, err := s.searchParams(req)
	if err != nil {
		return nil, err
	}
	types := []string{req.Type}
	if req.Interaction == SearchSystem {
		types = nil
		for _, t := range params["_type"] {
			for _, x := range strings.Split(t, ",") {
				if x = strings.TrimSpace(x); x == "" {
					continue
				} else if !fhir.IsResourceType(x) {
					return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "_type",
						Details: "unknown resource type", Diagnostics: x}
				}
				types = append(types, x)
			}
		}
		if len(types) == 0 {
			types = fhir.ResourceTypes()
		}
	}
	q, err := search.ParseQuery(types, params, search.Options{DefaultCount: s.cfg.DefaultCount, MaxCount: s.cfg.MaxCount,
		MaxIncludes: s.cfg.MaxIncludes, Strict: req.Strict})
	if err != nil {
		return nil, err
	}
	if req.Compartment != "" {
		q.Compartment = req.Compartment
	}
	if len(q.Sort) == 0 && len(types) == 1 && types[0] == "AuditEvent" {
		q.Sort = []search.SortKey{{Code: "date", Desc: true}} // an access history reads newest first
	}
	res, err := s.find(ctx, g, req, q)
	if err != nil {
		return nil, err
	}
	resp, err := s.searchBundle(req, q, res)
	if resp != nil {
		resp.Touched = append(append([]*store.Version(nil), res.Matches...), res.Includes...)
	}
	return resp, err
}

// searchParams returns the request's search parameters: the URL's, plus a form body for POST _search.
func (s *Service) searchParams(req *Request) (url.Values, error) {
	params := url.Values{}
	for k, v := range req.Params {
		params[k] = append([]string(nil), v...)
	}
	if len(req.Body) > 0 {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Details: "the form body of _search is malformed"}
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params, nil
}

// searchBundle renders a result page as a searchset Bundle.
func (s *Service) searchBundle(req *Request, q *search.Query, res *search.Result) (*Response, error) {
	b := s.newBundle("searchset")
	if q.Total != "none" || q.Count == 0 {
		total := res.Total
		b.Total = &total
	}
	path := searchPath(req)
	self := url.Values{}
	for k, v := range q.Applied {
		self[k] = v
	}
	if req.Interaction == SearchSystem && len(req.Params["_type"]) > 0 {
		self["_type"] = req.Params["_type"]
	}
	if q.Cursor != "" {
		self.Set("_cursor", q.Cursor)
	}
	b.Link = append(b.Link, linkJSON{Relation: "self", URL: s.pageURL(path, self)})
	for _, l := range []struct{ rel, cursor string }{{"next", res.Next}, {"previous", res.Previous}} {
		if l.cursor == "" {
			continue
		}
		page := url.Values{}
		for k, v := range q.Applied {
			page[k] = v
		}
		if req.Interaction == SearchSystem && len(req.Params["_type"]) > 0 {
			page["_type"] = req.Params["_type"]
		}
		page.Set("_count", strconv.Itoa(q.Count))
		page.Set("_cursor", l.cursor)
		b.Link = append(b.Link, linkJSON{Relation: l.rel, URL: s.pageURL(path, page)})
	}
	if q.Count == 0 {
		return &Response{Status: 200, Body: fhir.MustJSON(b)}, nil
	}
	for _, v := range res.Matches {
		body, err := fhir.Subset(v.Body, q.Summary, q.Elements)
		if err != nil {
			return nil, err
		}
		b.Entry = append(b.Entry, entryJSON{FullURL: s.url(v.Ref()), Resource: body, Search: &searchJSON{Mode: "match"}})
	}
	for _, v := range res.Includes {
		body := v.Body
		if q.Summary != fhir.SummaryFalse && q.Summary != fhir.SummaryCount {
			var err error
			if body, err = fhir.Subset(v.Body, q.Summary, nil); err != nil {
				return nil, err
			}
		}
		b.Entry = append(b.Entry, entryJSON{FullURL: s.url(v.Ref()), Resource: body, Search: &searchJSON{Mode: "include"}})
	}
	if len(q.Ignored) > 0 {
		b.Entry = append(b.Entry, entryJSON{Resource: Outcome(fhir.Issue{Severity: "warning", Code: "not-supported",
			MessageID: "MSG_PARAM_UNKNOWN", Details: "parameters ignored: " + strings.Join(q.Ignored, ", ")}),
			Search: &searchJSON{Mode: "outcome"}})
	}
	return &Response{Status: 200, Body: fhir.MustJSON(b)}, nil
}

func searchPath(req *Request) string {
	switch {
	case req.Compartment != "":
		return req.Compartment + "/" + req.Type
	case req.Interaction == SearchSystem:
		return ""
	}
	return req.Type
}
