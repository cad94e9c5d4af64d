package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// The differential test compares accept/refuse with google/fhir's jsonformat unmarshal, what writes used
// before this package (kept as the test oracle only), on the official examples, the Synthea resources and
// mutations of the examples. Every disagreement must be one of those explained below, where this package
// follows R4 and jsonformat does not.

// mutationKinds are the changes the mutation set makes, each at a random place of an example.
var mutationKinds = []string{
	"empty-string", "empty-array", "empty-object", "delete", "unknown-member", "number-for-string",
	"string-for-number", "bad-code", "bad-date", "wrap-in-array", "unwrap-array", "null",
}

// explained are the disagreements allowed: (mutation kind, which one accepts) -> why this package follows R4.
var explained = map[string]string{
	"empty-string/new-refuses": "json.html: a string SHALL NOT be empty; jsonformat accepts \"\" for the string types",
	"empty-array/new-refuses":  "json.html: an array SHALL NOT be empty; jsonformat accepts []",
	"empty-object/new-refuses": "ele-1: an element has a value or children; jsonformat accepts {}",
	"delete/new-refuses":       "the deletion of an object's only member leaves an empty object (ele-1), which jsonformat accepts",
}

// handWritten are disagreements written out, with the answer R4 gives (accept) and why.
var handWritten = []struct {
	name, body string
	accept     bool
	why        string
}{
	{"null-padded primitive array", `{"resourceType":"Patient","name":[{"given":["A",null,"B"],"_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"q"}]},null]}]}`, true,
		"json.html: a repeating primitive whose extensions are in _given is padded with null; jsonformat refuses the null (\"expected string\")"},
	{"empty family", `{"resourceType":"Patient","name":[{"family":""}]}`, false, "json.html: strings SHALL NOT be empty"},
	{"empty name array", `{"resourceType":"Patient","name":[]}`, false, "json.html: arrays SHALL NOT be empty"},
	{"empty contact", `{"resourceType":"Patient","contact":[{}]}`, false, "ele-1"},
	{"empty code", `{"resourceType":"Observation","status":"final","code":{}}`, false, "ele-1"},
}

func oracle(tb testing.TB) *jsonformat.Unmarshaller {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		tb.Fatal(err)
	}
	u.MaxNestingDepth = defaultMaxDepth
	return u
}

// leaves lists the paths to every value of a decoded document, as JSON pointers without escaping.
func leaves(v any, path string, out *[]string) {
	*out = append(*out, path)
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			leaves(x[k], path+"/"+k, out)
		}
	case []any:
		for i, e := range x {
			leaves(e, fmt.Sprintf("%s/%d", path, i), out)
		}
	}
}

// at returns the parent container of path and the last segment.
func at(root any, path string) (any, string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	cur := root
	for _, s := range segs[:len(segs)-1] {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[s]
		case []any:
			cur = x[index(s)]
		}
	}
	return cur, segs[len(segs)-1]
}

// index reads an array index of a path made by leaves.
func index(s string) int {
	i, _ := strconv.Atoi(s)
	return i
}

func set(parent any, key string, v any, del bool) {
	switch x := parent.(type) {
	case map[string]any:
		if del {
			delete(x, key)
		} else {
			x[key] = v
		}
	case []any:
		if !del {
			x[index(key)] = v
		}
	}
}

// mutate applies a random mutation of kind to a copy of body; ok is false when it does not apply.
func mutate(r *rand.Rand, body []byte, kind string) ([]byte, string, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var root any
	if d.Decode(&root) != nil {
		return nil, "", false
	}
	var paths []string
	leaves(root, "", &paths)
	paths = paths[1:] // not the root
	if len(paths) == 0 {
		return nil, "", false
	}
	for range 20 {
		p := paths[r.IntN(len(paths))]
		if strings.HasSuffix(p, "/resourceType") || strings.Contains(p, "/div") {
			continue
		}
		parent, key := at(root, p)
		var cur any
		switch x := parent.(type) {
		case map[string]any:
			cur = x[key]
		case []any:
			cur = x[index(key)]
		}
		_, inObject := parent.(map[string]any)
		switch kind {
		case "empty-string":
			if _, ok := cur.(string); !ok {
				continue
			}
			set(parent, key, "", false)
		case "empty-array":
			if _, ok := cur.([]any); !ok {
				continue
			}
			set(parent, key, []any{}, false)
		case "empty-object":
			if _, ok := cur.(map[string]any); !ok {
				continue
			}
			set(parent, key, map[string]any{}, false)
		case "delete":
			if !inObject {
				continue
			}
			set(parent, key, nil, true)
		case "unknown-member":
			m, ok := cur.(map[string]any)
			if !ok {
				continue
			}
			m["bogusElement"] = "x"
		case "number-for-string":
			if _, ok := cur.(string); !ok {
				continue
			}
			set(parent, key, json.Number("7"), false)
		case "string-for-number":
			if _, ok := cur.(json.Number); !ok {
				continue
			}
			set(parent, key, "7", false)
		case "bad-code":
			if key != "code" {
				continue
			}
			set(parent, key, "no-such-code-x", false)
		case "bad-date":
			s, ok := cur.(string)
			if !ok || len(s) < 10 || s[4] != '-' || s[7] != '-' {
				continue
			}
			set(parent, key, s[:5]+"02-30"+s[10:], false)
		case "wrap-in-array":
			if !inObject {
				continue
			}
			if _, ok := cur.([]any); ok {
				continue
			}
			set(parent, key, []any{cur}, false)
		case "unwrap-array":
			a, ok := cur.([]any)
			if !ok || !inObject {
				continue
			}
			set(parent, key, a[0], false)
		case "null":
			if !inObject {
				continue
			}
			set(parent, key, nil, false)
		}
		out, err := json.Marshal(root)
		if err != nil {
			return nil, "", false
		}
		return out, p, true
	}
	return nil, "", false
}

// TestDifferential compares the validator with jsonformat on the corpus and on mutations of the examples.
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("validates the corpus twice")
	}
	ex, sy := loadCorpus(t)
	v := newValidator(t)
	v.stages = nil // what jsonformat checks: the structure, without R4's narrative and invariant rules
	u := oracle(t)
	disagree := func(body []byte) (string, bool) {
		_, oerr := u.Unmarshal(body)
		nerr := v.Validate(body)
		switch {
		case oerr == nil && nerr != nil:
			return "new-refuses: " + nerr.Error(), true
		case oerr != nil && nerr == nil:
			return "new-accepts: " + oerr.Error(), true
		}
		return "", false
	}
	for _, s := range append(append([]sample{}, ex...), sy...) {
		if d, ok := disagree(s.body); ok {
			t.Errorf("%s: %s", s.name, d)
		}
	}
	for _, h := range handWritten {
		_, oerr := u.Unmarshal([]byte(h.body))
		nerr := v.Validate([]byte(h.body))
		if (nerr == nil) != h.accept || (oerr == nil) == h.accept {
			t.Errorf("%s: validation %v, jsonformat %v; want this package to follow R4 (%s) where jsonformat does not", h.name, nerr, oerr, h.why)
		}
	}
	r := rand.New(rand.NewPCG(7, 11))
	counts := map[string]int{}
	unexplained := 0
	total := 0
	for i := range 3000 {
		s := ex[r.IntN(len(ex))]
		kind := mutationKinds[i%len(mutationKinds)]
		body, path, ok := mutate(r, s.body, kind)
		if !ok {
			continue
		}
		total++
		d, ok := disagree(body)
		if !ok {
			continue
		}
		dir, _, _ := strings.Cut(d, ":")
		key := kind + "/" + dir
		counts[key]++
		if _, ok := explained[key]; !ok {
			unexplained++
			if unexplained <= 40 {
				t.Errorf("%s %s at %s: %s", s.name, kind, path, d)
			}
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%5d %s: %s", counts[k], k, explained[k])
	}
	t.Logf("%d mutations, %d unexplained disagreements", total, unexplained)
}
