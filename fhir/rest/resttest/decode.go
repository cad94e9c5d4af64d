package resttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Bundle is a decoded Bundle: what the tests look at of searchsets, histories and batch answers.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Total        *int    `json:"total"`
	Link         []Link  `json:"link"`
	Entry        []Entry `json:"entry"`
}

// Link is a Bundle.link.
type Link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// Entry is a Bundle.entry.
type Entry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   *struct {
		Mode string `json:"mode"`
	} `json:"search"`
	Request *struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
	Response *EntryResponse `json:"response"`
}

// EntryResponse is a Bundle.entry.response.
type EntryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location"`
	Etag         string          `json:"etag"`
	LastModified string          `json:"lastModified"`
	Outcome      json.RawMessage `json:"outcome"`
}

// DecodeBundle decodes a Bundle, and fails the test if body is not one.
func DecodeBundle(t testing.TB, body []byte) *Bundle {
	t.Helper()
	var b Bundle
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		t.Fatalf("not a Bundle (%v): %s", err, body)
	}
	return &b
}

// LinkURL returns the URL of the link with the relation, "" when there is none.
func (b *Bundle) LinkURL(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// Versions returns "Type/id/_history/vid" for each entry (a history page, a searchset), from the
// entry's resource, or, for the deletions of a history, from its fullUrl and etag with " (deleted)" after:
// the form of Refs, so that a page compares with what the store holds.
func (b *Bundle) Versions(t testing.TB) []string {
	t.Helper()
	var out []string
	for i, e := range b.Entry {
		if len(e.Resource) > 0 {
			out = append(out, fmt.Sprintf("%s/%s/_history/%s", Str(t, e.Resource, "resourceType"), Str(t, e.Resource, "id"),
				Str(t, e.Resource, "meta.versionId")))
			continue
		}
		if e.Response == nil {
			t.Fatalf("entry %d has neither a resource nor a response", i)
		}
		vid, ok := strings.CutPrefix(e.Response.Etag, `W/"`)
		vid, ok2 := strings.CutSuffix(vid, `"`)
		ref, ok3 := strings.CutPrefix(e.FullURL, BaseURL+"/")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("entry %d: deletion without a version etag or a fullUrl: %+v", i, e)
		}
		out = append(out, ref+"/_history/"+vid+" (deleted)")
	}
	return out
}

// Issue is an OperationOutcome.issue.
type Issue struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Details  struct {
		Coding []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"coding"`
		Text string `json:"text"`
	} `json:"details"`
	Diagnostics string   `json:"diagnostics"`
	Expression  []string `json:"expression"`
}

// Issues decodes an OperationOutcome and returns its issues; it fails the test if body is not one, or has
// none.
func Issues(t testing.TB, body []byte) []Issue {
	t.Helper()
	var oo struct {
		ResourceType string  `json:"resourceType"`
		Issue        []Issue `json:"issue"`
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome with issues (%v): %s", err, body)
	}
	return oo.Issue
}

// Decode decodes a JSON object (numbers as json.Number, so that they compare exactly).
func Decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not a JSON object (%v): %s", err, body)
	}
	return m
}

// Field returns the value at a dotted path of a JSON object, "name.0.family", where numbers index
// arrays; nil when it is absent.
func Field(t testing.TB, body []byte, path string) any {
	t.Helper()
	var v any = Decode(t, body)
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Str returns the string at a dotted path (see Field), "" when it is absent or not a string.
func Str(t testing.TB, body []byte, path string) string {
	t.Helper()
	s, _ := Field(t, body, path).(string)
	return s
}

// Has reports whether a JSON object has a value at a dotted path.
func Has(t testing.TB, body []byte, path string) bool {
	t.Helper()
	return Field(t, body, path) != nil
}

// typeOf returns the resourceType of a resource.
func typeOf(t testing.TB, resource string) string {
	t.Helper()
	typ := Str(t, []byte(resource), "resourceType")
	if typ == "" {
		t.Fatalf("no resourceType: %s", resource)
	}
	return typ
}
