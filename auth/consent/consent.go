package consent

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Decision is the outcome for one resource.
type Decision string

// The decisions (the values of the X-Consent-Decision header).
const (
	Permit              Decision = "permit"
	PermitBreakTheGlass Decision = "permit-break-glass"
	Deny                Decision = "deny"
	NotApplicable       Decision = "not-applicable" // the patient's own access: consents do not apply
)

// Result is a decision and the policies that made it: "Consent/{id}" references, or "default".
type Result struct {
	Decision Decision
	Policies []string
}

// Request describes an access to one resource of a patient.
type Request struct {
	// Actors are the references of who asks: the user ("Practitioner/1"), their organizations, their
	// roles, and the client app ("Device/<client id>").
	Actors []string
	// ClientID is the app's client id (matches an actor given by identifier).
	ClientID string
	// OrganizationUnknown is set for a user whose organisation cannot be established (no token claim, no
	// PractitionerRole): provisions naming an organisation as actor then match when they deny, never when
	// they permit, so that being unknown never escapes a patient's refusal of an organisation.
	OrganizationUnknown bool
	// Purposes are the v3 ActReason codes of the request.
	Purposes []string
	// Action is the consent action code (http://terminology.hl7.org/CodeSystem/consentaction): "access"
	// for reads and searches, "collect" for creates, "correct" for updates, patches and deletes.
	Action string
	// Resource is "Type/id"; Type its type.
	Resource, Type string
	// Codes are the resource's codes as "system|code".
	Codes []string
	// Labels are the resource's meta.security labels as "system|code".
	Labels []string
	// References are the resources the resource points to ("Type/id").
	References []string
	// DataFrom and DataTo bound the resource's clinical date (ms; DataKnown false when it has none).
	DataFrom, DataTo int64
	DataKnown        bool
	// Now is the time of the request.
	Now time.Time
}

const (
	confidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	resourceTypesSystem   = "http://hl7.org/fhir/resource-types"
)

// consentDoc is what is read of a Consent resource.
type consentDoc struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Scope  struct {
		Coding []coding `json:"coding"`
	} `json:"scope"`
	Patient *struct {
		Reference string `json:"reference"`
	} `json:"patient"`
	Provision *provision `json:"provision"`
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type provision struct {
	Type   string  `json:"type"`
	Period *period `json:"period"`
	Actor  []struct {
		Role struct {
			Coding []coding `json:"coding"`
		} `json:"role"`
		Reference struct {
			Reference  string `json:"reference"`
			Identifier *struct {
				System string `json:"system"`
				Value  string `json:"value"`
			} `json:"identifier"`
		} `json:"reference"`
	} `json:"actor"`
	Action []struct {
		Coding []coding `json:"coding"`
	} `json:"action"`
	SecurityLabel []coding `json:"securityLabel"`
	Purpose       []coding `json:"purpose"`
	Class         []coding `json:"class"`
	Code          []struct {
		Coding []coding `json:"coding"`
	} `json:"code"`
	DataPeriod *period `json:"dataPeriod"`
	Data       []struct {
		Meaning   string `json:"meaning"`
		Reference struct {
			Reference string `json:"reference"`
		} `json:"reference"`
	} `json:"data"`
	Provision []*provision `json:"provision"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
	// parsed bounds, ms (inclusive)
	from, to int64
	hasFrom  bool
	hasTo    bool
}

// Policy is one parsed, active patient-privacy Consent.
type Policy struct {
	Ref  string // "Consent/{id}"
	root *provision
	// needs says which resource attributes the policy looks at (so requests read only those).
	needs Needs
}

// Needs are the attributes of a resource that policies look at.
type Needs struct{ Codes, Labels, References, DataPeriod bool }

// NeedsOf returns what the policies look at.
func NeedsOf(policies []*Policy) Needs {
	var n Needs
	for _, p := range policies {
		n.Codes = n.Codes || p.needs.Codes
		n.Labels = n.Labels || p.needs.Labels
		n.References = n.References || p.needs.References
		n.DataPeriod = n.DataPeriod || p.needs.DataPeriod
	}
	return n
}

func (p *provision) needs(n *Needs) {
	n.Codes = n.Codes || len(p.Code) > 0
	n.Labels = n.Labels || len(p.SecurityLabel) > 0
	n.References = n.References || len(p.Data) > 0
	n.DataPeriod = n.DataPeriod || p.DataPeriod != nil
	for _, c := range p.Provision {
		c.needs(n)
	}
}

// Parse reads a Consent resource; it returns nil (and no error) for a Consent that does not take part in
// decisions: not active, or not about patient privacy.
func Parse(body []byte) (*Policy, error) {
	var d consentDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	if d.Status != "active" || !hasCoding(d.Scope.Coding, "http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy") {
		return nil, nil
	}
	if d.Provision == nil || (d.Provision.Type != "permit" && d.Provision.Type != "deny") {
		return nil, fmt.Errorf("the root provision of Consent/%s has no type", d.ID)
	}
	if err := d.Provision.prepare(); err != nil {
		return nil, fmt.Errorf("in Consent/%s: %w", d.ID, err)
	}
	pol := &Policy{Ref: "Consent/" + d.ID, root: d.Provision}
	d.Provision.needs(&pol.needs)
	return pol, nil
}

func hasCoding(cs []coding, system, code string) bool {
	for _, c := range cs {
		if c.Code == code && (c.System == system || c.System == "") {
			return true
		}
	}
	return false
}

func (p *provision) prepare() error {
	for _, per := range []*period{p.Period, p.DataPeriod} {
		if per == nil {
			continue
		}
		if per.Start != "" {
			lo, _, err := dateBounds(per.Start)
			if err != nil {
				return err
			}
			per.from, per.hasFrom = lo, true
		}
		if per.End != "" {
			_, hi, err := dateBounds(per.End)
			if err != nil {
				return err
			}
			per.to, per.hasTo = hi, true
		}
	}
	for _, c := range p.Provision {
		if c.Type != "" && c.Type != "permit" && c.Type != "deny" {
			return fmt.Errorf("provision type %q", c.Type)
		}
		if err := c.prepare(); err != nil {
			return err
		}
	}
	return nil
}

func (per *period) contains(ms int64) bool {
	return (!per.hasFrom || ms >= per.from) && (!per.hasTo || ms <= per.to)
}

func (per *period) overlaps(from, to int64) bool {
	return (!per.hasFrom || to >= per.from) && (!per.hasTo || from <= per.to)
}

// decide evaluates a Consent: whether it applies, and if so its decision and whether that decision was
// an explicit refusal of break-the-glass.
func (pol *Policy) decide(r *Request) (applies bool, typ string, refusesBTG bool) {
	if !pol.root.matches(r, pol.root.Type) {
		return false, "", false
	}
	typ, btg := pol.root.Type, false
	p := pol.root
	for {
		var next *provision
		var nextType string
		for _, c := range p.Provision {
			ct := c.Type
			if ct == "" {
				ct = opposite(typ)
			}
			if c.matches(r, ct) {
				next, nextType = c, ct
				break
			}
		}
		if next == nil {
			break
		}
		typ = nextType
		btg = typ == "deny" && codesInclude(next.Purpose, "BTG")
		p = next
	}
	return true, typ, btg
}

func opposite(t string) string {
	if t == "permit" {
		return "deny"
	}
	return "permit"
}

func codesInclude(cs []coding, code string) bool {
	for _, c := range cs {
		if c.Code == code {
			return true
		}
	}
	return false
}

// matches reports whether every element the provision states matches the request; typ is the decision
// the provision would make (its own type, or the reverse of its parent's).
func (p *provision) matches(r *Request, typ string) bool {
	if p.Period != nil && !p.Period.contains(r.Now.UnixMilli()) {
		return false
	}
	if len(p.Actor) > 0 {
		ok := false
		for _, a := range p.Actor {
			if ref := a.Reference.Reference; ref != "" && contains(r.Actors, ref) {
				ok = true
			}
			if ref := a.Reference.Reference; r.OrganizationUnknown && typ == "deny" && strings.HasPrefix(ref, "Organization/") {
				ok = true // who cannot be placed in an organisation is refused what the organisation is refused
			}
			if id := a.Reference.Identifier; id != nil && id.Value != "" && id.Value == r.ClientID {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(p.Action) > 0 {
		ok := false
		for _, a := range p.Action {
			for _, c := range a.Coding {
				ok = ok || actionCovers(c.Code, r.Action)
			}
		}
		if !ok {
			return false
		}
	}
	if len(p.Purpose) > 0 {
		ok := false
		for _, c := range p.Purpose {
			for _, rp := range r.Purposes {
				ok = ok || isA(rp, c.Code)
			}
		}
		if !ok {
			return false
		}
	}
	if len(p.Class) > 0 {
		ok := false
		for _, c := range p.Class {
			ok = ok || (c.Code == r.Type && (c.System == "" || c.System == resourceTypesSystem || strings.HasSuffix(c.Code, r.Type)))
			ok = ok || c.Code == "http://hl7.org/fhir/StructureDefinition/"+r.Type
		}
		if !ok {
			return false
		}
	}
	if len(p.Code) > 0 {
		ok := false
		for _, cc := range p.Code {
			for _, c := range cc.Coding {
				ok = ok || contains(r.Codes, c.System+"|"+c.Code)
			}
		}
		if !ok {
			return false
		}
	}
	if len(p.SecurityLabel) > 0 {
		ok := false
		for _, l := range p.SecurityLabel {
			ok = ok || labelCovers(l, r.Labels)
		}
		if !ok {
			return false
		}
	}
	if len(p.Data) > 0 {
		ok := false
		for _, d := range p.Data {
			ref := d.Reference.Reference
			switch d.Meaning {
			case "instance", "":
				ok = ok || ref == r.Resource
			case "related", "dependents":
				ok = ok || ref == r.Resource || contains(r.References, ref)
			case "authoredby":
				ok = ok || contains(r.References, ref)
			}
		}
		if !ok {
			return false
		}
	}
	if p.DataPeriod != nil && (!r.DataKnown || !p.DataPeriod.overlaps(r.DataFrom, r.DataTo)) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// actionCovers maps a provision's consent-action code to the request's action: reading is "access" (also
// "use" and "disclose", which are about the data leaving), creating is "collect", changing or deleting
// is "correct".
func actionCovers(code, action string) bool {
	switch code {
	case action:
		return true
	case "use", "disclose":
		return action == "access"
	}
	return false
}

// isA reports whether purpose is code or one of its descendants in v3 ActReason.
func isA(purpose, code string) bool {
	if purpose == code {
		return true
	}
	for _, a := range purposeAncestors[purpose] {
		if a == code {
			return true
		}
	}
	return false
}

// confidentiality orders the v3 Confidentiality codes.
var confidentiality = map[string]int{"U": 0, "L": 1, "M": 2, "N": 3, "R": 4, "V": 5}

// labelCovers: a sensitivity label matches the same label; a confidentiality label is a high-water mark
// that covers the resource's confidentiality at or below it.
func labelCovers(l coding, labels []string) bool {
	if lv, ok := confidentiality[l.Code]; ok && (l.System == confidentialitySystem || l.System == "") {
		for _, x := range labels {
			sys, code, _ := strings.Cut(x, "|")
			if xv, ok := confidentiality[code]; ok && sys == confidentialitySystem && xv <= lv {
				return true
			}
		}
		return false
	}
	for _, x := range labels {
		sys, code, _ := strings.Cut(x, "|")
		if code == l.Code && (l.System == "" || sys == l.System) {
			return true
		}
	}
	return false
}

// Evaluate combines the patient's policies for one request: any applicable deny wins; none applicable
// gives def; break-the-glass overrides a deny that does not refuse it explicitly.
func Evaluate(policies []*Policy, r *Request, def Decision, breakTheGlass bool) Result {
	var permits, denies []string
	refused := false
	for _, pol := range policies {
		applies, typ, refusesBTG := pol.decide(r)
		if !applies {
			continue
		}
		if typ == "deny" {
			denies = append(denies, pol.Ref)
			refused = refused || refusesBTG
		} else {
			permits = append(permits, pol.Ref)
		}
	}
	switch {
	case len(denies) > 0 && breakTheGlass && !refused:
		return Result{Decision: PermitBreakTheGlass, Policies: denies}
	case len(denies) > 0:
		return Result{Decision: Deny, Policies: denies}
	case len(permits) > 0:
		return Result{Decision: Permit, Policies: permits}
	}
	if def == Deny && breakTheGlass {
		return Result{Decision: PermitBreakTheGlass, Policies: []string{"default"}}
	}
	return Result{Decision: def, Policies: []string{"default"}}
}
