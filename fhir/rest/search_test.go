package rest_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// search (https://hl7.org/fhir/R4/http.html#search): the searchset Bundle the service builds around the
// search engine's result. What each search parameter matches is the engine's, tested in fhir/search.

// searchEnv stores Patients p1 (identifier m1, managed by Organization org1) and p2, an Observation of
// each, and a deleted Observation of p1.
func searchEnv(t *testing.T) *resttest.Env {
	t.Helper()
	env := resttest.New(t)
	env.Put(t, `{"resourceType":"Organization","id":"org1","name":"Org"}`)
	p1 := patientWith("p1", "One", "m1")
	p1 = strings.TrimSuffix(p1, "}") + `,"managingOrganization":{"reference":"Organization/org1"}}`
	env.Put(t, p1)
	env.Put(t, patientWith("p2", "Two", "m2"))
	env.Put(t, observation("o1", "Patient/p1"))
	env.Put(t, observation("o2", "Patient/p2"))
	env.Put(t, observation("gone", "Patient/p1"))
	env.Delete(t, "Observation", "gone")
	return env
}

func runSearch(t *testing.T, env *resttest.Env, req *rest.Request) *resttest.Bundle {
	t.Helper()
	resp := env.Must(t, req)
	resttest.WantStatus(t, resp, 200)
	b := resttest.DecodeBundle(t, resp.Body)
	if b.Type != "searchset" {
		t.Fatalf("Bundle.type %q", b.Type)
	}
	return b
}

// modes returns "ref mode" for each entry.
func modes(t *testing.T, b *resttest.Bundle) []string {
	t.Helper()
	var out []string
	for i, v := range b.Versions(t) {
		out = append(out, strings.TrimSuffix(v, "/_history/1")+" "+b.Entry[i].Search.Mode)
	}
	return out
}

func TestSearch(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		req  rest.Request
		want []string // "Type/id mode", in order
		self string   // the self link after the base URL, "" to leave it unchecked
	}{
		{"type search", rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: url.Values{"identifier": {"http://example.org/mrn|m1"}}},
			[]string{"Patient/p1 match"}, "/Patient?identifier=http%3A%2F%2Fexample.org%2Fmrn%7Cm1"},
		{"a deleted resource is not found", rest.Request{Interaction: rest.SearchType, Type: "Observation", Params: url.Values{"_id": {"gone"}}},
			nil, "/Observation?_id=gone"},
		{"POST _search: a form body with the URL's parameters", rest.Request{Interaction: rest.SearchType, Type: "Observation",
			Params: url.Values{"subject": {"Patient/p1"}}, Body: []byte("status=final"), ContentType: "application/x-www-form-urlencoded"},
			[]string{"Observation/o1 match"}, ""},
		{"_include", rest.Request{Interaction: rest.SearchType, Type: "Observation",
			Params: url.Values{"_id": {"o1"}, "_include": {"Observation:subject"}}},
			[]string{"Observation/o1 match", "Patient/p1 include"}, ""},
		{"system search of some types", rest.Request{Interaction: rest.SearchSystem, Params: url.Values{"_type": {"Organization,Patient"}, "_sort": {"_id"}}},
			[]string{"Organization/org1 match", "Patient/p1 match", "Patient/p2 match"}, "?_sort=_id&_type=Organization%2CPatient"},
		{"compartment search", rest.Request{Interaction: rest.SearchType, Type: "Observation", Compartment: "Patient/p2"},
			[]string{"Observation/o2 match"}, "/Patient/p2/Observation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := searchEnv(t)
			req := tc.req
			b := runSearch(t, env, &req)
			if got := modes(t, b); !slices.Equal(got, tc.want) {
				t.Errorf("entries\n got %v\nwant %v", got, tc.want)
			}
			matches := 0
			for _, w := range tc.want {
				if strings.HasSuffix(w, " match") {
					matches++
				}
			}
			if b.Total == nil || *b.Total != matches {
				t.Errorf("total %v, want %d", b.Total, matches)
			}
			for _, e := range b.Entry {
				if !strings.HasPrefix(e.FullURL, resttest.BaseURL+"/") {
					t.Errorf("entry fullUrl %q", e.FullURL)
				}
			}
			if tc.self != "" && b.LinkURL("self") != resttest.BaseURL+tc.self {
				t.Errorf("self link %q, want %q", b.LinkURL("self"), resttest.BaseURL+tc.self)
			}
		})
	}

	t.Run("pages follow the next link", func(t *testing.T) {
		t.Parallel()
		env := searchEnv(t)
		b := runSearch(t, env, &rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: url.Values{"_count": {"1"}, "_sort": {"_id"}}})
		got := modes(t, b)
		for next := b.LinkURL("next"); next != ""; next = b.LinkURL("next") {
			if len(got) > 2 {
				t.Fatalf("more pages than matches: %v", got)
			}
			b = runSearch(t, env, resttest.Follow(t, next))
			got = append(got, modes(t, b)...)
		}
		if want := []string{"Patient/p1 match", "Patient/p2 match"}; !slices.Equal(got, want) {
			t.Errorf("pages %v, want %v", got, want)
		}
	})

	t.Run("_summary=count counts", func(t *testing.T) {
		t.Parallel()
		env := searchEnv(t)
		b := runSearch(t, env, &rest.Request{Interaction: rest.SearchType, Type: "Observation", Params: url.Values{"_summary": {"count"}}})
		if b.Total == nil || *b.Total != 2 || len(b.Entry) != 0 {
			t.Errorf("total %v, %d entries; want 2 and none", b.Total, len(b.Entry))
		}
	})

	t.Run("_elements subsets the matches", func(t *testing.T) {
		t.Parallel()
		env := searchEnv(t)
		b := runSearch(t, env, &rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: url.Values{"_id": {"p1"}, "_elements": {"gender"}}})
		if len(b.Entry) != 1 || resttest.Has(t, b.Entry[0].Resource, "name") || !subsetted(t, b.Entry[0].Resource) {
			t.Errorf("entries %+v", b.Entry)
		}
	})

	t.Run("unknown parameters are ignored and said so, unless strict", func(t *testing.T) {
		t.Parallel()
		env := searchEnv(t)
		b := runSearch(t, env, &rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: url.Values{"_id": {"p1"}, "foo": {"bar"}}})
		last := b.Entry[len(b.Entry)-1]
		if last.Search.Mode != "outcome" || !strings.Contains(resttest.Issues(t, last.Resource)[0].Details.Text, "foo") {
			t.Errorf("no outcome entry naming foo: %+v", b.Entry)
		}
		if self := b.LinkURL("self"); strings.Contains(self, "foo") {
			t.Errorf("self link %q shows the ignored parameter", self)
		}
		err := env.Fail(t, &rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: url.Values{"foo": {"bar"}}, Strict: true})
		resttest.WantError(t, err, 400, "not-supported", "foo")
	})

	for _, tc := range []struct {
		name             string
		req              rest.Request
		code, expression string
	}{
		{"an unknown _type", rest.Request{Interaction: rest.SearchSystem, Params: url.Values{"_type": {"Foo"}}}, "value", "_type"},
		{"a malformed form body", rest.Request{Interaction: rest.SearchType, Type: "Patient", Body: []byte("a=%zz"),
			ContentType: "application/x-www-form-urlencoded"}, "structure", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			req := tc.req
			resttest.WantError(t, env.Fail(t, &req), 400, tc.code, tc.expression)
		})
	}
}
