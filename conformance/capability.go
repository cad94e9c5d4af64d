package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
)

// Options describe the server for its CapabilityStatement.
type Options struct {
	// BaseURL is the FHIR base URL (implementation.url).
	BaseURL string
	// Version is the software version.
	Version string
	// Routes is the route table actually served.
	Routes []rest.Route
	// Service is consulted for per-type restrictions (e.g. immutable types) and features.
	Service *rest.Service
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SMART, when set, adds the security section (SMART on FHIR, oauth-uris).
	SMART *SMART
}

type capabilityStatement struct {
	ResourceType   string           `json:"resourceType"`
	Status         string           `json:"status"`
	Date           string           `json:"date"`
	Publisher      string           `json:"publisher"`
	Kind           string           `json:"kind"`
	Instantiates   []string         `json:"instantiates,omitempty"`
	Software       software         `json:"software"`
	Implementation implementation   `json:"implementation"`
	FHIRVersion    string           `json:"fhirVersion"`
	Format         []string         `json:"format"`
	PatchFormat    []string         `json:"patchFormat"`
	Rest           []restCapability `json:"rest"`
}

type software struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

type implementation struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

type restCapability struct {
	Mode          string               `json:"mode"`
	Documentation string               `json:"documentation,omitempty"`
	Security      *security            `json:"security,omitempty"`
	Resource      []resourceCapability `json:"resource"`
	Interaction   []interaction        `json:"interaction"`
	SearchParam   []searchParam        `json:"searchParam,omitempty"`
	Operation     []operation          `json:"operation,omitempty"`
}

type searchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

type operation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

type resourceCapability struct {
	Type              string        `json:"type"`
	Interaction       []interaction `json:"interaction"`
	Versioning        string        `json:"versioning"`
	ReadHistory       bool          `json:"readHistory"`
	UpdateCreate      bool          `json:"updateCreate"`
	ConditionalCreate bool          `json:"conditionalCreate"`
	ConditionalRead   string        `json:"conditionalRead"`
	ConditionalUpdate bool          `json:"conditionalUpdate"`
	ConditionalDelete string        `json:"conditionalDelete"`
	SearchInclude     []string      `json:"searchInclude,omitempty"`
	SearchRevInclude  []string      `json:"searchRevInclude,omitempty"`
	SearchParam       []searchParam `json:"searchParam,omitempty"`
	Operation         []operation   `json:"operation,omitempty"`
}

type interaction struct {
	Code string `json:"code"`
}

// CapabilityStatement returns the server's CapabilityStatement as JSON.
func CapabilityStatement(o Options) ([]byte, error) {
	if o.BaseURL == "" || o.Service == nil {
		return nil, errors.New("conformance: a base URL and the service are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cs := capabilityStatement{
		ResourceType: "CapabilityStatement", Status: "active", Date: fhir.FormatInstant(o.Now()),
		Publisher: "fhirgate", Kind: "instance",
		Software:       software{Name: "fhirgate", Version: o.Version},
		Implementation: implementation{Description: "fhirgate FHIR R4 server", URL: o.BaseURL},
		FHIRVersion:    "4.0.1",
		Format:         []string{"json", "application/fhir+json", "application/json"},
		PatchFormat:    []string{"application/json-patch+json", "application/fhir+json"},
	}
	if !o.Service.ExportEnabled() { // bulk export is listed only where it is served
		o.Routes = slices.DeleteFunc(slices.Clone(o.Routes), func(r rest.Route) bool { return strings.HasPrefix(r.Operation, "export") })
	} else {
		cs.Instantiates = []string{bulkDataServer}
	}
	cfg := o.Service.Config()
	rc := restCapability{Mode: "server", Documentation: fmt.Sprintf("Searches return pages of %d entries by default "+
		"and at most %d (_count). Unknown search parameters are ignored and listed in an OperationOutcome entry, "+
		"or refused with Prefer: handling=strict. Paging links carry opaque cursors.", cfg.DefaultCount, cfg.MaxCount)}
	var typeLevel, systemLevel []rest.Interaction
	for _, r := range o.Routes {
		switch r.Level() {
		case "system":
			systemLevel = append(systemLevel, r.Interaction)
		default:
			typeLevel = append(typeLevel, r.Interaction)
		}
	}
	for _, i := range dedupe(systemLevel) {
		switch i {
		case rest.Batch:
			rc.Interaction = append(rc.Interaction, interaction{"batch"}, interaction{"transaction"})
		case rest.HistorySystem, rest.SearchSystem:
			rc.Interaction = append(rc.Interaction, interaction{string(i)})
		}
	}
	rc.SearchParam = params("")
	if o.SMART != nil {
		rc.Security = securitySection(o.SMART)
	}
	for _, t := range fhir.ResourceTypes() {
		res := resourceCapability{Type: t, Versioning: "versioned-update", ReadHistory: true, UpdateCreate: true,
			ConditionalRead: "full-support", ConditionalDelete: "single",
			ConditionalCreate: true, ConditionalUpdate: true,
			SearchInclude: []string{"*"}, SearchRevInclude: []string{"*"}, SearchParam: params(t)}
		for _, p := range search.Params(t) {
			if p.Type == search.Reference && p.Indexed {
				res.SearchInclude = append(res.SearchInclude, t+":"+p.Code)
			}
		}
		res.Operation = operationsOf(o.Routes, t)
		for _, i := range dedupe(typeLevel) {
			if o.Service.Supports(t, i) {
				res.Interaction = append(res.Interaction, interaction{string(i)})
			}
		}
		if !o.Service.Supports(t, rest.Update) { // append-only types (AuditEvent)
			res.UpdateCreate, res.ConditionalUpdate, res.ConditionalDelete = false, false, "not-supported"
			res.Versioning = "versioned"
		}
		rc.Resource = append(rc.Resource, res)
	}
	for _, r := range o.Routes {
		if r.Path == "$export" && r.Method == "GET" {
			rc.Operation = append(rc.Operation, operation{Name: "export", Definition: bulkData + "export"})
		}
	}
	cs.Rest = []restCapability{rc}
	return fhir.MustJSON(cs), nil
}

// params lists the supported search parameters of a type (the common ones for "").
func params(typ string) []searchParam {
	var out []searchParam
	list := search.Params(typ)
	if typ == "" {
		list = search.Params("Resource")
	}
	for _, p := range list {
		if p.Unsupported != "" {
			continue
		}
		common := strings.Contains(p.URL, "/Resource-") || strings.Contains(p.URL, "/DomainResource-")
		if common != (typ == "") {
			continue
		}
		doc := ""
		if mods := p.Modifiers(); len(mods) > 0 {
			doc = "modifiers: " + strings.Join(mods, ", ")
		}
		if p.Type == search.Number || p.Type == search.Date || p.Type == search.Quantity {
			doc = strings.TrimPrefix(doc+"; prefixes: eq, ne, gt, lt, ge, le, sa, eb, ap", "; ")
		}
		out = append(out, searchParam{Name: p.Code, Definition: p.URL, Type: string(p.Type), Documentation: doc})
	}
	return out
}

func dedupe(in []rest.Interaction) []rest.Interaction {
	seen := map[rest.Interaction]bool{}
	var out []rest.Interaction
	for _, i := range in {
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// bulkData is the base of the Bulk Data Access IG's OperationDefinitions.
const bulkData = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"

// bulkDataServer is the Bulk Data Access IG's CapabilityStatement a server that exports instantiates.
const bulkDataServer = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"

// operationsOf lists the operations the route table serves on a resource type: those of routes on any
// type ({type}/...), and those on the type itself, each once, with its OperationDefinition in R4.
func operationsOf(routes []rest.Route, typ string) []operation {
	var out []operation
	seen := map[string]bool{}
	for _, r := range routes {
		if r.Operation == "" || seen[r.Operation] {
			continue
		}
		owner := "Resource"
		switch {
		case strings.HasPrefix(r.Path, "{type}/"):
		case strings.HasPrefix(r.Path, typ+"/"):
			owner = typ
		default:
			continue
		}
		seen[r.Operation] = true
		def := "http://hl7.org/fhir/OperationDefinition/" + owner + "-" + r.Operation
		if r.Operation == "export" { // Bulk Data Access IG v2.0.0
			def = bulkData + strings.ToLower(owner) + "-export"
		}
		out = append(out, operation{Name: r.Operation, Definition: def})
	}
	return out
}
