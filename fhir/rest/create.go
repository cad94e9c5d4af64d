package rest

import (
	"context"
	"errors"

	"fhirgate/fhir/store"
)

// errRaced marks a conditional create whose criteria started to match while it was committing.
var errRaced = errors.New("rest: conditional create raced with another write")

// create is the create interaction: POST [base]/[type] (https://hl7.org/fhir/R4/http.html#create), with
// conditional create (If-None-Exist, https://hl7.org/fhir/R4/http.html#ccreate). The server assigns the
// id; an id in the body is ignored.
func (s *Service) create(ctx context.Context, req *Request) (*Response, error) {
	r, err := parseBody(req)
	if err != nil {
		return nil, err
	}
	body, index, err := s.finish(r, s.cfg.NewID())
	if err != nil {
		return nil, err
	}
	if err := s.admitWrite(ctx, req, req.Type, r.ID, index); err != nil {
		return nil, err
	}
	op := store.Op{Type: req.Type, ID: r.ID, Body: body, Index: index, Method: "POST", IfNoneExist: true,
		Chain: req.Type == "AuditEvent"} // AuditEvents sent by other systems join the audit chain
	if req.IfNoneExist == "" {
		v, err := s.commitOne(ctx, op, nil)
		if err != nil {
			return nil, err
		}
		return s.versionResponse(req, 201, v), nil
	}
	for attempt := 0; ; attempt++ {
		ids, err := s.conditionalMatch(ctx, req.Type, req.IfNoneExist, "If-None-Exist")
		if err != nil {
			return nil, err
		}
		switch len(ids) {
		case 0:
		case 1:
			v, err := s.store.Read(ctx, req.Type, ids[0])
			if err != nil {
				return nil, err
			}
			if err := s.admit(ctx, req, v, true); err != nil {
				return nil, err
			}
			return s.versionResponse(req, 200, v), nil
		default:
			return nil, multipleMatches("If-None-Exist")
		}
		// Nothing matched: create, unless a match appeared meanwhile (checked under the commit lock).
		v, err := s.commitOne(ctx, op, func(ctx context.Context) error {
			ids, err := s.conditionalMatch(ctx, req.Type, req.IfNoneExist, "If-None-Exist")
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				return errRaced
			}
			return nil
		})
		if errors.Is(err, errRaced) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s.versionResponse(req, 201, v), nil
	}
}
