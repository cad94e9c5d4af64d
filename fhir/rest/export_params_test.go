package rest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// The $export parameters beyond _type and _since: _typeFilter, _elements, patient (a POST's
// Parameters) and includeAssociatedData.

// heartRate is an observation of another code and status than observation's.
func heartRate(id, subject string) string {
	o := strings.Replace(observation(id, subject), "29463-7", "8867-4", 1)
	return strings.Replace(o, `"final"`, `"amended"`, 1)
}

// exportOf runs an export to its end as caller through g and returns its manifest and files.
func (x *exportEnv) exportOf(t *testing.T, g rest.Guard, caller string, req *rest.Request) (manifest, map[string][]string) {
	t.Helper()
	resp, err := x.Service.Do(context.Background(), g, req)
	if err != nil {
		t.Fatal(err)
	}
	m := x.finished(t, g, jobOf(t, resp), caller)
	return m, x.download(t, g, caller, m)
}

// fileLines returns the lines of every file of a manifest, per type.
func (x *exportEnv) fileLines(t *testing.T, caller string, m manifest) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, o := range m.Output {
		job, name, _ := strings.Cut(strings.TrimPrefix(o.URL, resttest.BaseURL+"/$export-file/"), "/")
		resp := x.Must(t, &rest.Request{Interaction: rest.Operation, Operation: "export-file", ID: job, VersionID: name, Caller: caller})
		f, err := os.Open(resp.BodyFile)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r map[string]any
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			out[o.Type] = append(out[o.Type], r)
		}
		_ = f.Close()
	}
	return out
}

func TestExportTypeFilter(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	x.Put(t, heartRate("p1-hr", "Patient/p1"))
	x.Put(t, heartRate("p3-hr", "Patient/p3"))
	for _, tc := range []struct {
		name   string
		params url.Values
		want   map[string][]string
	}{
		{"one filter", url.Values{"_type": {"Observation"}, "_typeFilter": {"Observation?code=http://loinc.org|8867-4"}},
			map[string][]string{"Observation": {"Observation/p1-hr", "Observation/p3-hr"}}},
		{"two filters are OR-ed", url.Values{"_type": {"Observation"}, "_typeFilter": {
			"Observation?code=8867-4&subject=Patient/p1", "Observation?_id=p2-o1"}},
			map[string][]string{"Observation": {"Observation/p1-hr", "Observation/p2-o1"}}},
		{"parameters in one filter are AND-ed", url.Values{"_type": {"Observation"}, "_typeFilter": {"Observation?status=amended&subject=Patient/p3"}},
			map[string][]string{"Observation": {"Observation/p3-hr"}}},
		{"a type without a filter is whole", url.Values{"_type": {"Patient,Observation"}, "_typeFilter": {"Observation?code:not=29463-7"}},
			map[string][]string{"Patient": {"Patient/p1", "Patient/p2", "Patient/p3"}, "Observation": {"Observation/p1-hr", "Observation/p3-hr"}}},
		{"a filter on the patients", url.Values{"_type": {"Patient"}, "_typeFilter": {"Patient?_id=p2,p3"}},
			map[string][]string{"Patient": {"Patient/p2", "Patient/p3"}}},
		{"a filter matching nothing", url.Values{"_type": {"Observation"}, "_typeFilter": {"Observation?code=nothing"}},
			map[string][]string{}},
		{"a chained filter", url.Values{"_type": {"Observation"}, "_typeFilter": {"Observation?subject:Patient.family=Familyp1"}},
			map[string][]string{"Observation": {"Observation/p1-hr", "Observation/p1-o1", "Observation/p1-o2"}}},
		{"filters at system level", url.Values{"_type": {"Organization,Patient,Group"}, "level": {"system"},
			"_typeFilter": {"Organization?name=Clinic", "Patient?_id=p1", "Group?type=animal"}},
			map[string][]string{"Patient": {"Patient/p1"}, "Organization": {"Organization/org1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ := "Patient"
			if tc.params.Get("level") == "system" {
				typ = ""
				tc.params.Del("level")
			}
			_, got := x.exportOf(t, x.Guard, "client-a", kickoff(typ, "", "client-a", tc.params))
			if len(got) != len(tc.want) {
				t.Errorf("types %v, want %v", got, tc.want)
			}
			for typ, refs := range tc.want {
				if !slices.Equal(got[typ], refs) {
					t.Errorf("%s\n got %v\nwant %v", typ, got[typ], refs)
				}
			}
		})
	}
	t.Run("filtered resources the guard refuses stay out", func(t *testing.T) {
		g := patientHidingGuard{patient: "Patient/p3"}
		_, got := x.exportOf(t, g, "client-a", kickoff("Patient", "", "client-a",
			url.Values{"_type": {"Observation"}, "_typeFilter": {"Observation?code=8867-4"}}))
		if want := []string{"Observation/p1-hr"}; !slices.Equal(got["Observation"], want) {
			t.Errorf("got %v, want %v", got["Observation"], want)
		}
	})
	for _, tc := range []struct {
		name, filter, types, want string
	}{
		{"a type _type does not list", "Condition?code=1", "Observation", "_typeFilter"},
		{"an unknown search parameter", "Observation?colour=blue", "Observation", "colour"},
		{"a parameter that selects nothing", "Observation?_sort=date", "Observation", "_sort"},
		{"no query", "Observation", "Observation", "_typeFilter"},
		{"an unknown type", "Nonsense?a=b", "", "_typeFilter"},
		{"a type outside the export", "Organization?name=x", "", "_typeFilter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := url.Values{"_typeFilter": {tc.filter}}
			if tc.types != "" {
				params.Set("_type", tc.types)
			}
			err := x.Fail(t, kickoff("Patient", "", "c", params))
			if err.Kind != fhir.KindInvalid || err.Expression != "_typeFilter" && err.Expression != tc.want ||
				!strings.Contains(err.Expression+" "+err.Details, tc.want) {
				t.Errorf("got %v (%s), want a 400 naming %s", err, err.Expression, tc.want)
			}
		})
	}
}

func TestExportElements(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	m, _ := x.exportOf(t, x.Guard, "client-a", kickoff("Group", "g1", "client-a",
		url.Values{"_type": {"Patient,Observation"}, "_elements": {"Patient.gender,effective"}}))
	files := x.fileLines(t, "client-a", m)
	if len(files["Patient"]) != 2 || len(files["Observation"]) != 4 {
		t.Fatalf("files %v", files)
	}
	for typ, keep := range map[string][]string{
		"Patient":     {"resourceType", "id", "meta", "gender"},
		"Observation": {"resourceType", "id", "meta", "status", "code", "effectiveDateTime"},
	} {
		for _, r := range files[typ] {
			var keys []string
			for k := range r {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			want := slices.Sorted(slices.Values(keep))
			if !slices.Equal(keys, want) {
				t.Errorf("%s elements %v, want %v", typ, keys, want)
			}
			if !strings.Contains(string(fhir.MustJSON(r["meta"])), `"SUBSETTED"`) {
				t.Errorf("%s/%v not tagged SUBSETTED: %v", typ, r["id"], r["meta"])
			}
		}
	}
	if err := x.Fail(t, kickoff("Patient", "", "c", url.Values{"_elements": {"Nonsense.name"}})); err.Expression != "_elements" {
		t.Errorf("an unknown type in _elements: %v", err)
	}
}

// parameters is a Parameters body of name/value[x] pairs (value as JSON).
func parameters(pairs ...string) []byte {
	var ps []string
	for i := 0; i+2 < len(pairs)+1; i += 3 {
		ps = append(ps, `{"name":"`+pairs[i]+`","`+pairs[i+1]+`":`+pairs[i+2]+`}`)
	}
	return []byte(`{"resourceType":"Parameters","parameter":[` + strings.Join(ps, ",") + `]}`)
}

func postKickoff(typ, id, caller string, body []byte) *rest.Request {
	r := kickoff(typ, id, caller, nil)
	r.Body, r.ContentType = body, "application/fhir+json"
	return r
}

func TestExportPostParameters(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	refusing := patientHidingGuard{patient: "Patient/p2"}
	types := `"Patient,Observation"`
	ask := func(t *testing.T, typ, id string, g rest.Guard, patients ...string) (manifest, map[string][]string) {
		pairs := []string{"_type", "valueString", types, "_outputFormat", "valueString", `"application/fhir+ndjson"`,
			"_since", "valueInstant", `"2000-01-01T00:00:00Z"`}
		for _, p := range patients {
			pairs = append(pairs, "patient", "valueReference", `{"reference":"`+p+`"}`)
		}
		return x.exportOf(t, g, "client-a", postKickoff(typ, id, "client-a", parameters(pairs...)))
	}
	t.Run("patient level, some patients", func(t *testing.T) {
		_, got := ask(t, "Patient", "", x.Guard, "Patient/p1", resttest.BaseURL+"/Patient/p3")
		if want := []string{"Patient/p1", "Patient/p3"}; !slices.Equal(got["Patient"], want) {
			t.Errorf("patients %v, want %v", got["Patient"], want)
		}
		if len(got["Observation"]) != 4 {
			t.Errorf("observations %v", got["Observation"])
		}
	})
	t.Run("group level, members only", func(t *testing.T) {
		_, got := ask(t, "Group", "g1", x.Guard, "Patient/p2", "Patient/p3")
		if want := []string{"Patient/p2"}; !slices.Equal(got["Patient"], want) {
			t.Errorf("patients %v, want %v (p3 is no member)", got["Patient"], want)
		}
	})
	t.Run("a refused or absent patient is as if not asked for", func(t *testing.T) {
		mAlone, alone := ask(t, "Patient", "", refusing, "Patient/p1")
		mRefused, refused := ask(t, "Patient", "", refusing, "Patient/p1", "Patient/p2")
		mAbsent, absent := ask(t, "Patient", "", refusing, "Patient/p1", "Patient/nobody")
		for name, m := range map[string]manifest{"refused": mRefused, "absent": mAbsent} {
			if len(m.Output) != len(mAlone.Output) {
				t.Fatalf("%s: %d files, alone %d", name, len(m.Output), len(mAlone.Output))
			}
			for i := range m.Output {
				if m.Output[i].Type != mAlone.Output[i].Type || m.Output[i].Count != mAlone.Output[i].Count {
					t.Errorf("%s: manifest output %+v, alone %+v", name, m.Output[i], mAlone.Output[i])
				}
			}
		}
		for typ, refs := range alone {
			if !slices.Equal(refused[typ], refs) || !slices.Equal(absent[typ], refs) {
				t.Errorf("%s: %v / %v, alone %v", typ, refused[typ], absent[typ], refs)
			}
		}
	})
	for _, tc := range []struct {
		name, typ string
		body      []byte
		want      string
	}{
		{"not Parameters", "Patient", []byte(`{"resourceType":"Patient"}`), "Parameters"},
		{"a patient as a string", "Patient", parameters("patient", "valueString", `"Patient/p1"`), "patient"},
		{"a patient of another type", "Patient", parameters("patient", "valueReference", `{"reference":"Group/g1"}`), "patient"},
		{"a patient of only commas", "Patient", parameters("patient", "valueReference", `{"reference":","}`), "patient"},
		{"two patients in one reference", "Patient", parameters("patient", "valueReference", `{"reference":"Patient/p1,Patient/p2"}`), "patient"},
		{"a patient at system level", "", parameters("patient", "valueReference", `{"reference":"Patient/p1"}`), "patient"},
		{"a bad _since", "Patient", parameters("_since", "valueInstant", `"soon"`), "_since"},
		{"a bad _outputFormat", "Patient", parameters("_outputFormat", "valueString", `"text/csv"`), "_outputFormat"},
		{"an unknown parameter", "Patient", parameters("_bogus", "valueString", `"1"`), "_bogus"},
		{"no value", "Patient", []byte(`{"resourceType":"Parameters","parameter":[{"name":"_type"}]}`), "_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := x.Fail(t, postKickoff(tc.typ, "", "c", tc.body))
			if err.Kind != fhir.KindInvalid || err.Expression != tc.want {
				t.Errorf("got %v (expression %q), want a 400 naming %s", err, err.Expression, tc.want)
			}
		})
	}
	t.Run("patient in the query", func(t *testing.T) {
		if err := x.Fail(t, kickoff("Patient", "", "c", url.Values{"patient": {"Patient/p1"}})); err.Expression != "patient" {
			t.Errorf("got %v", err)
		}
	})
}

// provenance is a Provenance of targets recorded at the instant given.
func provenance(id, recorded string, targets ...string) string {
	var ts []string
	for _, t := range targets {
		ts = append(ts, `{"reference":"`+t+`"}`)
	}
	return `{"resourceType":"Provenance","id":"` + id + `","recorded":"` + recorded + `","target":[` + strings.Join(ts, ",") +
		`],"agent":[{"who":{"reference":"Organization/org1"}}]}`
}

func TestExportAssociatedProvenance(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t, rest.ExportConfig{})
	x.Put(t, provenance("prov-old", "2024-01-01T00:00:00Z", "Observation/p1-o1"))
	x.Put(t, provenance("prov-new", "2024-06-01T00:00:00Z", "Observation/p1-o1"))
	x.Put(t, provenance("prov-both", "2024-03-01T00:00:00Z", "Observation/p1-o2", "Observation/p2-o1"))
	x.Put(t, provenance("prov-p3", "2024-03-01T00:00:00Z", "Observation/p3-o1"))
	x.Put(t, provenance("prov-org", "2024-03-01T00:00:00Z", "Organization/org1"))
	refusing := patientHidingGuard{patient: "Patient/p3"}
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"relevant", "RelevantProvenanceResources", []string{"Provenance/prov-both", "Provenance/prov-new", "Provenance/prov-old"}},
		{"latest", "LatestProvenanceResources", []string{"Provenance/prov-both", "Provenance/prov-new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, got := x.exportOf(t, refusing, "client-a", kickoff("Patient", "", "client-a",
				url.Values{"_type": {"Observation"}, "includeAssociatedData": {tc.value}}))
			if !slices.Equal(got["Provenance"], tc.want) {
				t.Errorf("provenance %v, want %v", got["Provenance"], tc.want)
			}
			if len(got["Observation"]) != 4 {
				t.Errorf("observations %v", got["Observation"])
			}
			if i := slices.IndexFunc(m.Output, func(o struct {
				Type  string `json:"type"`
				URL   string `json:"url"`
				Count int    `json:"count"`
			}) bool {
				return o.Type == "Provenance"
			}); i < 0 {
				t.Errorf("no Provenance file in the manifest %+v", m.Output)
			}
		})
	}
	err := x.Fail(t, kickoff("Patient", "", "c", url.Values{"includeAssociatedData": {"_custom"}}))
	if err.Expression != "includeAssociatedData" || !strings.Contains(err.Details, "_custom") {
		t.Errorf("got %v", err)
	}
	// A client whose scopes do not cover Provenance gets none: the kick-off is refused as a _type of it is.
	_, refused := x.Service.Do(context.Background(), typeRefusingGuard{typ: "Provenance"}, kickoff("Patient", "", "c",
		url.Values{"_type": {"Observation"}, "includeAssociatedData": {"RelevantProvenanceResources"}}))
	if fhir.KindOf(refused) != fhir.KindForbidden {
		t.Errorf("associated Provenance without its scope: %v, want 403", refused)
	}
}

// typeRefusingGuard allows everything but searching one type, as scopes without it would.
type typeRefusingGuard struct {
	rest.AllowAll
	typ string
}

func (g typeRefusingGuard) Authorize(_ context.Context, req *rest.Request) error {
	if req.Type == g.typ {
		return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "no scope for " + g.typ}
	}
	return nil
}
