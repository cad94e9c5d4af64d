package rest

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"fhirgate/fhir"
)

// Conditional update, patch and delete (https://hl7.org/fhir/R4/http.html#cond-update): the URL names
// search criteria instead of an id. The criteria run as the caller's own search (a match the caller may
// not see is no match), then again under the store's commit lock, so that a concurrent write cannot make
// two clients act on different matches.

// criteria returns the search criteria of a conditional interaction and the single id they match (""
// when none). Several matches are 412.
func (s *Service) criteria(ctx context.Context, g Guard, req *Request) (string, string, error) {
	crit := url.Values{}
	for k, v := range req.Params {
		switch k {
		case "_format", "_pretty":
			continue
		}
		crit[k] = v
	}
	if len(crit) == 0 {
		return "", "", &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: "criteria",
			Details: "a conditional " + string(req.Interaction) + " needs search criteria in the URL"}
	}
	enc := crit.Encode()
	ids, err := s.match(ctx, g, req, req.Type, enc, "criteria")
	if err != nil {
		return "", "", err
	}
	if len(ids) > 1 {
		return "", "", multipleMatches("criteria")
	}
	if len(ids) == 0 {
		return enc, "", nil
	}
	return enc, ids[0], nil
}

// stillMatches re-checks, under the commit lock, that criteria still match exactly id ("" = nothing), as
// the caller sees them.
func (s *Service) stillMatches(g Guard, req *Request, crit, id string) func(context.Context) error {
	return func(ctx context.Context) error {
		ids, err := s.match(ctx, g, req, req.Type, crit, "criteria")
		if err != nil {
			return err
		}
		if strings.Join(ids, ",") != id {
			return errRaced
		}
		return nil
	}
}

// conditionalUpdate: no match creates (with the body's id if it has one), one match updates it (the body
// may omit the id, or carry the same one), several are 412.
func (s *Service) conditionalUpdate(ctx context.Context, g Guard, req *Request) (*Response, error) {
	for attempt := 1; ; attempt++ {
		crit, id, err := s.criteria(ctx, g, req)
		if err != nil {
			return nil, err
		}
		r, err := parseBody(req)
		if err != nil {
			return nil, err
		}
		target := id
		switch {
		case id != "" && r.ID != "" && r.ID != id:
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: req.Type + ".id",
				Details: "the resource id differs from the id of the resource the criteria match"}
		case id == "" && r.ID != "":
			target = r.ID
		case id == "":
			target = s.cfg.NewID()
		}
		if !fhir.ValidID(target) {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: req.Type + ".id", Details: "invalid resource id"}
		}
		match, err := ifMatch(req)
		if err != nil {
			return nil, err
		}
		body, index, err := s.finish(r, target)
		if err != nil {
			return nil, err
		}
		v, err := s.put(ctx, g, req, target, body, index, match, s.stillMatches(g, req, crit, id))
		if errors.Is(err, errRaced) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s.writeResult(req, v), nil
	}
}
