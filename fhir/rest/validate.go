package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/profile"
	"fhirgate/fhir/store"
)

// profiles are the profiles the service knows: the configured set, or R4's core profiles.
func (s *Service) profiles() *profile.Set {
	if s.cfg.Profiles != nil {
		return s.cfg.Profiles
	}
	return profile.Core()
}

// validateRequest is what a $validate request asks: the resource (nil: the stored one), the mode and the
// profile.
type validateRequest struct {
	resource []byte
	mode     string // "", create, update, delete, profile
	profile  string
}

// validate is the $validate operation (https://hl7.org/fhir/R4/resource-operation-validate.html):
// POST [base]/[type]/$validate with a resource (or a Parameters holding resource, mode and profile),
// and GET|POST [base]/[type]/[id]/$validate, which validates the stored resource, or the one supplied for
// mode=update, or, for mode=delete, says whether the resource may be deleted. The answer is 200 with an
// OperationOutcome of every issue (the R4 validator's and those of the profiles: the one asked for and
// the ones the resource's meta.profile names), even when the resource is invalid; an error status only
// when the request itself is. Nothing is stored.
//
// The caller needs the permission of the write it checks (create, update, or delete) on the type; the
// stored resource is read through the guard, so one the caller may not see is answered as one that does
// not exist.
func (s *Service) validate(ctx context.Context, g Guard, req *Request) (*Response, error) {
	in, err := parseValidate(req)
	if err != nil {
		return nil, err
	}
	check := &Request{Interaction: Create, Type: req.Type, ID: req.ID, Params: req.Params, Entry: req.Entry,
		Bundle: req.Bundle, inBundle: req.inBundle, Ledger: req.Ledger}
	switch {
	case in.mode == "delete":
		check.Interaction = Delete
	case in.mode == "update" || req.ID != "":
		check.Interaction = Update
	}
	if err := g.Authorize(ctx, check); err != nil {
		return nil, err
	}
	var p *profile.Profile
	if in.profile != "" {
		var ok bool
		if p, ok = s.profiles().Lookup(in.profile); !ok {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", Expression: "profile",
				Details: "the profile is not known to this server", Diagnostics: in.profile}
		}
	}
	if in.mode == "delete" {
		return s.validateDelete(ctx, g, check, req)
	}
	body := in.resource
	if body == nil {
		if req.ID == "" {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: "resource",
				Details: "$validate on a type needs the resource to validate"}
		}
		if in.mode == "update" {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: "resource",
				Details: "$validate with mode update needs the resource to validate"}
		}
		v, _, err := s.readCurrent(ctx, g, check, req.Type, req.ID)
		if err != nil {
			return nil, err
		}
		if v.Deleted {
			return nil, fhir.NotFound(req.Type, req.ID)
		}
		body = v.Body
	}
	r, err := fhir.ParseResource(body)
	if err != nil {
		return nil, err
	}
	if r.Type != req.Type {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_RESOURCE_TYPE_MISMATCH",
			Expression: "resourceType", Details: "the resource type does not match the URL",
			Diagnostics: "resource is a " + r.Type + ", URL names " + req.Type}
	}
	issues := s.validator.Check(body)
	if in.mode == "update" {
		switch {
		case r.ID == "":
			issues = append(issues, fhir.Issue{Severity: "error", Code: "required", Expression: req.Type + ".id",
				Details: "an update needs the resource's id"})
		case req.ID != "" && r.ID != req.ID:
			issues = append(issues, fhir.Issue{Severity: "error", Code: "value", Expression: req.Type + ".id",
				Details: "the resource id does not match the URL"})
		}
	}
	issues = append(issues, s.profileIssues(body, p)...)
	return validateOutcome(issues), nil
}

// validateDelete says whether the resource may be deleted: the guard decides as on a deletion (a resource
// the caller may not see is answered as one that does not exist), and the only rule that prevents a
// deletion is that of the audit trail, which is never deleted.
func (s *Service) validateDelete(ctx context.Context, g Guard, check, req *Request) (*Response, error) {
	if req.ID == "" {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: "id",
			Details: "$validate with mode delete names a resource: [type]/[id]/$validate"}
	}
	v, f, err := s.readCurrent(ctx, g, check, req.Type, req.ID)
	if err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, fhir.NotFound(req.Type, req.ID)
	}
	if req.Type == "AuditEvent" {
		return validateOutcome([]fhir.Issue{{Severity: "error", Code: "business-rule", MessageID: "MSG_OP_NOT_ALLOWED",
			Details: "AuditEvents are immutable: they cannot be deleted"}}), nil
	}
	// The decision is asked for and recorded; the approval is dropped: nothing is deleted.
	if _, err := s.approve(ctx, g, check, Change{Before: f}, store.Op{Type: req.Type, ID: req.ID, Method: "DELETE"}); err != nil {
		return nil, err
	}
	return validateOutcome([]fhir.Issue{{Severity: "information", Code: "informational",
		Details: fmt.Sprintf("no rule prevents deleting %s/%s", req.Type, req.ID)}}), nil
}

// profileIssues are the issues of a resource against a profile asked for (nil for none) and the profiles
// its meta.profile names; a profile it names that the server does not know is an information issue (R4
// lets a server ignore it).
func (s *Service) profileIssues(body []byte, asked *profile.Profile) []fhir.Issue {
	res, err := profile.Decode(body)
	if err != nil {
		return nil // the R4 validator has said what is wrong
	}
	known, unknown := s.profiles().Declared(res)
	var issues []fhir.Issue
	if asked != nil {
		issues = append(issues, asked.Validate(res)...)
	}
	for _, p := range known {
		if p != asked {
			issues = append(issues, p.Validate(res)...)
		}
	}
	for _, u := range unknown {
		issues = append(issues, fhir.Issue{Severity: "information", Code: "informational", Expression: "meta.profile",
			Details: "the profile is not known to this server and was not checked: " + u})
	}
	return issues
}

// enforceProfiles refuses a write whose resource breaks a profile its meta.profile names (profiles the
// server does not know are ignored): a 400 naming the profile and the element.
func (s *Service) enforceProfiles(body []byte) error {
	if !bytes.Contains(body, []byte(`"profile"`)) {
		return nil
	}
	res, err := profile.Decode(body)
	if err != nil {
		return nil // the R4 validator has refused it
	}
	known, _ := s.profiles().Declared(res)
	var errs []fhir.Issue
	for _, p := range known {
		for _, is := range p.Validate(res) {
			if is.Severity == "error" {
				errs = append(errs, is)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &fhir.Error{Kind: fhir.KindInvalid, Code: errs[0].Code, Expression: errs[0].Expression,
		Details: errs[0].Details, More: errs[1:]}
}

// validateOutcome is the answer of $validate: 200 with the issues, led, when none is an error or a
// warning, by one that says so.
func validateOutcome(issues []fhir.Issue) *Response {
	clean := true
	for _, is := range issues {
		if is.Severity != "information" {
			clean = false
		}
	}
	if clean {
		issues = append([]fhir.Issue{{Severity: "information", Code: "informational", Details: "no errors or warnings found"}}, issues...)
	}
	return &Response{Status: 200, Body: Outcome(issues...)}
}

// parseValidate reads a $validate request: mode and profile from the URL, and the body, which is the
// resource itself, a Parameters resource (resource, mode, profile), or a form of parameters.
func parseValidate(req *Request) (*validateRequest, error) {
	in := &validateRequest{}
	params := url.Values{}
	for k, v := range req.Params {
		params[k] = v
	}
	if len(req.Body) > 0 {
		if req.ContentType != "application/fhir+json" && req.ContentType != "application/json" {
			form, err := url.ParseQuery(string(req.Body))
			if err != nil {
				return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Details: "the form body of the operation is malformed"}
			}
			for k, v := range form {
				params[k] = append(params[k], v...)
			}
		} else if err := in.readBody(req.Body, params); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"mode", "profile"} {
		if len(params[name]) > 1 {
			return nil, paramError(name, "is given more than once")
		}
	}
	in.mode, in.profile = params.Get("mode"), strings.TrimSpace(params.Get("profile"))
	switch in.mode {
	case "", "create", "update", "delete", "profile":
	default:
		return nil, paramError("mode", "must be create, update, delete or profile")
	}
	return in, nil
}

// readBody takes the resource from a JSON body: a Parameters resource's resource parameter (and its mode
// and profile into params), or the body itself.
func (in *validateRequest) readBody(body []byte, params url.Values) error {
	var head struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string          `json:"name"`
			Resource       json.RawMessage `json:"resource"`
			ValueCode      *string         `json:"valueCode"`
			ValueURI       *string         `json:"valueUri"`
			ValueCanonical *string         `json:"valueCanonical"`
			ValueString    *string         `json:"valueString"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ResourceType == "" {
		return &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
			Details: "the body is neither a resource nor a Parameters resource in FHIR JSON"}
	}
	if head.ResourceType != "Parameters" {
		in.resource = body
		return nil
	}
	for i, p := range head.Parameter {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		switch p.Name {
		case "resource":
			if len(p.Resource) == 0 || in.resource != nil {
				return &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Expression: at,
					Details: "one resource parameter, holding the resource, is expected"}
			}
			in.resource = p.Resource
		case "mode", "profile":
			v := firstOf(p.ValueCode, p.ValueURI, p.ValueCanonical, p.ValueString)
			if v == nil {
				return &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: at,
					Details: "the " + p.Name + " parameter needs a value"}
			}
			params.Add(p.Name, *v)
		default:
			return &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", Expression: at,
				Details: "$validate has no parameter " + p.Name}
		}
	}
	return nil
}

func firstOf(vals ...*string) *string {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}
