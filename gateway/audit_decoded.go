package gateway

// The audit trail indexes every AuditEvent it writes, and the search indexer works on decoded JSON.
// Encoding an event and decoding it again cost more than a read by id itself, so the auditor builds the
// decoded form directly from the event it encodes: decoded() is exactly what decoding
// fhir.MustJSON(ev) gives (the same members, omitted when encoding/json omits them), which
// TestAuditDecodedMatchesJSON checks for every event the gateway's tests produce.

func (ev *auditEvent) decoded() map[string]any {
	m := map[string]any{"resourceType": ev.ResourceType, "id": ev.ID, "type": ev.Type.decoded(),
		"recorded": ev.Recorded, "outcome": ev.Outcome}
	if ev.Meta != nil {
		meta := map[string]any{}
		if len(ev.Meta.Profile) > 0 {
			meta["profile"] = anyStrings(ev.Meta.Profile)
		}
		if len(ev.Meta.Security) > 0 {
			meta["security"] = codings(ev.Meta.Security)
		}
		m["meta"] = meta
	}
	if len(ev.Subtype) > 0 {
		m["subtype"] = codings(ev.Subtype)
	}
	putString(m, "action", ev.Action)
	putString(m, "outcomeDesc", ev.OutcomeDesc)
	if len(ev.PurposeOfEvent) > 0 {
		m["purposeOfEvent"] = concepts(ev.PurposeOfEvent)
	}
	if ev.Agent == nil {
		m["agent"] = nil
	} else {
		agents := make([]any, len(ev.Agent))
		for i := range ev.Agent {
			agents[i] = ev.Agent[i].decoded()
		}
		m["agent"] = agents
	}
	m["source"] = ev.Source.decoded()
	if len(ev.Entity) > 0 {
		entities := make([]any, len(ev.Entity))
		for i := range ev.Entity {
			entities[i] = ev.Entity[i].decoded()
		}
		m["entity"] = entities
	}
	return m
}

func (a *aeAgent) decoded() map[string]any {
	m := map[string]any{"requestor": a.Requestor}
	if a.Type != nil {
		m["type"] = a.Type.decoded()
	}
	if len(a.Role) > 0 {
		m["role"] = concepts(a.Role)
	}
	if a.Who != nil {
		m["who"] = a.Who.decoded()
	}
	if len(a.Policy) > 0 {
		m["policy"] = anyStrings(a.Policy)
	}
	if a.Network != nil {
		m["network"] = map[string]any{"address": a.Network.Address, "type": a.Network.Type}
	}
	if len(a.PurposeOfUse) > 0 {
		m["purposeOfUse"] = concepts(a.PurposeOfUse)
	}
	return m
}

func (e *aeEntity) decoded() map[string]any {
	m := map[string]any{}
	if e.What != nil {
		m["what"] = e.What.decoded()
	}
	if e.Type != nil {
		m["type"] = e.Type.decoded()
	}
	if e.Role != nil {
		m["role"] = e.Role.decoded()
	}
	putString(m, "description", e.Description)
	putString(m, "query", e.Query)
	if len(e.Detail) > 0 {
		details := make([]any, len(e.Detail))
		for i, d := range e.Detail {
			details[i] = map[string]any{"type": d.Type, "valueString": d.ValueString}
		}
		m["detail"] = details
	}
	return m
}

func (s *aeSource) decoded() map[string]any {
	m := map[string]any{"observer": s.Observer.decoded()}
	putString(m, "site", s.Site)
	if len(s.Type) > 0 {
		m["type"] = codings(s.Type)
	}
	return m
}

func (r *aeReference) decoded() map[string]any {
	m := map[string]any{}
	putString(m, "reference", r.Reference)
	if r.Identifier != nil {
		id := map[string]any{}
		putString(id, "system", r.Identifier.System)
		putString(id, "value", r.Identifier.Value)
		m["identifier"] = id
	}
	putString(m, "display", r.Display)
	return m
}

func (c *aeConcept) decoded() map[string]any {
	m := map[string]any{}
	if len(c.Coding) > 0 {
		m["coding"] = codings(c.Coding)
	}
	putString(m, "text", c.Text)
	return m
}

func (c *aeCoding) decoded() map[string]any {
	m := make(map[string]any, 3)
	putString(m, "system", c.System)
	putString(m, "code", c.Code)
	putString(m, "display", c.Display)
	return m
}

func codings(cs []aeCoding) []any {
	out := make([]any, len(cs))
	for i := range cs {
		out[i] = cs[i].decoded()
	}
	return out
}

func concepts(cs []aeConcept) []any {
	out := make([]any, len(cs))
	for i := range cs {
		out[i] = cs[i].decoded()
	}
	return out
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// putString sets a member that encoding/json omits when empty (omitempty).
func putString(m map[string]any, name, s string) {
	if s != "" {
		m[name] = s
	}
}
