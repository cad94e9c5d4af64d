package rest_test

import (
	"os"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/internal/sharedtest"
)

// _summary and _elements on read, vread and history (https://hl7.org/fhir/R4/search.html#summary,
// #elements): a subset of the stored resource, tagged SUBSETTED; what is stored never changes.

// exampleEnv stores the official Patient example (it has text, contact and the other non-summary
// elements the subsets leave out).
func exampleEnv(t *testing.T) (*resttest.Env, []byte) {
	t.Helper()
	raw, err := os.ReadFile(sharedtest.Path(t, "examples", "Patient-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	env := resttest.New(t)
	resp := env.Put(t, string(raw))
	resttest.WantStatus(t, resp, 201)
	if !resttest.Has(t, resp.Body, "text") || !resttest.Has(t, resp.Body, "contact") {
		t.Fatal("the example has no text or contact; the test needs them")
	}
	return env, resp.Body
}

// subsetted reports whether a resource carries the SUBSETTED tag.
func subsetted(t *testing.T, body []byte) bool {
	t.Helper()
	tags, _ := resttest.Field(t, body, "meta.tag").([]any)
	for _, tag := range tags {
		m, _ := tag.(map[string]any)
		if m["system"] == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" && m["code"] == "SUBSETTED" {
			return true
		}
	}
	return false
}

func TestSummaryElements(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name        string
		interaction rest.Interaction
		query       string
		kept, gone  []string
		tagged      bool
	}{
		{name: "_summary=true", interaction: rest.Read, query: "_summary=true",
			kept: []string{"id", "meta", "name", "birthDate", "gender", "identifier"}, gone: []string{"text", "contact"}, tagged: true},
		{name: "_summary=text", interaction: rest.Read, query: "_summary=text",
			kept: []string{"id", "meta", "text"}, gone: []string{"contact", "telecom"}, tagged: true},
		{name: "_summary=data", interaction: rest.Read, query: "_summary=data",
			kept: []string{"id", "meta", "contact", "name"}, gone: []string{"text"}, tagged: true},
		{name: "_summary=false is the whole resource", interaction: rest.Read, query: "_summary=false",
			kept: []string{"id", "meta", "text", "contact"}},
		{name: "_elements=birthDate", interaction: rest.Read, query: "_elements=birthDate",
			kept: []string{"id", "meta", "birthDate"}, gone: []string{"name", "text", "telecom", "address", "contact"}, tagged: true},
		{name: "_elements of two", interaction: rest.Read, query: "_elements=gender,name",
			kept: []string{"gender", "name"}, gone: []string{"birthDate", "text"}, tagged: true},
		{name: "_elements on vread", interaction: rest.VRead, query: "_elements=gender",
			kept: []string{"gender"}, gone: []string{"name"}, tagged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, full := exampleEnv(t)
			req := &rest.Request{Interaction: tc.interaction, Type: "Patient", ID: "example", Params: query(t, tc.query)}
			if tc.interaction == rest.VRead {
				req.VersionID = "1"
			}
			resp := env.Must(t, req)
			resttest.WantStatus(t, resp, 200)
			for _, k := range tc.kept {
				if !resttest.Has(t, resp.Body, k) {
					t.Errorf("%s dropped %s", tc.query, k)
				}
			}
			for _, k := range tc.gone {
				if resttest.Has(t, resp.Body, k) {
					t.Errorf("%s kept %s", tc.query, k)
				}
			}
			if got := subsetted(t, resp.Body); got != tc.tagged {
				t.Errorf("SUBSETTED tag %v, want %v: %v", got, tc.tagged, resttest.Field(t, resp.Body, "meta"))
			}
			if resttest.Str(t, resp.Body, "meta.versionId") != "1" || resp.VersionID != "1" {
				t.Errorf("the version is lost: %q, %v", resp.VersionID, resttest.Field(t, resp.Body, "meta"))
			}
			// What is stored stays whole.
			if stored := env.Stored(t, "Patient", "example"); string(stored.Body) != string(full) {
				t.Errorf("a subsetted read changed what is stored: %s", stored.Body)
			}
		})
	}

	t.Run("history entries are subsetted", func(t *testing.T) {
		t.Parallel()
		env, _ := exampleEnv(t)
		b := env.History(t, "Patient", "example", "_elements=gender")
		if len(b.Entry) != 1 || resttest.Has(t, b.Entry[0].Resource, "name") || !resttest.Has(t, b.Entry[0].Resource, "gender") {
			t.Errorf("history with _elements=gender: %+v", b.Entry)
		}
	})

	for _, tc := range []struct{ name, query string }{
		{"_summary=count on a read", "_summary=count"},
		{"_summary unknown", "_summary=maybe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, _ := exampleEnv(t)
			err := env.Fail(t, &rest.Request{Interaction: rest.Read, Type: "Patient", ID: "example", Params: query(t, tc.query)})
			resttest.WantError(t, err, 400, "", "_summary")
		})
	}
}
