package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"fhirgate/internal/sharedtest"
)

// knownInvalid are the official R4 examples that do not conform to R4 (errata of the specification; the
// first five also listed as such by google/fhir's own tests), with the element each refusal must name.
var knownInvalid = map[string]string{
	"DeviceMetric-example.json":        "DeviceMetric.parent",                         // references a DeviceDefinition, a Device is expected
	"DeviceUseStatement-example.json":  "DeviceUseStatement.reasonReference[0]",       // points to a Procedure
	"MedicationRequest-medrx0301.json": "MedicationRequest.dispenseRequest.performer", // a Practitioner, an Organization is expected
	"Observation-clinical-gender.json": "Observation.performer[0]",                    // points to an Encounter
	"Questionnaire-qs1.json":           "Questionnaire.item[0].item[0].linkId",        // nested items lack linkId
	// txt-2: the narrative has no content.
	"ActivityDefinition-blood-tubes-supply.json":        "ActivityDefinition.text.div",
	"ActivityDefinition-heart-valve-replacement.json":   "ActivityDefinition.text.div",
	"EventDefinition-example.json":                      "EventDefinition.text.div",
	"Questionnaire-zika-virus-exposure-assessment.json": "Questionnaire.text.div",
}

// TestOfficialExamplesRoundTrip creates every official R4 example through the API and reads it back:
// what was accepted must come back JSON-equal (ignoring id and the server's meta), and the known-invalid
// examples must be refused with a status of 400 or 422 naming the offending element.
func TestOfficialExamplesRoundTrip(t *testing.T) {
	files, err := filepath.Glob(sharedtest.Path(t, "examples", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	ts := newTestServer(t, func(c *Config) { c.Limits.MaxBody = 16 << 20 })
	var mu sync.Mutex
	accepted, refused := 0, 0
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, sprintf(format, args...))
		mu.Unlock()
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				name := filepath.Base(f)
				b, err := os.ReadFile(f)
				if err != nil {
					fail("%s: %v", name, err)
					continue
				}
				typ := strings.SplitN(name, "-", 2)[0]
				r := ts.do(t, "POST", "/"+typ, b)
				if want, bad := knownInvalid[name]; bad {
					if r.status != 400 && r.status != 422 {
						fail("%s: known-invalid example got %d", name, r.status)
						continue
					}
					if _, expr, _ := r.issue(t); expr != want {
						fail("%s: refusal names %q, want %q", name, expr, want)
						continue
					}
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				if r.status != 201 {
					fail("%s: create got %d: %.300s", name, r.status, r.body)
					continue
				}
				loc := r.header.Get("Location")
				id := strings.Split(strings.TrimPrefix(loc, ts.base+"/"+typ+"/"), "/")[0]
				got := ts.do(t, "GET", "/"+typ+"/"+id, nil)
				if got.status != 200 {
					fail("%s: read back got %d", name, got.status)
					continue
				}
				if diff := jsonDiff(normalize(t, b), normalize(t, got.body)); diff != "" {
					fail("%s: read back differs: %s", name, diff)
					continue
				}
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	sort.Strings(failures)
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d examples: %d created and read back equal, %d known-invalid refused with the element named", len(files), accepted, refused)
	if accepted+refused != len(files) || refused != len(knownInvalid) {
		t.Fatalf("accepted %d + refused %d != %d examples", accepted, refused, len(files))
	}
}

// normalize decodes a resource and drops what the server sets: id, meta.versionId, meta.lastUpdated.
func normalize(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	delete(m, "id")
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	return m
}

func jsonDiff(a, b map[string]any) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	for k, v := range a {
		if !reflect.DeepEqual(v, b[k]) {
			return sprintf("member %q: sent %.200v, got %.200v", k, v, b[k])
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return sprintf("member %q added", k)
		}
	}
	return "differs"
}
