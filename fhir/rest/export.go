package rest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// Bulk Data $export (https://hl7.org/fhir/uv/bulkdata/export.html), v2.0.0: the kick-off of
// [base]/$export, [base]/Patient/$export and [base]/Group/[id]/$export, the status URL
// ([base]/$export-poll/[job]) and the files ([base]/$export-file/[job]/[name]). The job itself is in
// export_job.go, its gates (the only reads, each through the guard) in gate.go.

// Renewable is a guard a long-running job can renew: the new guard decides for the same caller and keeps
// none of the old one's decisions, so that what a guard remembers stays bounded by one patient's record.
type Renewable interface {
	Renew() Guard
}

// ExportAudit describes what an export writes of one patient (or one page of resources outside every
// compartment) to the audit trail: Written are the versions written, Request the export as an interaction
// (its Ledger says which patients each is about, and what the guard refused), Guard the guard that
// decided them, Target the kick-off's URL (relative to the base). End marks the export's own record, at
// its end: nothing written, an empty ledger.
type ExportAudit struct {
	Job     string
	Target  string
	Request *Request
	Guard   Guard
	Written []*store.Version
	End     bool
}

// ExportEnabled reports whether bulk export is served (NewExports was called).
func (s *Service) ExportEnabled() bool { return s.exports != nil }

// exportFormats are the _outputFormat values accepted, all meaning FHIR NDJSON.
var exportFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// exportSpec is what a kick-off asks for.
type exportSpec struct {
	Level string // "system", "patient" or "group"
	Group string
	Types []string
	Since time.Time
	// Options are the parameters that narrow or shape what is written (export_params.go).
	Options *exportOptions
}

// exportKickoff parses and authorizes a kick-off request and starts its job.
func (s *Service) exportKickoff(ctx context.Context, g Guard, req *Request) (*Response, error) {
	if s.exports == nil {
		return nil, &fhir.Error{Kind: fhir.KindNotAllowed, MessageID: "MSG_OP_NOT_ALLOWED", Details: "bulk export is not enabled on this server"}
	}
	if !req.RespondAsync {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: "Prefer",
			Details: "a bulk export needs the header Prefer: respond-async"}
	}
	params, err := exportParams(req)
	if err != nil {
		return nil, err
	}
	spec := exportSpec{Level: "system", Options: &exportOptions{}}
	switch req.Type {
	case "Patient":
		spec.Level = "patient"
	case "Group":
		spec.Level, spec.Group = "group", req.ID
	}
	for name, vals := range params {
		switch name {
		case "_outputFormat":
			if !slices.Contains(exportFormats, vals[0]) {
				return nil, paramError(name, "must be application/fhir+ndjson")
			}
		case "_since":
			t, err := fhir.ParseInstant(vals[0])
			if err != nil {
				return nil, paramError(name, "must be an instant")
			}
			spec.Since = t
		case "_type":
			for _, t := range strings.Split(strings.Join(vals, ","), ",") {
				if t = strings.TrimSpace(t); t == "" || slices.Contains(spec.Types, t) {
					continue
				}
				if !fhir.IsResourceType(t) {
					return nil, paramError(name, "names an unknown resource type")
				}
				spec.Types = append(spec.Types, t)
			}
		default:
			if err := spec.Options.add(name, vals, s.cfg.BaseURL); err != nil {
				return nil, err
			}
		}
	}
	typesGiven := len(spec.Types) > 0
	types, err := exportTypes(ctx, g, spec)
	if err != nil {
		return nil, err
	}
	spec.Types = types
	if err := spec.Options.check(spec, typesGiven); err != nil {
		return nil, err
	}
	if err := s.compileExportOptions(ctx, g, req, spec.Options); err != nil {
		return nil, err
	}
	if spec.Level == "group" {
		// The Group must be one the caller may see, before anything starts (the same answer as a read).
		if _, err := s.exportGroup(ctx, g, req, spec.Group); err != nil {
			return nil, err
		}
	}
	id, err := s.exports.start(g, req, spec)
	if errors.Is(err, errTooManyExports) {
		return &Response{Status: 429, Body: ErrorOutcome(err),
			Headers: map[string]string{"Retry-After": strconv.Itoa(s.exports.cfg.RetryAfter)}}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Response{Status: 202, ContentLocation: s.url("$export-poll/" + id), Body: exportAccepted()}, nil
}

// exportTypes returns the types an export writes: those asked for, each of which the caller's scopes
// must allow searching, or by default every type they allow (of the patients' compartments for a
// patient or group export; AuditEvents only when asked for).
func exportTypes(ctx context.Context, g Guard, spec exportSpec) ([]string, error) {
	allowed := func(t string) error {
		return g.Authorize(ctx, &Request{Interaction: SearchType, Type: t, Params: url.Values{}})
	}
	if len(spec.Types) > 0 {
		for _, t := range spec.Types {
			if spec.Level != "system" && t != "Patient" && len(search.CompartmentParams(t)) == 0 {
				return nil, paramError("_type", "names a type outside the patient compartment: "+t)
			}
			if err := allowed(t); err != nil {
				return nil, err
			}
		}
		return spec.Types, nil
	}
	var candidates []string
	if spec.Level == "system" {
		candidates = fhir.ResourceTypes()
	} else {
		candidates = append([]string{"Patient"}, search.CompartmentTypes()...)
	}
	var out []string
	for _, t := range candidates {
		if t == "AuditEvent" || slices.Contains(out, t) {
			continue
		}
		if allowed(t) == nil {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, allowed("Patient") // the refusal naming a scope that would allow it
	}
	return out, nil
}

// exportAccepted is the body of a kick-off's 202: an OperationOutcome saying where to look.
func exportAccepted() []byte {
	return []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational",` +
		`"diagnostics":"the export has started: poll the URL of Content-Location"}]}`)
}

// exportPoll answers the status URL: GET gives progress or the manifest, DELETE cancels.
func (s *Service) exportPoll(ctx context.Context, req *Request) (*Response, error) {
	if s.exports == nil {
		return nil, fhir.NotFound("$export-poll", req.ID)
	}
	if req.Operation == "export-cancel" {
		if err := s.exports.cancel(ctx, req.Caller, req.ID); err != nil {
			return nil, err
		}
		return &Response{Status: 202}, nil
	}
	st, err := s.exports.state(ctx, req.Caller, req.ID)
	if err != nil {
		return nil, err
	}
	switch st.Status {
	case jobRunning:
		return &Response{Status: 202, Headers: map[string]string{
			"X-Progress":  fmt.Sprintf("%d patients, %d resources", st.Patients, st.Resources),
			"Retry-After": strconv.Itoa(s.exports.cfg.RetryAfter),
		}}, nil
	case jobFailed:
		return nil, &fhir.Error{Kind: fhir.KindInternal, Code: "exception", Details: "the export failed: " + st.Reason}
	}
	return &Response{Status: 200, ContentType: "application/json", Body: s.manifest(st)}, nil
}

// exportDownload serves one file of a completed export to the client that started it.
func (s *Service) exportDownload(ctx context.Context, req *Request) (*Response, error) {
	if s.exports == nil {
		return nil, fhir.NotFound("$export-file", req.ID)
	}
	path, err := s.exports.file(ctx, req.Caller, req.ID, req.VersionID)
	if err != nil {
		return nil, err
	}
	return &Response{Status: 200, ContentType: "application/fhir+ndjson", BodyFile: path}, nil
}

// manifest is the completed export's manifest.
func (s *Service) manifest(st *jobState) []byte {
	type item struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	}
	m := struct {
		TransactionTime     string `json:"transactionTime"`
		Request             string `json:"request"`
		RequiresAccessToken bool   `json:"requiresAccessToken"`
		Output              []item `json:"output"`
		Error               []item `json:"error"`
	}{TransactionTime: st.TransactionTime.UTC().Format(time.RFC3339Nano), Request: s.url(st.Request),
		RequiresAccessToken: true, Output: []item{}, Error: []item{}}
	for _, f := range st.Output {
		m.Output = append(m.Output, item{Type: f.Type, URL: s.url("$export-file/" + st.ID + "/" + f.Name), Count: f.Count})
	}
	for _, f := range st.Error {
		m.Error = append(m.Error, item{Type: f.Type, URL: s.url("$export-file/" + st.ID + "/" + f.Name), Count: f.Count})
	}
	return fhir.MustJSON(m)
}
