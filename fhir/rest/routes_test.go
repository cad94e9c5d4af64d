package rest_test

import (
	"slices"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// The route table: what a method and a URL relative to the base mean. HTTP requests and Bundle entries
// are matched against it alike.

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, url string
		want        rest.Request // Interaction, Type, ID, VersionID, Compartment, Operation
		params      string       // encoded
	}{
		{"GET", "metadata", rest.Request{Interaction: rest.Capabilities}, ""},
		{"POST", "", rest.Request{Interaction: rest.Batch}, ""},
		{"GET", "?_type=Patient", rest.Request{Interaction: rest.SearchSystem}, "_type=Patient"},
		{"POST", "_search", rest.Request{Interaction: rest.SearchSystem}, ""},
		{"GET", "_history", rest.Request{Interaction: rest.HistorySystem}, ""},
		{"GET", "Patient?name=x", rest.Request{Interaction: rest.SearchType, Type: "Patient"}, "name=x"},
		{"POST", "Patient", rest.Request{Interaction: rest.Create, Type: "Patient"}, ""},
		{"POST", "Patient/", rest.Request{Interaction: rest.Create, Type: "Patient"}, ""}, // a trailing slash is no segment
		{"PUT", "Patient?identifier=a%7Cb", rest.Request{Interaction: rest.Update, Type: "Patient"}, "identifier=a%7Cb"},
		{"PATCH", "Patient?_id=1", rest.Request{Interaction: rest.Patch, Type: "Patient"}, "_id=1"},
		{"DELETE", "Patient?_id=1", rest.Request{Interaction: rest.Delete, Type: "Patient"}, "_id=1"},
		{"POST", "Patient/_search", rest.Request{Interaction: rest.SearchType, Type: "Patient"}, ""},
		{"GET", "Patient/_history", rest.Request{Interaction: rest.HistoryType, Type: "Patient"}, ""},
		{"GET", "Patient/1", rest.Request{Interaction: rest.Read, Type: "Patient", ID: "1"}, ""},
		{"HEAD", "Patient/1", rest.Request{Interaction: rest.Read, Type: "Patient", ID: "1"}, ""},
		{"PUT", "Patient/1", rest.Request{Interaction: rest.Update, Type: "Patient", ID: "1"}, ""},
		{"PATCH", "Patient/1", rest.Request{Interaction: rest.Patch, Type: "Patient", ID: "1"}, ""},
		{"DELETE", "Patient/1", rest.Request{Interaction: rest.Delete, Type: "Patient", ID: "1"}, ""},
		{"GET", "Patient/1/_history", rest.Request{Interaction: rest.HistoryInstance, Type: "Patient", ID: "1"}, ""},
		{"GET", "Patient/1/_history/2", rest.Request{Interaction: rest.VRead, Type: "Patient", ID: "1", VersionID: "2"}, ""},
		{"GET", "Patient/1/$everything", rest.Request{Interaction: rest.Operation, Type: "Patient", ID: "1", Operation: "everything"}, ""},
		{"POST", "Patient/1/$everything", rest.Request{Interaction: rest.Operation, Type: "Patient", ID: "1", Operation: "everything"}, ""},
		{"GET", "Patient/1/Observation", rest.Request{Interaction: rest.SearchType, Type: "Observation", Compartment: "Patient/1"}, ""},
		{"GET", "Patient/1/*", rest.Request{Interaction: rest.SearchSystem, Type: "Patient", Compartment: "Patient/1"}, ""},
		// The table knows no types: an unknown one is the service's to refuse (404).
		{"GET", "Patient/1/foo", rest.Request{Interaction: rest.SearchType, Type: "foo", Compartment: "Patient/1"}, ""},
		{"GET", "Pa%74ient/1", rest.Request{Interaction: rest.Read, Type: "Patient", ID: "1"}, ""},
	} {
		t.Run(tc.method+" "+tc.url, func(t *testing.T) {
			t.Parallel()
			got, err := rest.Match(tc.method, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if got.Interaction != tc.want.Interaction || got.Type != tc.want.Type || got.ID != tc.want.ID ||
				got.VersionID != tc.want.VersionID || got.Compartment != tc.want.Compartment || got.Operation != tc.want.Operation {
				t.Errorf("got %s %s/%s/%s compartment %q operation %q, want %s %s/%s/%s compartment %q operation %q",
					got.Interaction, got.Type, got.ID, got.VersionID, got.Compartment, got.Operation,
					tc.want.Interaction, tc.want.Type, tc.want.ID, tc.want.VersionID, tc.want.Compartment, tc.want.Operation)
			}
			if enc := got.Params.Encode(); enc != tc.params {
				t.Errorf("params %q, want %q", enc, tc.params)
			}
		})
	}

	for _, tc := range []struct {
		method, url string
		status      int
		code        string
	}{
		{"GET", "Patient/1/_history/1/x", 404, "not-supported"},
		{"GET", "metadata/x", 404, "not-supported"},
		{"GET", "Patient/_foo", 404, "not-supported"}, // ids never start with _: that is a reserved segment
		{"GET", "$everything", 404, "not-supported"},
		{"PUT", "metadata", 405, "not-supported"},
		{"PUT", "", 405, "not-supported"},
		{"POST", "Patient/1", 405, "not-supported"},
		{"DELETE", "Patient/1/_history/1", 405, "not-supported"},
		{"GET", "Patient?name=%zz", 400, "value"},
	} {
		t.Run("refused "+tc.method+" "+tc.url, func(t *testing.T) {
			t.Parallel()
			_, err := rest.Match(tc.method, tc.url)
			resttest.WantError(t, err, tc.status, tc.code, "")
		})
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"", []string{"POST", "GET", "HEAD"}},
		{"metadata", []string{"GET", "HEAD"}},
		{"Patient", []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}},
		{"Patient/1", []string{"GET", "HEAD", "PUT", "PATCH", "DELETE"}},
		{"/Patient/1/", []string{"GET", "HEAD", "PUT", "PATCH", "DELETE"}},
		{"Patient/1/_history/2", []string{"GET", "HEAD"}},
		{"Patient/1/$everything", []string{"GET", "HEAD", "POST"}},
		{"Patient/1/_history/1/x", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			if got := rest.Allowed(tc.path); !slices.Equal(got, tc.want) {
				t.Errorf("Allowed(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestRouteLevel(t *testing.T) {
	t.Parallel()
	levels := map[rest.Interaction]string{}
	for _, r := range rest.Routes {
		if r.Compartment != "" || r.Operation != "" {
			continue
		}
		if l, seen := levels[r.Interaction]; seen && l != r.Level() && r.Interaction != rest.Update &&
			r.Interaction != rest.Patch && r.Interaction != rest.Delete {
			t.Errorf("%s is at %s and %s", r.Interaction, l, r.Level())
		}
		levels[r.Interaction] = r.Level()
	}
	for i, want := range map[rest.Interaction]string{
		rest.Capabilities: "system", rest.Batch: "system", rest.HistorySystem: "system", rest.SearchSystem: "system",
		rest.Create: "type", rest.HistoryType: "type", rest.SearchType: "type",
		rest.Read: "instance", rest.VRead: "instance", rest.HistoryInstance: "instance",
	} {
		if levels[i] != want {
			t.Errorf("%s at %q, want %s", i, levels[i], want)
		}
	}
}
