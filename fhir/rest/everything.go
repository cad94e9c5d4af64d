package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// operationParams are an operation's parameters: the URL's, plus those of its body, a form
// (application/x-www-form-urlencoded) or a Parameters resource (FHIR JSON), as clients post either.
func operationParams(req *Request) (url.Values, error) {
	params := url.Values{}
	for k, v := range req.Params {
		params[k] = append([]string(nil), v...)
	}
	if len(req.Body) == 0 {
		return params, nil
	}
	if req.ContentType != "application/fhir+json" && req.ContentType != "application/json" {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Details: "the form body of the operation is malformed"}
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
		return params, nil
	}
	var in struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(req.Body, &in); err != nil || in.ResourceType != "Parameters" {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Expression: "Parameters",
			Details: "an operation's JSON body is a Parameters resource"}
	}
	for i, p := range in.Parameter {
		var name string
		nameErr := json.Unmarshal(p["name"], &name)
		value, ok := "", false
		for k, raw := range p {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			var str string
			if json.Unmarshal(raw, &str) == nil {
				value, ok = str, true
			} else if v := strings.TrimSpace(string(raw)); v != "" && v[0] != '{' && v[0] != '[' {
				value, ok = v, true // an integer, a decimal or a boolean, as written
			}
		}
		if nameErr != nil || name == "" || !ok {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: fmt.Sprintf("Parameters.parameter[%d]", i),
				Details: "each parameter needs a name and a primitive value[x]"}
		}
		params.Add(name, value)
	}
	return params, nil
}

// ServerDevice is the server itself as a resource: the observer of the audit trail, the sender of the
// notices to patients. EnsureServerDevice keeps it stored; only the server writes it.
const ServerDevice = "Device/fhirgate"

// EnsureServerDevice stores the server's own Device (its software name and version, and that it is the
// source of the audit trail), so that the references to it in every AuditEvent and notice resolve. It
// writes a new version only when the version changed.
func (s *Service) EnsureServerDevice(ctx context.Context, version string) error {
	if version == "" {
		version = "dev"
	}
	typ, id, _ := strings.Cut(ServerDevice, "/")
	body := fmt.Sprintf(`{"resourceType":"Device","id":%q,"status":"active","manufacturer":"fhirgate",`+
		`"deviceName":[{"name":"fhirgate","type":"manufacturer-name"}],`+
		`"type":{"text":"FHIR R4 server and gateway: the source of this server's audit trail (IHE BALP) and the sender of its notices to patients"},`+
		`"version":[{"value":%q}],"url":%q}`, id, version, s.cfg.BaseURL)
	cur, err := s.Do(ctx, AllowAll{}, &Request{Interaction: Read, Type: typ, ID: id})
	if err == nil && bytes.Contains(cur.Body, []byte(`"version":[{"value":`+strconv.Quote(version)+`}]`)) {
		return nil
	}
	_, err = s.Do(ctx, AllowAll{}, &Request{Interaction: Update, Type: typ, ID: id, Body: []byte(body), Return: ReturnMinimal})
	return err
}

// serverNotice reports whether a resource is one of the server's notices to a patient: about the record,
// not part of it, so $everything leaves them out (the patient reads them as Communications).
func serverNotice(f *search.Facts) bool {
	return f.Type == "Communication" && slices.Contains(f.References("sender"), ServerDevice)
}

// everything is the Patient $everything operation: GET|POST [base]/Patient/[id]/$everything
// (https://hl7.org/fhir/R4/patient-operation-everything.html). It returns a searchset: the patient, their
// compartment, and the resources these reference outside it; start and end bound clinical dates, _since
// the last update, _type the types, _count the page size. The server's notices to the patient are not part
// of the record and are left out.
func (s *Service) everything(ctx context.Context, g Guard, req *Request) (*Response, error) {
	params, err := operationParams(req)
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
