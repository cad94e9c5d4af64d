package rest_test

import (
	"strings"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// Prefer: return= (https://hl7.org/fhir/R4/http.html#ops): what a write answers with. The header itself
// is parsed by the gateway.

func TestPrefer(t *testing.T) {
	t.Parallel()

	// body checks what a write answered with.
	type body func(t *testing.T, resp *rest.Response)
	none := func(t *testing.T, resp *rest.Response) {
		if resp.Body != nil {
			t.Errorf("want no body, got %s", resp.Body)
		}
	}
	resource := func(typ string) body {
		return func(t *testing.T, resp *rest.Response) {
			if got := resttest.Str(t, resp.Body, "resourceType"); got != typ || resttest.Str(t, resp.Body, "meta.versionId") != resp.VersionID {
				t.Errorf("want the %s of version %s, got %s", typ, resp.VersionID, resp.Body)
			}
		}
	}
	outcome := func(says string) body {
		return func(t *testing.T, resp *rest.Response) {
			is := resttest.Issues(t, resp.Body)
			if is[0].Severity != "information" || !strings.Contains(is[0].Details.Text, says) {
				t.Errorf("want an informational outcome saying %q, got %s", says, resp.Body)
			}
		}
	}

	for _, tc := range []struct {
		name   string
		req    func(t *testing.T, env *resttest.Env) *rest.Request
		ret    rest.Return
		status int
		check  body
	}{
		{"create minimal", preferCreate, rest.ReturnMinimal, 201, none},
		{"create OperationOutcome", preferCreate, rest.ReturnOutcome, 201, outcome("created Patient/")},
		{"create representation", preferCreate, rest.ReturnRepresentation, 201, resource("Patient")},
		{"create by default", preferCreate, rest.ReturnDefault, 201, resource("Patient")},
		{"update minimal", preferUpdate, rest.ReturnMinimal, 200, none},
		{"update OperationOutcome", preferUpdate, rest.ReturnOutcome, 200, outcome("updated Patient/p1/_history/2")},
		{"update by default", preferUpdate, rest.ReturnDefault, 200, resource("Patient")},
		{"patch minimal", preferPatch, rest.ReturnMinimal, 200, none},
		{"patch OperationOutcome", preferPatch, rest.ReturnOutcome, 200, outcome("updated Patient/p1/_history/2")},
		{"patch by default", preferPatch, rest.ReturnDefault, 200, resource("Patient")},
		{"delete by default", preferDelete, rest.ReturnDefault, 204, none},
		{"delete representation", preferDelete, rest.ReturnRepresentation, 204, none}, // a deletion has no resource
		{"delete OperationOutcome", preferDelete, rest.ReturnOutcome, 200, outcome("deleted Patient/p1/_history/2")},
		{"delete of nothing OperationOutcome", preferDeleteAbsent, rest.ReturnOutcome, 200, outcome("nothing changed")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			req := tc.req(t, env)
			req.Return = tc.ret
			resp := env.Must(t, req)
			resttest.WantStatus(t, resp, tc.status)
			tc.check(t, resp)
			// The preference changes the answer, never the version it describes (a delete of nothing has none).
			if req.ID != "absent" {
				if resp.VersionID == "" || resp.LastModified.IsZero() {
					t.Errorf("version %q at %v: the answer must describe the version written", resp.VersionID, resp.LastModified)
				}
			}
			if tc.status == 201 && !strings.HasPrefix(resp.Location, resttest.BaseURL+"/Patient/") {
				t.Errorf("Location %q", resp.Location)
			}
		})
	}

	t.Run("an error is an error whatever the preference", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		req := createReq(patient("", "X", "x"))
		req.Return = rest.ReturnMinimal
		resttest.WantError(t, env.Fail(t, req), 400, "", "Patient.gender")
	})

	t.Run("the preference does not change what is stored", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		var stored []string
		for _, ret := range []rest.Return{rest.ReturnMinimal, rest.ReturnOutcome, rest.ReturnRepresentation} {
			req := createReq(patient("", "Same", "female"))
			req.Return = ret
			resp := env.Must(t, req)
			id := strings.Split(strings.TrimPrefix(resp.Location, resttest.BaseURL+"/Patient/"), "/")[0]
			v := env.Stored(t, "Patient", id)
			if v == nil {
				t.Fatalf("Location %q names nothing stored", resp.Location)
			}
			stored = append(stored, resttest.Str(t, v.Body, "name.0.family"))
		}
		if strings.Join(stored, ",") != "Same,Same,Same" {
			t.Errorf("stored %v", stored)
		}
	})
}

func preferCreate(t *testing.T, env *resttest.Env) *rest.Request {
	t.Helper()
	return createReq(patient("", "Pref", "other"))
}

func preferUpdate(t *testing.T, env *resttest.Env) *rest.Request {
	t.Helper()
	env.Put(t, patient("p1", "U", "male"))
	return resttest.PutRequest(t, patient("p1", "U2", "male"))
}

func preferPatch(t *testing.T, env *resttest.Env) *rest.Request {
	t.Helper()
	env.Put(t, patient("p1", "U", "male"))
	return &rest.Request{Interaction: rest.Patch, Type: "Patient", ID: "p1", ContentType: jsonPatch,
		Body: []byte(`[{"op":"replace","path":"/gender","value":"female"}]`)}
}

func preferDelete(t *testing.T, env *resttest.Env) *rest.Request {
	t.Helper()
	env.Put(t, patient("p1", "U", "male"))
	return &rest.Request{Interaction: rest.Delete, Type: "Patient", ID: "p1"}
}

func preferDeleteAbsent(t *testing.T, env *resttest.Env) *rest.Request {
	t.Helper()
	return &rest.Request{Interaction: rest.Delete, Type: "Patient", ID: "absent"}
}
