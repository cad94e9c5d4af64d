package rest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"fhirgate/fhir"
)

// The $export parameters beyond the level, _type and _since (Bulk Data Access v2.0.0): _typeFilter,
// _elements, patient (POST only) and includeAssociatedData, read from the query or from a Parameters
// body. Their effect on the job is in export_filter.go.

// exportOptions are the parsed parameters that narrow or shape what an export writes.
type exportOptions struct {
	// TypeFilter holds, per type, the searches (OR-ed) a resource of that type must match one of.
	TypeFilter map[string][]url.Values
	// Elements holds, per type ("" for every type), the elements kept of each resource.
	Elements map[string][]string
	// Patients, when not nil, are the only patients exported (ids, sorted, once each).
	Patients []string
	// Associated are the includeAssociatedData values.
	Associated []string

	filters *exportFilters // compiled at kick-off
}

// Associated data an export can add (includeAssociatedData).
const (
	latestProvenance   = "LatestProvenanceResources"
	relevantProvenance = "RelevantProvenanceResources"
)

// exportParams returns the kick-off's parameters: the query's, and those of a Parameters body (POST),
// where a patient is a valueReference. The patient parameter is accepted only in a body.
func exportParams(req *Request) (url.Values, error) {
	if _, ok := req.Params["patient"]; ok {
		return nil, paramError("patient", "is given in the Parameters body of a POST kick-off")
	}
	if len(req.Body) == 0 || (req.ContentType != "application/fhir+json" && req.ContentType != "application/json") {
		return operationParams(req)
	}
	params := url.Values{}
	for k, v := range req.Params {
		params[k] = slices.Clone(v)
	}
	var in struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(req.Body, &in); err != nil || in.ResourceType != "Parameters" {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Expression: "Parameters",
			Details: "the body of a POST kick-off is a Parameters resource"}
	}
	for i, p := range in.Parameter {
		name, value, err := exportParameter(p)
		if err != nil {
			where := fmt.Sprintf("Parameters.parameter[%d]", i)
			if name != "" {
				where = name
			}
			return nil, paramError(where, err.Error())
		}
		params.Add(name, value)
	}
	return params, nil
}

// exportParameter reads one entry of a Parameters body: its name and its value, a primitive or, for
// patient, the reference of a valueReference.
func exportParameter(p map[string]json.RawMessage) (name, value string, err error) {
	if json.Unmarshal(p["name"], &name) != nil || name == "" {
		return "", "", fmt.Errorf("needs a name")
	}
	var values []string
	for k := range p {
		if strings.HasPrefix(k, "value") {
			values = append(values, k)
		}
	}
	if len(values) != 1 {
		return name, "", fmt.Errorf("needs exactly one value[x]")
	}
	raw := p[values[0]]
	if name == "patient" {
		var ref struct {
			Reference string `json:"reference"`
		}
		if values[0] != "valueReference" || json.Unmarshal(raw, &ref) != nil || ref.Reference == "" {
			return name, "", fmt.Errorf("must be a valueReference to a Patient")
		}
		return name, ref.Reference, nil
	}
	if json.Unmarshal(raw, &value) != nil {
		return name, "", fmt.Errorf("must have a string value")
	}
	return name, value, nil
}

// add parses one parameter into o; a parameter it does not know is not supported (400 naming it).
func (o *exportOptions) add(name string, vals []string, baseURL string) error {
	switch name {
	case "_typeFilter":
		for _, v := range vals {
			if err := o.addTypeFilter(v); err != nil {
				return err
			}
		}
	case "_elements":
		for _, e := range splitList(vals) {
			typ, el, scoped := strings.Cut(e, ".")
			if !scoped {
				typ, el = "", e
			} else if !fhir.IsResourceType(typ) {
				return paramError(name, "names an unknown resource type: "+typ)
			}
			if el == "" || strings.Contains(el, ".") {
				return paramError(name, "must list elements as element or Type.element: "+e)
			}
			if o.Elements == nil {
				o.Elements = map[string][]string{}
			}
			o.Elements[typ] = append(o.Elements[typ], el)
		}
	case "patient":
		for _, ref := range vals { // each a valueReference: one reference, never a list
			id, ok := strings.CutPrefix(strings.TrimPrefix(ref, strings.TrimSuffix(baseURL, "/")+"/"), "Patient/")
			if !ok || !fhir.ValidID(id) {
				return paramError(name, "must reference a Patient")
			}
			if !slices.Contains(o.Patients, id) {
				o.Patients = append(o.Patients, id)
			}
		}
		slices.Sort(o.Patients)
	case "includeAssociatedData":
		for _, v := range splitList(vals) {
			if v != latestProvenance && v != relevantProvenance {
				return paramError(name, "value "+v+" is not supported (LatestProvenanceResources, RelevantProvenanceResources)")
			}
			if !slices.Contains(o.Associated, v) {
				o.Associated = append(o.Associated, v)
			}
		}
	default:
		return &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
			Expression: name, Details: "this server does not support the $export parameter " + name}
	}
	return nil
}

// addTypeFilter parses one _typeFilter value, Type?search-parameters.
func (o *exportOptions) addTypeFilter(v string) error {
	typ, query, ok := strings.Cut(v, "?")
	if !ok || !fhir.IsResourceType(typ) {
		return paramError("_typeFilter", "must be a resource type, ?, and search parameters: "+v)
	}
	q, err := url.ParseQuery(query)
	if err != nil || len(q) == 0 {
		return paramError("_typeFilter", "has a malformed or empty query: "+v)
	}
	if o.TypeFilter == nil {
		o.TypeFilter = map[string][]url.Values{}
	}
	o.TypeFilter[typ] = append(o.TypeFilter[typ], q)
	return nil
}

// check validates the options against the export's level and types (once the types are known).
func (o *exportOptions) check(spec exportSpec, typesGiven bool) error {
	if o.Patients != nil && spec.Level == "system" {
		return paramError("patient", "applies to Patient- and Group-level exports only")
	}
	for typ := range o.TypeFilter {
		if !slices.Contains(spec.Types, typ) {
			if typesGiven {
				return paramError("_typeFilter", "filters "+typ+", which _type does not list")
			}
			return paramError("_typeFilter", "filters "+typ+", which this export does not include")
		}
	}
	return nil
}

// splitList returns the comma-separated items of vals, trimmed, without empty ones.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// patients returns the patients a Patient-level export is limited to (nil: every patient).
func (o *exportOptions) patients() []string {
	if o == nil {
		return nil
	}
	return o.Patients
}

// only keeps, of a group's members, those the patient parameter names (all without it).
func (o *exportOptions) only(ids []string) []string {
	if o == nil || o.Patients == nil {
		return ids
	}
	return slices.DeleteFunc(ids, func(id string) bool { return !slices.Contains(o.Patients, id) })
}
