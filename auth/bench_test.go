package auth_test

import (
	"context"
	"testing"

	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/auth/scope"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
	"fhirgate/population"
)

// The cost of the access decision alone (no HTTP, no audit), on the demo population:
//
//	go test -run '^$' -bench Decision -benchmem ./auth/
//
// Read: Dr Martin reading Alice's Observation (her Consent applies: who he is and his organisation are
// looked at; his roles come from the cache). Write: the decision on his creating one for her (the
// patient's existence, her Consent, the scope). Each iteration is a new request's guard and new facts.

func benchAccess(b *testing.B) (*rest.Service, *auth.Access) {
	b.Helper()
	st, err := embedded.Open(embedded.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	v, err := validation.New(validation.Config{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost:8080/fhir"}, st, v)
	if err != nil {
		b.Fatal(err)
	}
	consents := auth.AttachConsent(svc, consent.Permit)
	for _, bundle := range population.Demo() {
		if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: bundle}); err != nil {
			b.Fatal(err)
		}
	}
	return svc, auth.NewAccess(svc.Engine(), auth.Options{Consent: consents, Actors: auth.NewActors(svc)})
}

var martin = &auth.Principal{Subject: "m", ClientID: "app", User: "Practitioner/prac-martin",
	PurposeOfUse: []string{"TREAT"}, Scopes: scope.Parse("user/*.cruds")}

func BenchmarkDecisionRead(b *testing.B) {
	svc, access := benchAccess(b)
	ctx := context.Background()
	v, err := svc.Store().Read(ctx, "Observation", "obs-alice-01")
	if err != nil {
		b.Fatal(err)
	}
	req := &rest.Request{Interaction: rest.Read, Type: "Observation", ID: "obs-alice-01"}
	for b.Loop() {
		if err := access.Guard(martin).Read(ctx, req, svc.Engine().CurrentFacts(ctx, v)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecisionWrite(b *testing.B) {
	svc, access := benchAccess(b)
	ctx := context.Background()
	body := []byte(`{"resourceType":"Observation","id":"new","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/pat-alice"},"valueQuantity":{"value":61,"unit":"kg"}}`)
	index, err := svc.IndexEntries("Observation", body)
	if err != nil {
		b.Fatal(err)
	}
	req := &rest.Request{Interaction: rest.Create, Type: "Observation"}
	for b.Loop() {
		ch := rest.Change{After: svc.Engine().WriteFacts(ctx, "Observation", "new", body, index)}
		if err := access.Guard(martin).Write(ctx, req, ch); err != nil {
			b.Fatal(err)
		}
	}
}
