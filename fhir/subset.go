package fhir

import (
	"encoding/json"
	"strings"
)

// Summary is the value of the _summary parameter.
type Summary string

// The _summary modes (https://hl7.org/fhir/R4/search.html#summary).
const (
	SummaryFalse Summary = "" // the whole resource
	SummaryTrue  Summary = "true"
	SummaryText  Summary = "text"
	SummaryData  Summary = "data"
	SummaryCount Summary = "count"
)

// ParseSummary parses a _summary value.
func ParseSummary(s string) (Summary, error) {
	switch s {
	case "", "false":
		return SummaryFalse, nil
	case "true", "text", "data", "count":
		return Summary(s), nil
	}
	return "", &Error{Kind: KindInvalid, Code: "value", MessageID: "MSG_PARAM_INVALID", Expression: "_summary",
		Details: "_summary must be one of true, false, text, data, count"}
}

// subsettedTag is added to meta.tag of every resource returned partially.
var subsettedTag = json.RawMessage(`{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}`)

// Subset returns body reduced to the summary view and/or the listed top-level elements, marked with the
// SUBSETTED tag. With SummaryFalse (or SummaryCount) and no elements, body is returned unchanged.
// Elements name top-level elements ("name", "birthDate"; a choice element by its base name, "value");
// mandatory elements, id and meta are always kept, as the specification advises.
func Subset(body []byte, summary Summary, elements []string) ([]byte, error) {
	if (summary == SummaryFalse || summary == SummaryCount) && len(elements) == 0 {
		return body, nil
	}
	r, err := ParseResource(body)
	if err != nil {
		return nil, err
	}
	var keep func(typ string, m Member) bool
	switch {
	case len(elements) > 0:
		want := map[string]bool{}
		for _, e := range elements {
			// Accept "name" and "Patient.name".
			e = strings.TrimPrefix(strings.TrimSpace(e), r.Type+".")
			if e != "" {
				want[e] = true
			}
		}
		keep = func(typ string, m Member) bool {
			el := elementOf(typ, m.Name)
			if el == nil {
				return want[m.Name]
			}
			return want[baseName(el)] || el.Min > 0
		}
	case summary == SummaryTrue:
		keep = func(typ string, m Member) bool {
			el := elementOf(typ, m.Name)
			return el != nil && (el.Summary || el.Min > 0)
		}
	case summary == SummaryText:
		keep = func(typ string, m Member) bool {
			if m.Name == "text" {
				return true
			}
			el := elementOf(typ, m.Name)
			return el != nil && el.Min > 0
		}
	case summary == SummaryData:
		keep = func(typ string, m Member) bool { return m.Name != "text" }
	default:
		return body, nil
	}
	out := Object{}
	for _, m := range r.Object {
		switch m.Name {
		case "resourceType", "id", "meta":
			out = append(out, m)
			continue
		}
		if !keep(r.Type, m) {
			continue
		}
		if summary == SummaryTrue && len(elements) == 0 {
			m.Value = summarizeValue(r.Type+"."+baseNameOf(r.Type, m.Name), m.Value)
		}
		out = append(out, m)
	}
	r.Object = out
	if err := addSubsettedTag(r); err != nil {
		return nil, err
	}
	return r.Bytes(), nil
}

// summarizeValue keeps only the summary children of backbone elements, recursively.
func summarizeValue(path string, raw json.RawMessage) json.RawMessage {
	kids := childIndexOf(path)
	if len(kids) == 0 || len(raw) == 0 {
		return raw
	}
	switch raw[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return raw
		}
		for i := range items {
			items[i] = summarizeValue(path, items[i])
		}
		return MustJSON(items)
	case '{':
		obj, err := ParseObject(raw)
		if err != nil {
			return raw
		}
		out := Object{}
		for _, m := range obj {
			el := elementOf(path, m.Name)
			if el == nil || !(el.Summary || el.Min > 0 || m.Name == "id") {
				continue
			}
			m.Value = summarizeValue(path+"."+baseName(el), m.Value)
			out = append(out, m)
		}
		return out.Bytes()
	}
	return raw
}

// childIndexOf returns the children of a backbone element path (not of data types, which are kept whole).
func childIndexOf(path string) []*Element {
	indexes()
	if e, ok := elementIndex[path]; ok && e.ContentRef != "" {
		return childIndex[e.ContentRef]
	}
	return childIndex[path]
}

// elementOf finds the element named by a JSON member name under parent (handling choice suffixes and
// primitive extensions "_name").
func elementOf(parent, name string) *Element {
	indexes()
	name = strings.TrimPrefix(name, "_")
	if e, ok := elementIndex[parent+"."+name]; ok {
		if e.ContentRef != "" {
			return e
		}
		return e
	}
	for _, e := range childIndexOf(parent) {
		if _, ok := ChoiceTypeSuffix(e, name); ok {
			return e
		}
	}
	return nil
}

func baseName(e *Element) string { return e.Path[strings.LastIndexByte(e.Path, '.')+1:] }

func baseNameOf(parent, name string) string {
	if e := elementOf(parent, name); e != nil {
		return baseName(e)
	}
	return name
}

func addSubsettedTag(r *Resource) error {
	meta, err := r.Meta()
	if err != nil {
		return err
	}
	var tags []json.RawMessage
	if raw, ok := meta.Get("tag"); ok {
		if err := json.Unmarshal(raw, &tags); err != nil {
			return &Error{Kind: KindInvalid, Expression: r.Type + ".meta.tag", Details: "meta.tag is not an array"}
		}
	}
	for _, t := range tags {
		if strings.Contains(string(t), `"SUBSETTED"`) {
			return nil
		}
	}
	tags = append(tags, subsettedTag)
	meta = meta.Set("tag", MustJSON(tags), "")
	r.Object = r.Object.Set("meta", meta.Bytes(), "id")
	return nil
}
