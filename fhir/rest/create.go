package rest

import (
	"context"
	"errors"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// errRaced marks a write whose decision no longer holds at commit: the criteria of a conditional
// interaction started (or stopped) to match, or the resource decided on changed meanwhile. The
// interaction decides again; past maxAttempts the client is told to retry.
var errRaced = &fhir.Error{Kind: fhir.KindConflict, Code: "conflict",
	Details: "concurrent writes changed what this interaction decided on; retry"}

// maxAttempts bounds how often an interaction decides again after a concurrent write.
const maxAttempts = 4

// create is the create interaction: POST [base]/[type] (https://hl7.org/fhir/R4/http.html#create), with
// conditional create (If-None-Exist, https://hl7.org/fhir/R4/http.html#ccreate). The server assigns the
// id; an id in the body is ignored. The criteria of If-None-Exist run as the caller's own search: a match
// the caller may not see is no match.
func (s *Service) create(ctx context.Context, g Guard, req *Request) (*Response, error) {
	r, err := parseBody(req)
	if err != nil {
		return nil, err
	}
	body, index, err := s.finish(r, s.cfg.NewID())
	if err != nil {
		return nil, err
	}
	op := store.Op{Type: req.Type, ID: r.ID, Body: body, Index: index, Method: "POST", IfNoneExist: true,
		Chain: req.Type == "AuditEvent"} // AuditEvents sent by other systems join the audit chain
	a, err := s.approve(ctx, g, req, Change{After: s.afterFacts(ctx, req.Type, r.ID, body, index)}, op)
	if err != nil {
		return nil, err
	}
	if req.IfNoneExist == "" {
		v, err := s.commitOne(ctx, a, nil)
		if err != nil {
			return nil, err
		}
		return s.versionResponse(req, 201, v), nil
	}
	for attempt := 1; ; attempt++ {
		ids, err := s.match(ctx, g, req, req.Type, req.IfNoneExist, "If-None-Exist")
		if err != nil {
			return nil, err
		}
		switch len(ids) {
		case 0:
		case 1:
			v, err := s.matchedVersion(ctx, g, req, req.Type, ids[0])
			if err != nil {
				return nil, err
			}
			return s.versionResponse(req, 200, v), nil
		default:
			return nil, multipleMatches("If-None-Exist")
		}
		// Nothing matched: create, unless a match appeared meanwhile (checked under the commit lock).
		v, err := s.commitOne(ctx, a, func(ctx context.Context) error {
			ids, err := s.match(ctx, g, req, req.Type, req.IfNoneExist, "If-None-Exist")
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				return errRaced
			}
			return nil
		})
		if errors.Is(err, errRaced) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s.versionResponse(req, 201, v), nil
	}
}
