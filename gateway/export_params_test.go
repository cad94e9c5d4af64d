package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"fhirgate/fhir/rest"
)

// A POST kick-off's Parameters over HTTP, on the demo population: the insurer names Alice, who denies it,
// and Chloé; its export is exactly what naming Chloé alone gives, so nothing tells it Alice was withheld;
// the files are served to a bulk client's Accept: application/fhir+ndjson.
func TestExportPostParametersOverHTTP(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, export: &rest.ExportConfig{Dir: t.TempDir()}})
	insurer := a.mintAs(t, "insurer-app", "user/*.rs", "", "Practitioner/prac-adviser")
	post := func(patients ...string) exportManifest {
		t.Helper()
		params := []map[string]any{{"name": "_type", "valueString": "Patient,Observation"}}
		for _, p := range patients {
			params = append(params, map[string]any{"name": "patient", "valueReference": map[string]string{"reference": p}})
		}
		body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
		r := a.do(t, "POST", "/Patient/$export", body, "Authorization: Bearer "+insurer, "Prefer: respond-async")
		r.wantStatus(t, 202)
		a.exports.Wait()
		s := a.do(t, "GET", r.header.Get("Content-Location"), nil, "Authorization: Bearer "+insurer)
		s.wantStatus(t, 200)
		var m exportManifest
		if err := json.Unmarshal(s.body, &m); err != nil {
			t.Fatal(err)
		}
		for _, o := range m.Output {
			f := a.do(t, "GET", o.URL, nil, "Authorization: Bearer "+insurer, "Accept: application/fhir+ndjson")
			f.wantStatus(t, 200)
		}
		return m
	}
	counts := func(m exportManifest) []string {
		var out []string
		for _, o := range m.Output {
			out = append(out, fmt.Sprintf("%s:%d", o.Type, o.Count))
		}
		slices.Sort(out)
		return out
	}
	alone := post("Patient/pat-chloe")
	both := post("Patient/pat-alice", "Patient/pat-chloe")
	if len(alone.Output) == 0 || !slices.Equal(counts(alone), counts(both)) {
		t.Errorf("naming Alice changed the manifest: %v, Chloé alone %v", counts(both), counts(alone))
	}
	bad := a.do(t, "POST", "/Patient/$export", []byte(`{"resourceType":"Parameters","parameter":[{"name":"patient","valueString":"pat-chloe"}]}`),
		"Authorization: Bearer "+insurer, "Prefer: respond-async")
	bad.wantStatus(t, 400)
	// Asking a resource (not an export's file) for NDJSON stays not acceptable.
	a.do(t, "GET", "/Patient/pat-chloe", nil, "Authorization: Bearer "+insurer, "Accept: application/fhir+ndjson").wantStatus(t, 406)
}
