package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Resource is a resource as JSON: its type, its id (empty before one is assigned) and its members in the
// order the client wrote them.
type Resource struct {
	Type   string
	ID     string
	Object Object
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ValidID reports whether s is a valid FHIR resource id ([A-Za-z0-9\-\.]{1,64}) that is not made only of
// dots: "." and ".." are path segments to every URL normaliser, so [base]/Basic/.. would name [base]/.
func ValidID(s string) bool { return idPattern.MatchString(s) && strings.Trim(s, ".") != "" }

// ParseResource parses body as a resource: a JSON object whose resourceType names an R4 resource type.
// It checks the JSON structure only; Validator.Validate checks the content.
func ParseResource(body []byte) (*Resource, error) {
	obj, err := ParseObject(body)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
			Details: "the body is not a valid FHIR JSON resource", Diagnostics: err.Error()}
	}
	typ, ok := obj.GetString("resourceType")
	if !ok {
		return nil, &Error{Kind: KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
			Expression: "resourceType", Details: "resourceType is missing or not a string"}
	}
	if !IsResourceType(typ) {
		return nil, &Error{Kind: KindInvalid, Code: "structure", MessageID: "MSG_UNKNOWN_TYPE",
			Expression: "resourceType", Details: "unknown resource type",
			Diagnostics: fmt.Sprintf("%q is not an R4 resource type", typ)}
	}
	r := &Resource{Type: typ, Object: obj}
	if raw, ok := obj.Get("id"); ok {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, &Error{Kind: KindInvalid, Code: "structure", Expression: typ + ".id",
				Details: "id is not a string"}
		}
		r.ID = id
	}
	return r, nil
}

// Bytes returns the resource as compact JSON.
func (r *Resource) Bytes() []byte { return r.Object.Bytes() }

// Ref returns "Type/id".
func (r *Resource) Ref() string { return r.Type + "/" + r.ID }

// SetID sets the resource's id (placing it after resourceType).
func (r *Resource) SetID(id string) {
	r.ID = id
	r.Object = r.Object.Set("id", MustJSON(id), "resourceType")
}

// Meta returns the resource's meta as an Object (empty when absent).
func (r *Resource) Meta() (Object, error) {
	raw, ok := r.Object.Get("meta")
	if !ok {
		return nil, nil
	}
	meta, err := ParseObject(raw)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "structure", Expression: r.Type + ".meta",
			Details: "meta is not a JSON object"}
	}
	return meta, nil
}

// ClearServerMeta removes meta.versionId and meta.lastUpdated, which only the server sets, and drops
// an empty meta.
func (r *Resource) ClearServerMeta() error {
	meta, err := r.Meta()
	if err != nil || meta == nil {
		return err
	}
	meta = meta.Delete("versionId").Delete("lastUpdated")
	if len(meta) == 0 {
		r.Object = r.Object.Delete("meta")
		return nil
	}
	r.Object = r.Object.Set("meta", meta.Bytes(), "")
	return nil
}

// FormatInstant formats t as a FHIR instant in UTC with millisecond precision.
func FormatInstant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// Stamp returns body with id, meta.versionId and meta.lastUpdated set, everything else as it was.
// body must be a resource as produced by Resource.Bytes.
func Stamp(body []byte, id string, versionID uint64, lastUpdated time.Time) ([]byte, error) {
	t, err := NewStampTemplate(body, id)
	if err != nil {
		return nil, err
	}
	return t.Render(versionID, lastUpdated), nil
}

// StampTemplate renders a resource body with its server meta for a version number and an instant that
// are only known later (inside a store's commit), without parsing the JSON again.
type StampTemplate struct {
	head, mid, tail []byte
}

const (
	vidMark  = "\x00fhirgate-vid\x00"
	timeMark = "\x00fhirgate-time\x00"
)

// NewStampTemplate prepares body (a resource as produced by Resource.Bytes) for Stamp-like rendering.
func NewStampTemplate(body []byte, id string) (*StampTemplate, error) {
	obj, err := ParseObject(body)
	if err != nil {
		return nil, fmt.Errorf("stamp: %w", err)
	}
	r := &Resource{Object: obj.Delete("id").Delete("meta")}
	r.SetID(id)
	old, err := (&Resource{Object: obj}).Meta()
	if err != nil {
		return nil, err
	}
	// versionId and lastUpdated lead meta, as in the specification's examples.
	meta := Object{{Name: "versionId", Value: MustJSON(vidMark)}, {Name: "lastUpdated", Value: MustJSON(timeMark)}}
	for _, m := range old {
		if m.Name != "versionId" && m.Name != "lastUpdated" {
			meta = append(meta, m)
		}
	}
	r.Object = r.Object.Set("meta", meta.Bytes(), "id")
	out := r.Bytes()
	vm, tm := MustJSON(vidMark), MustJSON(timeMark)
	i := bytes.Index(out, vm)
	j := bytes.Index(out, tm)
	if i < 0 || j < i {
		return nil, fmt.Errorf("stamp: cannot place the markers")
	}
	return &StampTemplate{head: out[:i], mid: out[i+len(vm) : j], tail: out[j+len(tm):]}, nil
}

// StampTemplateOfEncoded prepares for stamping, without parsing it, a body its writer encoded itself
// with "resourceType", "id" and "meta" as its first members, in that order and without spaces, and no
// versionId or lastUpdated in meta: what MustJSON gives for a struct declared that way. It renders what
// NewStampTemplate would. ok is false when the body does not start so; the caller vouches for the rest.
func StampTemplateOfEncoded(body []byte, typ, id string) (t *StampTemplate, ok bool) {
	prefix := make([]byte, 0, 40+len(typ)+len(id))
	prefix = append(prefix, `{"resourceType":`...)
	prefix = AppendJSONString(prefix, typ)
	prefix = append(prefix, `,"id":`...)
	prefix = AppendJSONString(prefix, id)
	prefix = append(prefix, `,"meta":{`...)
	if !bytes.HasPrefix(body, prefix) {
		return nil, false
	}
	rest := body[len(prefix):]
	if len(rest) == 0 || bytes.HasPrefix(rest, []byte(`"versionId"`)) || bytes.HasPrefix(rest, []byte(`"lastUpdated"`)) {
		return nil, false
	}
	head := append(prefix, `"versionId":`...)
	tail := rest
	if rest[0] != '}' {
		tail = append([]byte{','}, rest...)
	}
	return &StampTemplate{head: head, mid: []byte(`,"lastUpdated":`), tail: tail}, true
}

// Render returns the body with meta.versionId and meta.lastUpdated set.
func (t *StampTemplate) Render(versionID uint64, lastUpdated time.Time) []byte {
	out := make([]byte, 0, len(t.head)+len(t.mid)+len(t.tail)+48)
	out = append(out, t.head...)
	out = append(out, '"')
	out = strconv.AppendUint(out, versionID, 10)
	out = append(out, '"')
	out = append(out, t.mid...)
	out = append(out, '"')
	out = lastUpdated.UTC().AppendFormat(out, "2006-01-02T15:04:05.000Z07:00")
	out = append(out, '"')
	return append(out, t.tail...)
}
