package rest_test

import (
	"slices"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// delete (https://hl7.org/fhir/R4/http.html#delete) and conditional delete (#cdelete). If-Match is in
// ifmatch_test.go.

func TestDelete(t *testing.T) {
	t.Parallel()

	t.Run("204 without a body, and a deletion version", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Doomed", "male"))
		now := env.Clock.Advance(time.Minute)
		resp := env.Delete(t, "Patient", "p1")
		resttest.WantStatus(t, resp, 204)
		if resp.Body != nil || resp.VersionID != "2" || !resp.LastModified.Equal(now) {
			t.Errorf("version %q at %v, body %s; want version 2 at %v and no body", resp.VersionID, resp.LastModified, resp.Body, now)
		}
		v := env.Stored(t, "Patient", "p1")
		if !v.Deleted || v.VersionID != 2 || v.Method != "DELETE" || v.Body != nil {
			t.Errorf("stored %+v, want a deletion as version 2", v)
		}
	})

	t.Run("read after a delete is 410", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Doomed", "male"))
		env.Delete(t, "Patient", "p1")
		err := env.Fail(t, &rest.Request{Interaction: rest.Read, Type: "Patient", ID: "p1"})
		resttest.WantError(t, err, 410, "deleted", "")
	})

	t.Run("a second delete is 204 and changes nothing", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Doomed", "male"))
		env.Delete(t, "Patient", "p1")
		resp := env.Delete(t, "Patient", "p1")
		resttest.WantStatus(t, resp, 204)
		if resp.Body != nil || resp.VersionID != "" {
			t.Errorf("version %q, body %s: nothing was deleted", resp.VersionID, resp.Body)
		}
		if got := resttest.Refs(env.Versions(t, "", "")); len(got) != 2 {
			t.Errorf("store %v, want the version and its deletion only", got)
		}
	})

	t.Run("delete of an id that never existed is 204 and stores nothing", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		resttest.WantStatus(t, env.Delete(t, "Patient", "never-existed"), 204)
		if vs := env.Versions(t, "", ""); len(vs) != 0 {
			t.Errorf("stored %v", resttest.Refs(vs))
		}
		err := env.Fail(t, &rest.Request{Interaction: rest.Read, Type: "Patient", ID: "never-existed"})
		resttest.WantError(t, err, 404, "not-found", "")
	})

	t.Run("PUT after a delete is 201 version 3", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Doomed", "male"))
		env.Delete(t, "Patient", "p1")
		resp := env.Put(t, patient("p1", "Back", "male"))
		resttest.WantStatus(t, resp, 201)
		if got, want := resp.Location, resttest.BaseURL+"/Patient/p1/_history/3"; got != want || resp.VersionID != "3" {
			t.Errorf("version %q, Location %q; want 3, %q", resp.VersionID, got, want)
		}
		if v := env.Stored(t, "Patient", "p1"); v.Deleted || !v.Created || v.VersionID != 3 {
			t.Errorf("stored %+v, want version 3 bringing the resource back", v)
		}
	})

	t.Run("history shows the deletion", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		id := idOf(t, env.Create(t, patient("", "Doomed", "male")))
		env.Clock.Advance(time.Minute)
		env.Delete(t, "Patient", id)
		env.Clock.Advance(time.Minute)
		env.Put(t, patient(id, "Back", "male"))

		b := env.History(t, "Patient", id, "")
		if len(b.Entry) != 3 {
			t.Fatalf("%d entries, want 3: %+v", len(b.Entry), b.Entry)
		}
		for i, want := range []struct {
			method, url, status, etag string
			resource                  bool
			at                        time.Time
		}{
			{"PUT", "Patient/" + id, "201 Created", `W/"3"`, true, resttest.Epoch.Add(2 * time.Minute)}, // brought back: created again
			{"DELETE", "Patient/" + id, "204 No Content", `W/"2"`, false, resttest.Epoch.Add(time.Minute)},
			{"POST", "Patient", "201 Created", `W/"1"`, true, resttest.Epoch},
		} {
			e := b.Entry[i]
			if e.Request == nil || e.Response == nil {
				t.Fatalf("entry %d lacks request or response: %+v", i, e)
			}
			if e.Request.Method != want.method || e.Request.URL != want.url {
				t.Errorf("entry %d request %s %s, want %s %s", i, e.Request.Method, e.Request.URL, want.method, want.url)
			}
			if e.Response.Status != want.status || e.Response.Etag != want.etag || e.Response.LastModified != fhir.FormatInstant(want.at) {
				t.Errorf("entry %d response %+v, want %s %s at %s", i, e.Response, want.status, want.etag, fhir.FormatInstant(want.at))
			}
			if has := len(e.Resource) > 0; has != want.resource {
				t.Errorf("entry %d has a resource: %v, want %v", i, has, want.resource)
			}
			if got, want := e.FullURL, resttest.BaseURL+"/Patient/"+id; got != want {
				t.Errorf("entry %d fullUrl %q, want %q", i, got, want)
			}
		}
		if got := resttest.Str(t, b.Entry[0].Resource, "name.0.family"); got != "Back" {
			t.Errorf("newest entry %s", b.Entry[0].Resource)
		}
	})

	t.Run("an AuditEvent cannot be deleted", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		err := env.Fail(t, &rest.Request{Interaction: rest.Delete, Type: "AuditEvent", ID: "a1"})
		resttest.WantError(t, err, 405, "not-supported", "")
	})

	t.Run("invalid id", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		err := env.Fail(t, &rest.Request{Interaction: rest.Delete, Type: "Patient", ID: "a_b"})
		resttest.WantError(t, err, 400, "value", "id")
	})
}

func TestConditionalDelete(t *testing.T) {
	t.Parallel()
	// Patients a (identifier ma), b and c (identifier dup) and gone (identifier mg, deleted) are stored first.
	for _, tc := range []struct {
		name, criteria   string
		status           int
		deleted          string // the id deleted
		code, expression string
	}{
		{name: "no match changes nothing", criteria: "identifier=http://example.org/mrn|none", status: 204},
		{name: "one match is deleted", criteria: "identifier=http://example.org/mrn|ma", status: 204, deleted: "a"},
		{name: "a deleted resource is no match", criteria: "identifier=http://example.org/mrn|mg", status: 204},
		{name: "two matches are 412", criteria: "identifier=http://example.org/mrn|dup", status: 412, code: "multiple-matches",
			expression: "criteria"},
		{name: "no criteria", criteria: "", status: 400, code: "required", expression: "criteria"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patientWith("a", "A", "ma"))
			env.Put(t, patientWith("b", "B", "dup"))
			env.Put(t, patientWith("c", "C", "dup"))
			env.Put(t, patientWith("gone", "G", "mg"))
			env.Delete(t, "Patient", "gone")
			before := resttest.Refs(env.Versions(t, "", ""))

			resp, err := env.Do(&rest.Request{Interaction: rest.Delete, Type: "Patient", Params: query(t, tc.criteria)})
			after := resttest.Refs(env.Versions(t, "", ""))
			if tc.status >= 400 {
				resttest.WantError(t, err, tc.status, tc.code, tc.expression)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				resttest.WantStatus(t, resp, tc.status)
			}
			if tc.deleted == "" {
				if !slices.Equal(after, before) {
					t.Errorf("wrote: %v -> %v", before, after)
				}
				return
			}
			if v := env.Stored(t, "Patient", tc.deleted); !v.Deleted || len(after) != len(before)+1 {
				t.Errorf("Patient/%s not deleted, or more written: %v -> %v", tc.deleted, before, after)
			}
		})
	}
}
