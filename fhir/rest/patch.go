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
func (s *Service) patch(ctx context.Context, req *Request) (*Response, error) {
	match, err := ifMatch(req)
	if err != nil {
		return nil, err
	}
	if req.ID == "" { // conditional patch: exactly one match
		_, id, err := s.conditionalTarget(ctx, req)
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST", Expression: "criteria",
				Details: "no resource matches the criteria"}
		}
		req.ID = id
	}
	for attempt := 0; ; attempt++ {
		body, vid, err := s.patchedBody(ctx, req)
		if err != nil {
			return nil, err
		}
		if match != 0 && match != vid {
			return nil, ifMatchFailed(req.Type, req.ID, match, vid)
		}
		body, index, err := s.checkPatched(req, body)
		if err != nil {
			return nil, err
		}
		if err := s.admitWrite(ctx, req, req.Type, req.ID, index); err != nil {
			return nil, err
		}
		v, err := s.commitOne(ctx, store.Op{Type: req.Type, ID: req.ID, Body: body, Index: index, Method: "PATCH", IfMatch: vid}, nil)
		if fhir.KindOf(err) == fhir.KindPreconditionFailed && match == 0 && attempt < 3 {
			continue // someone wrote in between: patch the new version
		}
		if err != nil {
			return nil, err
		}
		return s.versionResponse(req, 200, v), nil
	}
}

// patchedBody reads the current version and applies the request's patch to it.
func (s *Service) patchedBody(ctx context.Context, req *Request) ([]byte, uint64, error) {
	cur, err := s.store.Read(ctx, req.Type, req.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fhir.NotFound(req.Type, req.ID)
	}
	if err != nil {
		return nil, 0, err
	}
	if err := s.admit(ctx, req, cur, true); err != nil {
		return nil, 0, err
	}
	if cur.Deleted {
		return nil, 0, deleted(cur)
	}
	if err := s.admitExisting(ctx, req, req.Type, req.ID); err != nil {
		return nil, 0, err
	}
	if len(req.Body) == 0 {
		return nil, 0, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Details: "the patch is empty"}
	}
	switch req.ContentType {
	case "application/json-patch+json":
		out, err := jsonpatch.Apply(cur.Body, req.Body)
		if err != nil {
			return nil, 0, patchError(err)
		}
		return out, cur.VersionID, nil
	case "application/fhir+json", "application/json", "":
		params, err := decode(req.Body)
		if err != nil {
			return nil, 0, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
				Details: "the patch is not valid JSON", Diagnostics: err.Error()}
		}
		if m, _ := params.(map[string]any); m == nil || m["resourceType"] != "Parameters" {
			return nil, 0, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Expression: "resourceType",
				Details: "a FHIR JSON patch must be a Parameters resource (FHIRPath Patch)"}
		}
		// The Parameters resource must itself be valid R4.
		if err := s.validator.Validate(req.Body); err != nil {
			return nil, 0, err
		}
		doc, err := decode(cur.Body)
		if err != nil {
			return nil, 0, err
		}
		out, err := fhirpathpatch.ApplyWithOptions(doc.(map[string]any), params.(map[string]any), patchModel)
		if err != nil {
			return nil, 0, patchError(err)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, 0, err
		}
		return b, cur.VersionID, nil
	}
	return nil, 0, &fhir.Error{Kind: fhir.KindUnsupportedMedia, Code: "not-supported",
		Details:     "PATCH takes application/json-patch+json (JSON Patch) or application/fhir+json (FHIRPath Patch Parameters)",
		Diagnostics: "Content-Type " + req.ContentType}
}

// checkPatched checks that a patch kept the resource's type and id, then validates it like an update.
func (s *Service) checkPatched(req *Request, body []byte) ([]byte, []store.IndexEntry, error) {
	r, err := fhir.ParseResource(body)
	if err != nil {
		return nil, nil, &fhir.Error{Kind: fhir.KindUnprocessable, Code: "processing",
			Details: "the patched document is not a resource", Diagnostics: fhir.AsError(err).Details}
	}
	if r.Type != req.Type || r.ID != req.ID {
		return nil, nil, &fhir.Error{Kind: fhir.KindUnprocessable, Code: "processing",
			Details: "a patch may not change the resource's type or id"}
	}
	return s.finish(r, req.ID)
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
