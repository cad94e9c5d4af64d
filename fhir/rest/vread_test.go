package rest_test

import (
	"testing"
	"time"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// vread (https://hl7.org/fhir/R4/http.html#vread).

func TestVRead(t *testing.T) {
	t.Parallel()

	t.Run("each version as it was written", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		created := env.Create(t, patient("", "Before", "female"))
		id := idOf(t, created)
		writes := []*rest.Response{created}
		env.Clock.Advance(time.Minute)
		writes = append(writes, env.Put(t, patient(id, "After", "female")))
		env.Clock.Advance(time.Minute)
		env.Put(t, patient(id, "Latest", "female"))

		for i, w := range writes {
			vid := w.VersionID
			resp := env.VRead(t, "Patient", id, vid)
			resttest.WantStatus(t, resp, 200)
			if string(resp.Body) != string(w.Body) {
				t.Errorf("vread %s: %s\nwant what the write answered: %s", vid, resp.Body, w.Body)
			}
			if resp.VersionID != vid || !resp.LastModified.Equal(w.LastModified) {
				t.Errorf("vread %s: version %q at %v, want at %v", vid, resp.VersionID, resp.LastModified, w.LastModified)
			}
			if want := resttest.Epoch.Add(time.Duration(i) * time.Minute); !resp.LastModified.Equal(want) {
				t.Errorf("vread %s: last modified %v, want the time of its write %v", vid, resp.LastModified, want)
			}
		}
	})

	for _, tc := range []struct {
		name, id, vid    string
		status           int
		code, expression string
	}{
		{"unknown version", "p1", "9", 404, "not-found", ""},
		{"non-numeric version", "p1", "abc", 404, "not-found", ""},
		{"version zero", "p1", "0", 404, "not-found", ""},
		{"negative version", "p1", "-1", 404, "not-found", ""},
		{"unknown resource", "nope", "1", 404, "not-found", ""},
		{"invalid id", "a_b", "1", 400, "value", "id"},
		{"the version of a deletion", "p1", "3", 410, "deleted", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("p1", "One", "female"))
			env.Put(t, patient("p1", "Two", "female"))
			env.Delete(t, "Patient", "p1")
			err := env.Fail(t, &rest.Request{Interaction: rest.VRead, Type: "Patient", ID: tc.id, VersionID: tc.vid})
			resttest.WantError(t, err, tc.status, tc.code, tc.expression)
		})
	}

	t.Run("versions before a deletion stay readable", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Doomed", "male"))
		env.Delete(t, "Patient", "p1")
		if got := resttest.Str(t, env.VRead(t, "Patient", "p1", "1").Body, "name.0.family"); got != "Doomed" {
			t.Errorf("vread 1 after the deletion: family %q", got)
		}
	})

	t.Run("If-None-Match of the version is 304", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "One", "female"))
		env.Put(t, patient("p1", "Two", "female"))
		resp := env.Must(t, &rest.Request{Interaction: rest.VRead, Type: "Patient", ID: "p1", VersionID: "1", IfNoneMatch: `W/"1"`})
		resttest.WantStatus(t, resp, 304)
		if resp.Body != nil || resp.VersionID != "1" {
			t.Errorf("304 of version %q with body %s", resp.VersionID, resp.Body)
		}
	})
}
