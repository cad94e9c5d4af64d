package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpathpatch"
	"fhirgate/fhir/jsonpatch"
	"fhirgate/fhir/store"
)

// patch is the patch interaction: PATCH [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#patch) with
// a JSON Patch (application/json-patch+json, RFC 6902) or a FHIRPath Patch (a Parameters resource,
// https://hl7.org/fhir/R4/fhirpatch.html). The patched resource is validated like an update; If-Match
// makes it version-aware, and without it the patch still applies to exactly the version it read.
func (s *Service) patch(ctx context.Context, g Guard, req *Request) (*Response, error) {
	match, err := ifMatch(req)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		v, err := s.patchOnce(ctx, g, req, match)
		if errors.Is(err, errRaced) && attempt < maxAttempts {
			continue // someone wrote in between: patch the new version
		}
		if err != nil {
			return nil, err
		}
		return s.versionResponse(req, 200, v), nil
	}
}

func (s *Service) patchOnce(ctx context.Context, g Guard, req *Request, match uint64) (*store.Version, error) {
	id := req.ID
	var check func(context.Context) error
	if id == "" { // conditional patch: exactly one match
		crit, matched, err := s.criteria(ctx, g, req)
		if err != nil {
			return nil, err
		}
		if matched == "" {
			return nil, &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST", Expression: "criteria",
				Details: "no resource matches the criteria"}
		}
		id, check = matched, s.stillMatches(g, req, crit, matched)
	}
	a, err := s.patchedOp(ctx, g, req, id, match, nil)
	if err != nil {
		return nil, err
	}
	return s.commitOne(ctx, a, check)
}

// patchedOp reads the current version (once the guard has let req see it), applies the request's patch
// to it, validates the result like an update, and asks the guard to approve the change. rewrite, when
// set, rewrites references in the patched body (a transaction's fullUrls).
func (s *Service) patchedOp(ctx context.Context, g Guard, req *Request, id string, match uint64, rewrite func([]byte) []byte) (approved, error) {
	cur, before, err := s.readCurrent(ctx, g, req, req.Type, id)
	if err != nil {
		return approved{}, err
	}
	if cur.Deleted {
		return approved{}, deleted(cur)
	}
	if match != 0 && match != cur.VersionID {
		return approved{}, ifMatchFailed(req.Type, id, match, cur.VersionID)
	}
	body, err := s.applyPatch(req, cur)
	if err != nil {
		return approved{}, err
	}
	if rewrite != nil {
		body = rewrite(body)
	}
	body, index, err := s.checkPatched(req, id, body)
	if err != nil {
		return approved{}, err
	}
	after := s.afterFacts(ctx, req.Type, id, body, index)
	return s.approve(ctx, g, req, Change{Before: before, After: after},
		store.Op{Type: req.Type, ID: id, Body: body, Index: index, Method: "PATCH", IfMatch: match})
}

// applyPatch applies the request's patch to a version's body.
func (s *Service) applyPatch(req *Request, cur *store.Version) ([]byte, error) {
	if len(req.Body) == 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Details: "the patch is empty"}
	}
	switch req.ContentType {
	case "application/json-patch+json":
		out, err := jsonpatch.Apply(cur.Body, req.Body)
		if err != nil {
			return nil, patchError(err)
		}
		return out, nil
	case "application/fhir+json", "application/json", "":
		params, err := decode(req.Body)
		if err != nil {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
				Details: "the patch is not valid JSON", Diagnostics: err.Error()}
		}
		if m, _ := params.(map[string]any); m == nil || m["resourceType"] != "Parameters" {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Expression: "resourceType",
				Details: "a FHIR JSON patch must be a Parameters resource (FHIRPath Patch)"}
		}
		// The Parameters resource must itself be valid R4.
		if err := s.validator.Validate(req.Body); err != nil {
			return nil, err
		}
		doc, err := decode(cur.Body)
		if err != nil {
			return nil, err
		}
		out, err := fhirpathpatch.ApplyWithOptions(doc.(map[string]any), params.(map[string]any), patchModel)
		if err != nil {
			return nil, patchError(err)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, &fhir.Error{Kind: fhir.KindUnsupportedMedia, Code: "not-supported",
		Details:     "PATCH takes application/json-patch+json (JSON Patch) or application/fhir+json (FHIRPath Patch Parameters)",
		Diagnostics: "Content-Type " + req.ContentType}
}

// checkPatched checks that a patch kept the resource's type and id, then validates it like an update.
func (s *Service) checkPatched(req *Request, id string, body []byte) ([]byte, []store.IndexEntry, error) {
	r, err := fhir.ParseResource(body)
	if err != nil {
		return nil, nil, &fhir.Error{Kind: fhir.KindUnprocessable, Code: "processing",
			Details: "the patched document is not a resource", Diagnostics: fhir.AsError(err).Details}
	}
	if r.Type != req.Type || r.ID != id {
		return nil, nil, &fhir.Error{Kind: fhir.KindUnprocessable, Code: "processing",
			Details: "a patch may not change the resource's type or id"}
	}
	body, index, err := s.finish(r, id)
	if fe := fhir.AsError(err); fe != nil && fe.Kind == fhir.KindInvalid {
		// The patch was understood; what it would make breaks the rules: 422, as for any patch that
		// cannot apply to this resource.
		unprocessable := *fe
		unprocessable.Kind, unprocessable.Details = fhir.KindUnprocessable, "the patched resource would not be valid: "+fe.Details
		return nil, nil, &unprocessable
	}
	return body, index, err
}

// patchModel tells FHIRPath Patch which elements repeat and which are choices, from the R4 definitions.
var patchModel = fhirpathpatch.Options{Element: func(path string) (fhirpathpatch.ElementInfo, bool) {
	e, ok := fhir.LookupElement(path)
	if !ok {
		return fhirpathpatch.ElementInfo{}, false
	}
	return fhirpathpatch.ElementInfo{Repeating: e.IsArray(), Choice: e.Choice}, true
}}

func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// patchError maps a patch failure: a malformed patch is 400, a patch that cannot apply to this resource
// (a failed test, a path that matches nothing) is 422.
func patchError(err error) error {
	kind := fhir.KindUnprocessable
	var je *jsonpatch.Error
	var fe *fhirpathpatch.Error
	switch {
	case errors.As(err, &je) && je.Kind == jsonpatch.InvalidPatch:
		kind = fhir.KindInvalid
	case errors.As(err, &fe) && fe.Kind == fhirpathpatch.InvalidPatch:
		kind = fhir.KindInvalid
	}
	code := "processing"
	if kind == fhir.KindInvalid {
		code = "invalid"
	}
	return &fhir.Error{Kind: kind, Code: code, Details: "the patch cannot be applied", Diagnostics: err.Error()}
}
