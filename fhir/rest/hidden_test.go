package rest_test

import (
	"context"
	"slices"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/fhir/search"
)

// What the service answers about a resource the guard hides. guard_test.go holds that nothing hidden
// leaves or changes; here, that the answers do not give it away.

// hidingGuard allows everything but reading one resource, which it answers as absent.
type hidingGuard struct {
	rest.AllowAll
	ref string
}

func (g hidingGuard) Read(_ context.Context, _ *rest.Request, f *search.Facts) error {
	if f.Ref() == g.ref {
		return fhir.NotFound(f.Type, f.ID)
	}
	return nil
}

// TestHiddenAsAbsent: a resource the guard hides is answered as far as possible as one that does not
// exist, so that the answers do not tell the client it is there; only what cannot be imitated (writing
// over it) is refused, with the answer of a hidden read. The hidden resource never changes.
func TestHiddenAsAbsent(t *testing.T) {
	t.Parallel()
	patchBody := []byte(`[{"op":"replace","path":"/gender","value":"male"}]`)
	for _, tc := range []struct {
		name   string
		req    func(t *testing.T, id string) *rest.Request
		hidden int  // the status for the hidden resource
		absent bool // whether an absent one has the same
	}{
		{"read", func(t *testing.T, id string) *rest.Request {
			return &rest.Request{Interaction: rest.Read, Type: "Patient", ID: id}
		}, 404, true},
		{"vread", func(t *testing.T, id string) *rest.Request {
			return &rest.Request{Interaction: rest.VRead, Type: "Patient", ID: id, VersionID: "1"}
		}, 404, true},
		{"history", func(t *testing.T, id string) *rest.Request {
			return &rest.Request{Interaction: rest.HistoryInstance, Type: "Patient", ID: id}
		}, 404, true},
		{"patch", func(t *testing.T, id string) *rest.Request {
			return &rest.Request{Interaction: rest.Patch, Type: "Patient", ID: id, Body: patchBody, ContentType: jsonPatch}
		}, 404, true},
		{"delete", func(t *testing.T, id string) *rest.Request {
			return &rest.Request{Interaction: rest.Delete, Type: "Patient", ID: id}
		}, 204, true},
		{"delete with If-Match", func(t *testing.T, id string) *rest.Request {
			return &rest.Request{Interaction: rest.Delete, Type: "Patient", ID: id, IfMatch: `W/"1"`}
		}, 412, true},
		{"update with If-Match", func(t *testing.T, id string) *rest.Request {
			req := resttest.PutRequest(t, patient(id, "Over", "male"))
			req.IfMatch = `W/"1"`
			return req
		}, 412, true},
		// An absent id is created; a hidden one cannot be, and is answered as a hidden read.
		{"update", func(t *testing.T, id string) *rest.Request {
			return resttest.PutRequest(t, patient(id, "Over", "male"))
		}, 404, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t, resttest.WithGuard(hidingGuard{ref: "Patient/p1"}))
			env.Put(t, patient("p1", "Hidden", "female"))
			before := resttest.Refs(env.Versions(t, "Patient", "p1"))
			status := func(id string) int {
				resp, err := env.Do(tc.req(t, id))
				if err != nil {
					return fhir.KindOf(err).Status()
				}
				return resp.Status
			}
			if got := status("p1"); got != tc.hidden {
				t.Errorf("hidden: status %d, want %d", got, tc.hidden)
			}
			if got := status("p9"); tc.absent && got != tc.hidden {
				t.Errorf("absent: status %d, the hidden one %d: the answers tell them apart", got, tc.hidden)
			}
			if after := resttest.Refs(env.Versions(t, "Patient", "p1")); !slices.Equal(after, before) {
				t.Errorf("the hidden resource changed: %v -> %v", before, after)
			}
		})
	}

	t.Run("a hidden match is no match", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t, resttest.WithGuard(hidingGuard{ref: "Patient/p1"}))
		env.Put(t, patientWith("p1", "Hidden", "h1"))
		req := createReq(patientWith("", "New", "h1"))
		req.IfNoneExist = "identifier=http://example.org/mrn|h1"
		resp := env.Must(t, req)
		resttest.WantStatus(t, resp, 201)
		if idOf(t, resp) == "p1" {
			t.Error("the create answered with the hidden resource")
		}
	})
}
