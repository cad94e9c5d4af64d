package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"fhirgate/auth/consent"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
)

// The events of an interaction, as IHE BALP (Basic Audit Log Patterns) AuditEvents.

// events builds one AuditEvent per patient whose data the interaction touched (or was refused), and one
// without a patient when no patient was involved.
func (t *Trail) events(in *interaction) []Record {
	type group struct {
		data     []string
		refused  []string
		policies map[string]bool
		decision consent.Decision
	}
	groups := map[string]*group{}
	get := func(p string) *group {
		g := groups[p]
		if g == nil {
			g = &group{policies: map[string]bool{}}
			groups[p] = g
		}
		return g
	}
	for _, v := range in.touched {
		patients := in.ledger.Patients(v.Ref())
		if len(patients) == 0 {
			patients = []string{""}
		}
		for _, p := range patients {
			get(p).data = append(get(p).data, fmt.Sprintf("%s/_history/%d", v.Ref(), v.VersionID))
		}
	}
	if in.err != nil && in.req != nil && oneResource(in.req.Interaction) {
		// An attempt on a resource the client could see that failed (a stale If-Match, a read of what was
		// deleted, a change the rules refuse) is about that resource's patients: their history shows it.
		for _, patients := range in.ledger.Noted() {
			for _, p := range patients {
				get(p)
			}
		}
	}
	for _, r := range in.ledger.Refused() {
		patients := r.Patients
		if len(patients) == 0 {
			patients = []string{""}
		}
		for _, p := range patients {
			get(p).refused = append(get(p).refused, r.Ref)
		}
	}
	for _, d := range in.decisions {
		g := groups[d.Patient]
		if g == nil {
			continue
		}
		for _, p := range d.Policies {
			if strings.HasPrefix(p, "Consent/") {
				g.policies[p] = true
			}
		}
		if d.Decision == consent.PermitBreakTheGlass || g.decision == "" || d.Decision == consent.Deny {
			g.decision = d.Decision
		}
	}
	if len(groups) == 0 { // nothing touched: the patient the request names, if any
		get(requestPatient(in))
	}
	patients := make([]string, 0, len(groups))
	for p := range groups {
		patients = append(patients, p)
	}
	sort.Strings(patients)
	out := make([]Record, 0, len(patients))
	for _, p := range patients {
		g := groups[p]
		var policies []string
		for c := range g.policies {
			policies = append(policies, c)
		}
		sort.Strings(policies)
		id := t.cfg.NewID()
		recorded := t.cfg.Now().UTC().Truncate(time.Millisecond)
		ev := t.event(id, in, p, g.data, g.refused, policies, g.decision, recorded)
		rec := t.record(ev)
		rec.Patient, rec.Accessed, rec.BreakTheGlass, rec.Recorded = p, len(g.data) > 0, g.decision == consent.PermitBreakTheGlass, recorded
		if in.principal != nil {
			rec.User = in.principal.User
		}
		out = append(out, rec)
	}
	return out
}

// oneResource reports whether an interaction is about one resource (whose patients a failed attempt is
// recorded for).
func oneResource(i rest.Interaction) bool {
	switch i {
	case rest.Read, rest.VRead, rest.Update, rest.Patch, rest.Delete, rest.HistoryInstance:
		return true
	}
	return false
}

// requestPatient finds the patient a request is about when it touched nothing (refusals).
func requestPatient(in *interaction) string {
	if in.req == nil {
		return ""
	}
	if in.req.Compartment != "" {
		return in.req.Compartment
	}
	if in.req.Type == "Patient" && in.req.ID != "" {
		return "Patient/" + in.req.ID
	}
	for _, name := range []string{"patient", "subject", "beneficiary"} {
		if v := in.req.Params.Get(name); v != "" {
			v = strings.TrimPrefix(v, "Patient/")
			if fhir.ValidID(v) {
				return "Patient/" + v
			}
		}
	}
	if in.principal != nil && in.principal.Patient != "" {
		return "Patient/" + in.principal.Patient
	}
	return ""
}

// maxQuery is the longest query (or error text) an event keeps whole; beyond it, its first maxQuery bytes,
// its length and its SHA-256: what one request can make the trail record is bounded.
const maxQuery = 2048

// bounded returns s cut to maxQuery bytes (at a character boundary) and, when it was cut, the details that
// identify the whole: its length and SHA-256.
func bounded(s string) (string, []aeDetail) {
	prefix, whole := cut(s, maxQuery)
	if whole {
		return s, nil
	}
	sum := sha256.Sum256([]byte(s))
	return prefix, []aeDetail{{Type: "length", ValueString: strconv.Itoa(len(s))}, {Type: "sha256", ValueString: hex.EncodeToString(sum[:])}}
}

// cut returns the first n bytes of s at most, cut at a character boundary, and whether that is all of s.
func cut(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, true
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], false
}

// refusalReason is what the audit trail says of an error: the real reason, also when the client was
// answered as if the resource did not exist.
func refusalReason(err error) string {
	fe := fhir.AsError(err)
	if fe.Err != nil && fe.Kind != fhir.KindInternal && fe.Kind != fhir.KindUnavailable {
		return fe.Err.Error()
	}
	return fe.Details
}

// record makes the Record of an event the trail built: its JSON, its index entries (described value by
// value, not parsed) and its body prepared for stamping.
func (t *Trail) record(ev *auditEvent) Record {
	body := ev.encode()
	d := t.cfg.Indexer.Describe("AuditEvent")
	ev.describe(d)
	tmpl, _ := fhir.StampTemplateOfEncoded(body, "AuditEvent", ev.ID)
	return Record{ID: ev.ID, Body: body, Index: d.Entries(), Template: tmpl, Fresh: t.fresh}
}

// ExportSystem is the identifier system of a bulk export's id in the events of the export.
const ExportSystem = "urn:fhirgate:export"

// BALP vocabulary.
const (
	dcm           = "http://dicom.nema.org/resources/ontology/DCM"
	participation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	actReason     = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	roleClass     = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
	entityType    = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	objectRole    = "http://terminology.hl7.org/CodeSystem/object-role"
	balpProfile   = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
)

type aeCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type aeConcept struct {
	Coding []aeCoding `json:"coding,omitempty"`
	Text   string     `json:"text,omitempty"`
}

type aeIdentifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type aeReference struct {
	Reference  string        `json:"reference,omitempty"`
	Identifier *aeIdentifier `json:"identifier,omitempty"`
	Display    string        `json:"display,omitempty"`
}

type aeAgent struct {
	Type         *aeConcept   `json:"type,omitempty"`
	Role         []aeConcept  `json:"role,omitempty"`
	Who          *aeReference `json:"who,omitempty"`
	Requestor    bool         `json:"requestor"`
	Policy       []string     `json:"policy,omitempty"`
	Network      *aeNetwork   `json:"network,omitempty"`
	PurposeOfUse []aeConcept  `json:"purposeOfUse,omitempty"`
}

type aeNetwork struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type aeEntity struct {
	What        *aeReference `json:"what,omitempty"`
	Type        *aeCoding    `json:"type,omitempty"`
	Role        *aeCoding    `json:"role,omitempty"`
	Description string       `json:"description,omitempty"`
	Query       string       `json:"query,omitempty"`
	Detail      []aeDetail   `json:"detail,omitempty"`
}

type aeDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

type aeSource struct {
	Site     string      `json:"site,omitempty"`
	Observer aeReference `json:"observer"`
	Type     []aeCoding  `json:"type,omitempty"`
}

type auditEvent struct {
	ResourceType   string      `json:"resourceType"`
	ID             string      `json:"id"`
	Meta           *aeMeta     `json:"meta,omitempty"`
	Type           aeCoding    `json:"type"`
	Subtype        []aeCoding  `json:"subtype,omitempty"`
	Action         string      `json:"action,omitempty"`
	Recorded       string      `json:"recorded"`
	Outcome        string      `json:"outcome"`
	OutcomeDesc    string      `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []aeConcept `json:"purposeOfEvent,omitempty"`
	Agent          []aeAgent   `json:"agent"`
	Source         aeSource    `json:"source"`
	Entity         []aeEntity  `json:"entity,omitempty"`
}

type aeMeta struct {
	Profile  []string   `json:"profile,omitempty"`
	Security []aeCoding `json:"security,omitempty"`
}

// source is the event's source: this server, which observed the access.
func (t *Trail) source() aeSource {
	return aeSource{Site: t.site, Observer: aeReference{Reference: rest.ServerDevice, Display: "fhirgate " + t.cfg.BaseURL},
		Type: []aeCoding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}}}
}

// serverAgent is the agent that is this server, of the BALP type typ.
func (t *Trail) serverAgent(typ aeCoding) aeAgent {
	return aeAgent{Type: &aeConcept{Coding: []aeCoding{typ}}, Who: &aeReference{Reference: rest.ServerDevice},
		Network: &aeNetwork{Address: t.cfg.BaseURL, Type: "5"}}
}

// event builds one BALP AuditEvent.
func (t *Trail) event(id string, in *interaction, patient string, data, refused, policies []string, decision consent.Decision, recorded time.Time) *auditEvent {
	interaction, action, kind := "unknown", "E", "Query"
	if in.req != nil {
		interaction = string(in.req.Interaction)
		switch in.req.Interaction {
		case rest.Read, rest.VRead:
			action, kind = "R", "Read"
		case rest.HistoryInstance, rest.HistoryType, rest.HistorySystem:
			action, kind = "R", ""
		case rest.Batch, rest.Transaction:
			action, kind = "E", ""
		case rest.Create:
			action, kind = "C", "Create"
		case rest.Update, rest.Patch:
			action, kind = "U", "Update"
		case rest.Delete:
			action, kind = "D", "Delete"
		case rest.Operation:
			interaction = "operation"
		}
	}
	ev := auditEvent{ResourceType: "AuditEvent", ID: id,
		Type:     aeCoding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Subtype:  []aeCoding{{System: "http://hl7.org/fhir/restful-interaction", Code: interaction}},
		Action:   action,
		Recorded: fhir.FormatInstant(recorded),
		Outcome:  "0",
		Source:   t.source(),
	}
	if in.req != nil && in.req.Interaction == rest.Operation && in.req.Operation != "" {
		ev.Subtype = append(ev.Subtype, aeCoding{System: "http://hl7.org/fhir/restful-interaction", Code: "operation", Display: "$" + in.req.Operation})
		ev.Subtype = ev.Subtype[1:]
	}
	ev.Meta = &aeMeta{}
	if kind != "" { // BALP defines no profile for history, batch and transaction
		profile := kind
		if patient != "" {
			profile = "Patient" + kind
		}
		ev.Meta.Profile = []string{balpProfile + profile}
	}
	switch {
	case in.status >= 500:
		ev.Outcome = "8"
	case in.status >= 400:
		ev.Outcome = "4"
	case len(refused) > 0 && len(data) == 0:
		ev.Outcome = "4"
	}
	if in.err != nil {
		ev.OutcomeDesc, _ = bounded(refusalReason(in.err))
	} else if len(refused) > 0 {
		ev.OutcomeDesc = fmt.Sprintf("%d resource(s) withheld by scopes or consent", len(refused))
	}
	reading := action == "R" || action == "E"
	// BALP agent types: a read's data flows from the server (source, 110153) to the client (destination,
	// 110152); a query, a create and an update send the client's data (query or resource) to the server.
	clientType, serverType := aeCoding{System: dcm, Code: "110153"}, aeCoding{System: dcm, Code: "110152"}
	switch action {
	case "R":
		clientType, serverType = aeCoding{System: dcm, Code: "110152"}, aeCoding{System: dcm, Code: "110153"}
	case "D":
		clientType = aeCoding{System: dcm, Code: "110150", Display: "Application"}
		serverType = aeCoding{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "custodian"}
	}
	client := aeAgent{Type: &aeConcept{Coding: []aeCoding{clientType}},
		Network: &aeNetwork{Address: in.clientAddr, Type: "2"}}
	if in.principal != nil && in.principal.ClientID != "" {
		client.Who = &aeReference{Identifier: &aeIdentifier{Value: in.principal.ClientID}, Display: "client " + in.principal.ClientID}
	} else {
		client.Who = &aeReference{Display: "unidentified client"}
	}
	ev.Agent = []aeAgent{client, t.serverAgent(serverType)}
	if p := in.principal; p != nil {
		userType := "IRCP"
		if !reading {
			userType = "AUT"
		}
		user := aeAgent{Type: &aeConcept{Coding: []aeCoding{{System: participation, Code: userType}}}, Requestor: true}
		if p.User != "" {
			user.Who = &aeReference{Reference: p.User, Identifier: &aeIdentifier{System: p.Issuer, Value: p.Subject}}
			// The kind of user, searchable (agent-role): the patient themself, or a professional.
			switch {
			case strings.HasPrefix(p.User, "Patient/"):
				user.Role = []aeConcept{{Coding: []aeCoding{{System: roleClass, Code: "PAT", Display: "patient"}}}}
			case strings.HasPrefix(p.User, "Practitioner/"), strings.HasPrefix(p.User, "PractitionerRole/"):
				user.Role = []aeConcept{{Coding: []aeCoding{{System: roleClass, Code: "PROV", Display: "healthcare provider"}}}}
			}
		} else {
			user.Who = &aeReference{Identifier: &aeIdentifier{System: p.Issuer, Value: p.Subject}}
		}
		if p.TokenID != "" {
			user.Policy = []string{"urn:ietf:params:oauth:jti:" + p.TokenID}
		}
		for _, pu := range p.PurposeOfUse {
			c := aeConcept{Coding: []aeCoding{{System: actReason, Code: pu}}}
			user.PurposeOfUse = append(user.PurposeOfUse, c)
			ev.PurposeOfEvent = append(ev.PurposeOfEvent, c)
		}
		ev.Agent = append(ev.Agent, user)
		// On whose behalf: the user's organizations (NEN 7513, EHDS).
		for _, org := range p.Organizations {
			ev.Agent = append(ev.Agent, aeAgent{Type: &aeConcept{Coding: []aeCoding{{System: roleClass, Code: "PROV", Display: "healthcare provider"}}},
				Who: &aeReference{Reference: org}})
		}
	}
	if patient != "" {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Reference: patient},
			Type: &aeCoding{System: entityType, Code: "1", Display: "Person"}, Role: &aeCoding{System: objectRole, Code: "1", Display: "Patient"}})
	}
	for _, d := range data {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Reference: d},
			Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"}, Role: &aeCoding{System: objectRole, Code: "4", Display: "Domain Resource"}})
	}
	for _, r := range refused {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Reference: r},
			Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"}, Role: &aeCoding{System: objectRole, Code: "4", Display: "Domain Resource"},
			Detail: []aeDetail{{Type: "access", ValueString: "refused"}}})
	}
	if in.req != nil && (action == "E" || in.req.Interaction == rest.HistoryType || in.req.Interaction == rest.HistorySystem) && in.target != "" {
		// A long query is kept once: its first maxQuery bytes in the (base64) query, the start of it in the
		// description, its length and SHA-256 in the details.
		desc, detail := bounded(in.target)
		query := base64.StdEncoding.EncodeToString([]byte(in.method + " " + desc))
		if detail != nil {
			desc, _ = cut(desc, 128)
			desc += "…"
		}
		ev.Entity = append(ev.Entity, aeEntity{Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"},
			Role: &aeCoding{System: objectRole, Code: "24", Display: "Query"}, Description: desc, Query: query, Detail: detail})
	}
	for _, c := range policies {
		ent := aeEntity{What: &aeReference{Reference: c}, Type: &aeCoding{System: "http://hl7.org/fhir/resource-types", Code: "Consent", Display: "Consent"}}
		ev.Entity = append(ev.Entity, ent)
	}
	if decision != "" {
		ev.Entity = append(ev.Entity, aeEntity{Type: &aeCoding{System: "http://hl7.org/fhir/resource-types", Code: "Consent", Display: "Consent"},
			Description: "consent decision: " + string(decision),
			Detail:      []aeDetail{{Type: "consent-decision", ValueString: string(decision)}}})
		if decision == consent.PermitBreakTheGlass {
			ev.Meta.Security = append(ev.Meta.Security, aeCoding{System: actReason, Code: "BTG", Display: "break the glass"})
		}
	}
	if in.export != "" {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Identifier: &aeIdentifier{System: ExportSystem, Value: in.export}},
			Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"}, Role: &aeCoding{System: objectRole, Code: "20", Display: "Job"},
			Description: "bulk export"})
	}
	if in.requestID != "" {
		ev.Entity = append(ev.Entity, aeEntity{What: &aeReference{Identifier: &aeIdentifier{Value: in.requestID}},
			Type: &aeCoding{System: "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", Code: "XrequestId"}})
	}
	return &ev
}
