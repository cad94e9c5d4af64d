package audit

import (
	"fhirgate/fhir"
)

// Every request builds at least one AuditEvent, and encoding it with encoding/json (reflection) cost a
// tenth of a read's CPU. The auditor writes it directly: encode gives exactly the bytes fhir.MustJSON
// gives for the same event (members in declaration order, omitted where omitempty omits them, strings
// escaped as encoding/json escapes them without HTML escaping). The tests check that for every
// event they store; fhir.FuzzAppendJSONString checks the strings.

// encode returns the event's JSON.
func (ev *auditEvent) encode() []byte {
	w := &jsonWriter{b: make([]byte, 0, 2560)}
	w.open()
	w.str("resourceType", ev.ResourceType)
	w.str("id", ev.ID)
	if m := ev.Meta; m != nil {
		w.key("meta")
		w.open()
		if len(m.Profile) > 0 {
			w.key("profile")
			w.strs(m.Profile)
		}
		if len(m.Security) > 0 {
			w.key("security")
			w.codings(m.Security)
		}
		w.close()
	}
	w.key("type")
	w.coding(&ev.Type)
	if len(ev.Subtype) > 0 {
		w.key("subtype")
		w.codings(ev.Subtype)
	}
	w.optStr("action", ev.Action)
	w.str("recorded", ev.Recorded)
	w.str("outcome", ev.Outcome)
	w.optStr("outcomeDesc", ev.OutcomeDesc)
	if len(ev.PurposeOfEvent) > 0 {
		w.key("purposeOfEvent")
		w.concepts(ev.PurposeOfEvent)
	}
	w.key("agent")
	if ev.Agent == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.array(len(ev.Agent), func(i int) { w.agent(&ev.Agent[i]) })
	}
	w.key("source")
	w.open()
	w.optStr("site", ev.Source.Site)
	w.key("observer")
	w.reference(&ev.Source.Observer)
	if len(ev.Source.Type) > 0 {
		w.key("type")
		w.codings(ev.Source.Type)
	}
	w.close()
	if len(ev.Entity) > 0 {
		w.key("entity")
		w.array(len(ev.Entity), func(i int) { w.entity(&ev.Entity[i]) })
	}
	w.close()
	return w.b
}

// jsonWriter appends JSON objects; members counts the members of each open object, to place commas.
type jsonWriter struct {
	b       []byte
	members []int
}

func (w *jsonWriter) open() {
	w.b = append(w.b, '{')
	w.members = append(w.members, 0)
}

func (w *jsonWriter) close() {
	w.b = append(w.b, '}')
	w.members = w.members[:len(w.members)-1]
}

func (w *jsonWriter) key(name string) {
	top := len(w.members) - 1
	if w.members[top] > 0 {
		w.b = append(w.b, ',')
	}
	w.members[top]++
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

// array writes n elements, item(i) writing each.
func (w *jsonWriter) array(n int, item func(i int)) {
	w.b = append(w.b, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		item(i)
	}
	w.b = append(w.b, ']')
}

// strs writes an array of strings.
func (w *jsonWriter) strs(ss []string) {
	w.array(len(ss), func(i int) { w.b = fhir.AppendJSONString(w.b, ss[i]) })
}

func (w *jsonWriter) str(name, v string) {
	w.key(name)
	w.b = fhir.AppendJSONString(w.b, v)
}

// optStr writes a member that omitempty leaves out when empty.
func (w *jsonWriter) optStr(name, v string) {
	if v != "" {
		w.str(name, v)
	}
}

func (w *jsonWriter) coding(c *aeCoding) {
	w.open()
	w.optStr("system", c.System)
	w.optStr("code", c.Code)
	w.optStr("display", c.Display)
	w.close()
}

func (w *jsonWriter) codings(cs []aeCoding) {
	w.array(len(cs), func(i int) { w.coding(&cs[i]) })
}

func (w *jsonWriter) concept(c *aeConcept) {
	w.open()
	if len(c.Coding) > 0 {
		w.key("coding")
		w.codings(c.Coding)
	}
	w.optStr("text", c.Text)
	w.close()
}

func (w *jsonWriter) concepts(cs []aeConcept) {
	w.array(len(cs), func(i int) { w.concept(&cs[i]) })
}

func (w *jsonWriter) reference(r *aeReference) {
	w.open()
	w.optStr("reference", r.Reference)
	if r.Identifier != nil {
		w.key("identifier")
		w.open()
		w.optStr("system", r.Identifier.System)
		w.optStr("value", r.Identifier.Value)
		w.close()
	}
	w.optStr("display", r.Display)
	w.close()
}

func (w *jsonWriter) agent(a *aeAgent) {
	w.open()
	if a.Type != nil {
		w.key("type")
		w.concept(a.Type)
	}
	if len(a.Role) > 0 {
		w.key("role")
		w.concepts(a.Role)
	}
	if a.Who != nil {
		w.key("who")
		w.reference(a.Who)
	}
	w.key("requestor")
	if a.Requestor {
		w.b = append(w.b, "true"...)
	} else {
		w.b = append(w.b, "false"...)
	}
	if len(a.Policy) > 0 {
		w.key("policy")
		w.strs(a.Policy)
	}
	if a.Network != nil {
		w.key("network")
		w.open()
		w.str("address", a.Network.Address)
		w.str("type", a.Network.Type)
		w.close()
	}
	if len(a.PurposeOfUse) > 0 {
		w.key("purposeOfUse")
		w.concepts(a.PurposeOfUse)
	}
	w.close()
}

func (w *jsonWriter) entity(e *aeEntity) {
	w.open()
	if e.What != nil {
		w.key("what")
		w.reference(e.What)
	}
	if e.Type != nil {
		w.key("type")
		w.coding(e.Type)
	}
	if e.Role != nil {
		w.key("role")
		w.coding(e.Role)
	}
	w.optStr("description", e.Description)
	w.optStr("query", e.Query)
	if len(e.Detail) > 0 {
		w.key("detail")
		w.array(len(e.Detail), func(i int) {
			w.open()
			w.str("type", e.Detail[i].Type)
			w.str("valueString", e.Detail[i].ValueString)
			w.close()
		})
	}
	w.close()
}
