package search

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"fhirgate/fhir/fhirpath"
)

// paramDef is one R4 SearchParameter, as generated.
type paramDef struct {
	URL, Code, Bases, Type, Expression, Targets string
	Components                                  []componentDef
}

type componentDef struct {
	Definition, Expression string
}

// Type is a search parameter type.
type Type string

// The search parameter types.
const (
	Number    Type = "number"
	Date      Type = "date"
	String    Type = "string"
	Token     Type = "token"
	Reference Type = "reference"
	Composite Type = "composite"
	Quantity  Type = "quantity"
	URI       Type = "uri"
	Special   Type = "special"
)

// Param is a search parameter of a resource type.
type Param struct {
	Code       string
	Type       Type
	URL        string
	Expression string
	// Targets are the resource types a reference parameter may point to.
	Targets []string
	// Components are the parts of a composite parameter.
	Components []Component
	// Indexed is false for parameters that are evaluated without an index (_id, _lastUpdated) or not
	// supported (see Unsupported).
	Indexed bool
	// Unsupported explains why a parameter cannot be used ("" when it can).
	Unsupported string

	once     sync.Once
	compiled *fhirpath.Expr
	err      error
}

// Component is one part of a composite parameter.
type Component struct {
	Param      *Param
	Expression string
	compiled   *fhirpath.Expr
}

func (p *Param) expr() (*fhirpath.Expr, error) {
	p.once.Do(func() {
		if p.Expression == "" {
			return
		}
		// the R4 search parameters apply "as" to repeating elements: index every item of the type
		lenient := fhirpath.Options{LenientAs: true}
		p.compiled, p.err = fhirpath.CompileWith(p.Expression, lenient)
		for i := range p.Components {
			c := &p.Components[i]
			if c.compiled, p.err = fhirpath.CompileWith(c.Expression, lenient); p.err != nil {
				return
			}
		}
	})
	return p.compiled, p.err
}

// Modifiers returns the modifiers the server supports for the parameter.
func (p *Param) Modifiers() []string {
	switch p.Type {
	case String:
		return []string{"missing", "exact", "contains"}
	case Token:
		return []string{"missing", "not", "text", "of-type"}
	case Reference:
		return append([]string{"missing", "identifier"}, p.Targets...)
	case URI:
		return []string{"missing", "below", "above"}
	case Number, Date, Quantity, Special:
		return []string{"missing"}
	}
	return nil
}

// registry is built once from the generated tables.
var registry struct {
	once    sync.Once
	byType  map[string]map[string]*Param // type -> code -> param
	common  map[string]*Param            // parameters of every resource type
	byURL   map[string]*Param
	targets map[string][]string
}

// notIndexed are the R4 parameters this server does not support, with the reason.
var notIndexed = map[string]string{
	"http://hl7.org/fhir/SearchParameter/DomainResource-text": "full-text search of the narrative is not supported",
	"http://hl7.org/fhir/SearchParameter/Resource-content":    "full-text search of the whole resource is not supported",
	"http://hl7.org/fhir/SearchParameter/Resource-query":      "named queries are not supported",
}

// extraParams are search parameters this server defines beyond R4 (docs/audit.md §6: patients search
// their access history by purpose of use).
var extraParams = []paramDef{
	{URL: "urn:fhirgate:searchparameter:AuditEvent-purpose", Code: "purpose", Bases: "AuditEvent", Type: "token",
		Expression: "AuditEvent.purposeOfEvent | AuditEvent.agent.purposeOfUse"},
}

// typeExclusions are parameters deliberately left unindexed for a type, with the reason. AuditEvents are
// written on every access, so they carry only the index that access histories and audits search by.
var typeExclusions = map[string]map[string]string{
	"AuditEvent": func() map[string]string {
		m := map[string]string{}
		for _, c := range []string{"agent-name", "altid", "entity-name", "entity-role", "entity-type", "site", "source"} {
			m[c] = "AuditEvents are indexed for access histories only: date, patient, agent, agent-role, entity, type, subtype, outcome, action, policy, address, purpose and the common parameters"
		}
		return m
	}(),
}

// componentFixes correct R4 composite definitions whose components pair an expression with the wrong
// parameter. DocumentReference-relationship ("combination of relation and relatesTo") gives its "code"
// component the reference definition (relatesto) and its "target" component the token one (relation),
// so that nothing could ever be indexed or matched: each expression gets the definition of its element.
var componentFixes = map[string][]componentDef{
	"http://hl7.org/fhir/SearchParameter/DocumentReference-relationship": {
		{Definition: "http://hl7.org/fhir/SearchParameter/DocumentReference-relation", Expression: "code"},
		{Definition: "http://hl7.org/fhir/SearchParameter/DocumentReference-relatesto", Expression: "target"},
	},
}

func buildRegistry() {
	registry.byType = map[string]map[string]*Param{}
	registry.common = map[string]*Param{}
	registry.byURL = map[string]*Param{}
	defs := append(paramTable[:len(paramTable):len(paramTable)], extraParams...)
	for i := range defs {
		d := &defs[i]
		p := &Param{Code: d.Code, Type: Type(d.Type), URL: d.URL, Expression: d.Expression, Indexed: true}
		if d.Targets != "" {
			p.Targets = strings.Split(d.Targets, "|")
		}
		if why, ok := notIndexed[d.URL]; ok {
			p.Unsupported, p.Indexed = why, false
		}
		switch d.Code {
		case "_id", "_lastUpdated":
			p.Indexed = false // read from the resource and its version record
		}
		registry.byURL[d.URL] = p
		for _, base := range strings.Split(d.Bases, "|") {
			if base == "Resource" || base == "DomainResource" {
				registry.common[d.Code] = p
				continue
			}
			m := registry.byType[base]
			if m == nil {
				m = map[string]*Param{}
				registry.byType[base] = m
			}
			m[d.Code] = p
		}
	}
	for i := range defs {
		d := &defs[i]
		p := registry.byURL[d.URL]
		components := d.Components
		if fixed, ok := componentFixes[d.URL]; ok {
			components = fixed
		}
		for _, c := range components {
			if cp, ok := registry.byURL[c.Definition]; ok {
				p.Components = append(p.Components, Component{Param: cp, Expression: c.Expression})
			} else {
				p.Unsupported, p.Indexed = "composite component "+c.Definition+" is not defined", false
			}
		}
	}
}

func reg() {
	registry.once.Do(buildRegistry)
}

// Lookup returns the parameter code of resource type typ (including the common parameters).
func Lookup(typ, code string) (*Param, bool) {
	reg()
	p, ok := registry.byType[typ][code]
	if !ok {
		p, ok = registry.common[code]
	}
	if ok {
		if why, excluded := typeExclusions[typ][code]; excluded {
			return excludedParam(p, why), true
		}
	}
	return p, ok
}

// excludedParam is a parameter as seen on a type that does not index it.
func excludedParam(p *Param, why string) *Param {
	return &Param{Code: p.Code, Type: p.Type, URL: p.URL, Targets: p.Targets, Unsupported: why}
}

// Params returns every parameter of a resource type, common ones included, sorted by code. The slice
// is shared: callers must not modify it.
func Params(typ string) []*Param {
	reg()
	if ps, ok := paramsByType.Load(typ); ok {
		return ps.([]*Param)
	}
	var out []*Param
	for code, p := range registry.byType[typ] {
		if why, excluded := typeExclusions[typ][code]; excluded {
			p = excludedParam(p, why)
		}
		out = append(out, p)
	}
	for code, p := range registry.common {
		if _, shadowed := registry.byType[typ][code]; !shadowed {
			if why, excluded := typeExclusions[typ][code]; excluded {
				p = excludedParam(p, why)
			}
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	out = slices.Clip(out)
	if _, known := registry.byType[typ]; known {
		paramsByType.Store(typ, out) // unknown types are not cached: the map stays bounded
	}
	return out
}

// paramsByType caches Params by resource type.
var paramsByType sync.Map

// CompartmentParams returns the parameters that make a resource of typ a member of a patient's
// compartment (none when the type is never a member).
func CompartmentParams(typ string) []string {
	return patientCompartment[typ]
}

// CompartmentTypes returns the resource types that can be members of a patient's compartment, sorted.
func CompartmentTypes() []string {
	var out []string
	for t := range patientCompartment {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
