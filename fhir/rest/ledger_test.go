package rest_test

import (
	"slices"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// The ledger of an interaction: which patients each resource it let through is about, and what it
// refused. The audit trail writes one event per patient from it, so a resource missing there is an
// access nobody is told of.

func TestLedger(t *testing.T) {
	t.Parallel()

	// ledgerEnv stores Patient p1 and Observations o1 and o2 about them.
	ledgerEnv := func(t *testing.T, opts ...resttest.Option) *resttest.Env {
		t.Helper()
		env := resttest.New(t, opts...)
		env.Put(t, patient("p1", "One", "female"))
		env.Put(t, observation("o1", "Patient/p1"))
		env.Put(t, observation("o2", "Patient/p1"))
		return env
	}

	t.Run("a read notes the patients of what it returned", func(t *testing.T) {
		t.Parallel()
		env := ledgerEnv(t)
		led := rest.NewLedger()
		env.Must(t, &rest.Request{Interaction: rest.Read, Type: "Observation", ID: "o1", Ledger: led})
		if got := led.Patients("Observation/o1"); !slices.Equal(got, []string{"Patient/p1"}) {
			t.Errorf("patients %v, want [Patient/p1]", got)
		}
		if noted := led.Noted(); len(noted) != 1 || len(led.Refused()) != 0 {
			t.Errorf("noted %v, refused %v; want Observation/o1 alone", noted, led.Refused())
		}
	})

	t.Run("a refusal is recorded with its patients", func(t *testing.T) {
		t.Parallel()
		env := ledgerEnv(t, resttest.WithGuard(hidingGuard{ref: "Observation/o1"}))
		led := rest.NewLedger()
		err := env.Fail(t, &rest.Request{Interaction: rest.Read, Type: "Observation", ID: "o1", Ledger: led})
		resttest.WantError(t, err, 404, "not-found", "")
		refused := led.Refused()
		if len(refused) != 1 || refused[0].Ref != "Observation/o1" || !slices.Equal(refused[0].Patients, []string{"Patient/p1"}) ||
			fhir.KindOf(refused[0].Err) != fhir.KindNotFound {
			t.Errorf("refused %+v, want Observation/o1 of Patient/p1", refused)
		}
		if len(led.Noted()) != 0 {
			t.Errorf("noted %v", led.Noted())
		}
	})

	t.Run("a search notes what it matched and refuses what it left out", func(t *testing.T) {
		t.Parallel()
		env := ledgerEnv(t, resttest.WithGuard(hidingGuard{ref: "Observation/o1"}))
		led := rest.NewLedger()
		resp := env.Must(t, &rest.Request{Interaction: rest.SearchType, Type: "Observation", Params: query(t, "subject=Patient/p1"), Ledger: led})
		if got := resttest.DecodeBundle(t, resp.Body).Versions(t); !slices.Equal(got, []string{"Observation/o2/_history/1"}) {
			t.Errorf("found %v", got)
		}
		if _, ok := led.Noted()["Observation/o2"]; !ok {
			t.Errorf("noted %v, want Observation/o2", led.Noted())
		}
		if r := led.Refused(); len(r) != 1 || r[0].Ref != "Observation/o1" {
			t.Errorf("refused %+v, want Observation/o1", r)
		}
	})

	t.Run("a batch entry records into its own ledger and that of the Bundle", func(t *testing.T) {
		t.Parallel()
		env := ledgerEnv(t)
		led := rest.NewLedger()
		resp := env.Must(t, &rest.Request{Interaction: rest.Batch, Ledger: led,
			Body: []byte(bundle("batch", entry("GET", "Observation/o1", ""), entry("GET", "Observation/o2", "")))})
		for i, ref := range []string{"Observation/o1", "Observation/o2"} {
			if got := resp.Entries[i].Ledger.Patients(ref); !slices.Equal(got, []string{"Patient/p1"}) {
				t.Errorf("entry %d ledger: patients of %s %v", i, ref, got)
			}
			if got := led.Patients(ref); !slices.Equal(got, []string{"Patient/p1"}) {
				t.Errorf("Bundle ledger: patients of %s %v", ref, got)
			}
		}
		if _, ok := resp.Entries[0].Ledger.Noted()["Observation/o2"]; ok {
			t.Error("entry 0's ledger holds entry 1's read")
		}
	})

	t.Run("a nil ledger records nothing and answers nothing", func(t *testing.T) {
		t.Parallel()
		var led *rest.Ledger
		if led.Patients("Patient/p1") != nil || led.Noted() != nil || led.Refused() != nil {
			t.Error("a nil ledger answered")
		}
	})
}
