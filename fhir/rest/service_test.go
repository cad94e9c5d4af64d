package rest_test

import (
	"context"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/fhir/validation"
)

// The service as a whole: its construction, and what Do refuses before any interaction runs.

func TestNew(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		baseURL string
		store   rest.Store
		v       *validation.Validator
	}{
		{"no store", resttest.BaseURL, nil, v},
		{"no validator", resttest.BaseURL, env.Store, nil},
		{"no base URL", "", env.Store, v},
		{"a relative base URL", "/fhir", env.Store, v},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rest.New(rest.Config{BaseURL: tc.baseURL}, tc.store, tc.v); err == nil {
				t.Error("New accepted it")
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		svc, err := rest.New(rest.Config{BaseURL: "http://fhir.test/base/", DefaultCount: 5000}, env.Store, v)
		if err != nil {
			t.Fatal(err)
		}
		cfg := svc.Config()
		if cfg.BaseURL != "http://fhir.test/base" || cfg.MaxCount != 1000 || cfg.DefaultCount != 1000 ||
			cfg.MaxBundleEntries != 5000 || cfg.MaxIncludes != 10 || cfg.MaxIncluded != 5000 || cfg.MaxBatchResponse != 16<<20 ||
			cfg.Now == nil || cfg.NewID == nil {
			t.Errorf("config with defaults %+v", cfg)
		}
		if svc.Store() != env.Store || svc.Engine() == nil {
			t.Error("the accessors do not give the store and the engine")
		}
		if id := cfg.NewID(); !fhir.ValidID(id) || len(id) != 36 || id == cfg.NewID() {
			t.Errorf("default ids %q: want distinct UUIDs", id)
		}
	})
}

func TestDo(t *testing.T) {
	t.Parallel()

	t.Run("without a guard nothing is served", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		for _, req := range []*rest.Request{
			createReq(patient("", "X", "male")),
			{Interaction: rest.Read, Type: "Patient", ID: "p1"},
			{Interaction: rest.HistorySystem},
		} {
			_, err := env.Service.Do(context.Background(), nil, req)
			resttest.WantError(t, err, 403, "forbidden", "")
		}
		if vs := env.Versions(t, "", ""); len(vs) != 0 {
			t.Errorf("stored %v", resttest.Refs(vs))
		}
	})

	for _, tc := range []struct {
		name             string
		req              rest.Request
		status           int
		code, expression string
	}{
		{"capabilities are the gateway's", rest.Request{Interaction: rest.Capabilities}, 405, "not-supported", ""},
		{"an operation other than $everything", rest.Request{Interaction: rest.Operation, Type: "Patient", ID: "p1", Operation: "match"},
			405, "not-supported", ""},
		{"$everything of another type", rest.Request{Interaction: rest.Operation, Type: "Group", ID: "g1", Operation: "everything"},
			405, "not-supported", ""},
		{"an unknown interaction", rest.Request{Interaction: "frobnicate", Type: "Patient"}, 405, "not-supported", ""},
		{"a compartment of another type", rest.Request{Interaction: rest.SearchType, Type: "Observation", Compartment: "Encounter/e1"},
			400, "value", ""},
		{"a compartment with an invalid id", rest.Request{Interaction: rest.SearchType, Type: "Observation", Compartment: "Patient/a_b"},
			400, "value", ""},
		{"an unknown type", rest.Request{Interaction: rest.SearchType, Type: "Foo"}, 404, "not-supported", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			req := tc.req
			resttest.WantError(t, env.Fail(t, &req), tc.status, tc.code, tc.expression)
		})
	}
}

func TestSupports(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	for _, tc := range []struct {
		typ         string
		interaction rest.Interaction
		want        bool
	}{
		{"Patient", rest.Read, true},
		{"Patient", rest.Update, true},
		{"AuditEvent", rest.Create, true},
		{"AuditEvent", rest.Read, true},
		{"AuditEvent", rest.Update, false}, // the audit trail is append-only
		{"AuditEvent", rest.Patch, false},
		{"AuditEvent", rest.Delete, false},
		{"Foo", rest.Read, false},
		{"Patient", rest.Batch, false}, // not a type-level interaction
		{"Patient", rest.HistorySystem, false},
	} {
		if got := env.Service.Supports(tc.typ, tc.interaction); got != tc.want {
			t.Errorf("Supports(%s, %s) = %v, want %v", tc.typ, tc.interaction, got, tc.want)
		}
	}
}
