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

// everything is the Patient $everything operation: GET|POST [base]/Patient/[id]/$everything
// (https://hl7.org/fhir/R4/patient-operation-everything.html). It returns a searchset: the patient, their
// compartment, and the resources these reference outside it; start and end bound clinical dates, _since
// the last update, _type the types, _count the page size.
func (s *Service) everything(ctx context.Context, g Guard, req *Request) (*Response, error) {
	params, err := s.searchParams(req)
	if err != nil {
		return nil, err
	}
	o := search.EverythingOptions{Count: s.cfg.DefaultCount}
	for name, vals := range params {
		val := vals[0]
		switch name {
		case "start", "end":
			lo, hi, err := search.DateRange(val)
			if err != nil {
				return nil, paramError(name, "must be a date")
			}
			if name == "start" {
				o.Start, o.HasStart = lo, true
			} else {
				o.End, o.HasEnd = hi, true
			}
		case "_since":
			t, err := fhir.ParseInstant(val)
			if err != nil {
				return nil, paramError(name, "must be an instant")
			}
			o.Since = t
		case "_type":
			for _, t := range strings.Split(strings.Join(vals, ","), ",") {
				if t = strings.TrimSpace(t); t == "" {
					continue
				}
				if !fhir.IsResourceType(t) {
					return nil, paramError(name, "names an unknown resource type")
				}
				o.Types = append(o.Types, t)
			}
		case "_count":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, paramError(name, "must be a positive integer")
			}
			o.Count = min(n, s.cfg.MaxCount)
		case "_cursor":
			o.Cursor = val
		case "_format", "_pretty":
		default:
			if req.Strict {
				return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
					Expression: name, Details: "unknown $everything parameter"}
			}
		}
	}
	res, err := s.everythingOf(ctx, g, req, req.ID, o)
	if err != nil {
		return nil, err
	}
	b := s.newBundle("searchset")
	total := res.Total
	b.Total = &total
	path := "Patient/" + req.ID + "/$everything"
	self := url.Values{}
	for k, v := range params {
		if k != "_format" && k != "_pretty" {
			self[k] = v
		}
	}
	b.Link = append(b.Link, linkJSON{Relation: "self", URL: s.pageURL(path, self)})
	if res.Next != "" {
		next := url.Values{}
		for k, v := range self {
			next[k] = v
		}
		next.Set("_count", strconv.Itoa(o.Count))
		next.Set("_cursor", res.Next)
		b.Link = append(b.Link, linkJSON{Relation: "next", URL: s.pageURL(path, next)})
	}
	for _, m := range res.Matches {
		b.Entry = append(b.Entry, entryJSON{FullURL: s.url(m.Ref()), Resource: m.Body, Search: &searchJSON{Mode: "match"}})
	}
	for _, m := range res.Includes {
		b.Entry = append(b.Entry, entryJSON{FullURL: s.url(m.Ref()), Resource: m.Body, Search: &searchJSON{Mode: "include"}})
	}
	touched := append(append([]*store.Version(nil), res.Matches...), res.Includes...)
	return &Response{Status: 200, Body: fhir.MustJSON(b), Touched: touched}, nil
}
