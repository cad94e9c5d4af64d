package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

// TestStoreSinkGroupCommit: many concurrent requests' events are committed in groups, yet each Append
// answers for its own events only: every success is stored, chained once and searchable; an event whose
// id exists already fails alone, whatever group it shared.
func TestStoreSinkGroupCommit(t *testing.T) {
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, _ := validation.New(validation.Config{})
	svc, err := rest.New(rest.Config{BaseURL: "http://127.0.0.1/fhir"}, st, v)
	if err != nil {
		t.Fatal(err)
	}
	sink := NewStoreSink(st, svc)
	event := func(id, patient string) Record {
		return Record{ID: id, Body: []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q,
			"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},
			"action":"R","recorded":"2026-11-29T10:00:00Z","outcome":"0",
			"agent":[{"who":{"reference":"Practitioner/p1"},"requestor":true}],
			"source":{"observer":{"reference":"Device/fhirgate"}},
			"entity":[{"what":{"reference":%q}}]}`, id, patient))}
	}
	ctx := context.Background()
	if err := sink.Append(ctx, []Record{event("taken", "Patient/p0")}); err != nil {
		t.Fatal(err)
	}

	const requests = 200
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			recs := []Record{event(fmt.Sprintf("ev-%d-a", i), fmt.Sprintf("Patient/p%d", i))}
			if i%3 == 0 { // a request with two events (two patients)
				recs = append(recs, event(fmt.Sprintf("ev-%d-b", i), "Patient/shared"))
			}
			if i == 77 { // its second event reuses an id: this request fails, alone
				recs = append(recs, event("taken", "Patient/p77"))
			}
			errs[i] = sink.Append(ctx, recs)
		})
	}
	wg.Wait()

	stored := 1
	for i, err := range errs {
		if i == 77 {
			if err == nil {
				t.Fatal("an event reusing an existing id was stored")
			}
			if _, err := st.Read(ctx, "AuditEvent", "ev-77-a"); err == nil {
				t.Fatal("a failed request's other event was stored")
			}
			continue
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		stored++
		if _, err := st.Read(ctx, "AuditEvent", fmt.Sprintf("ev-%d-a", i)); err != nil {
			t.Fatalf("request %d answered but its event is not stored: %v", i, err)
		}
		if i%3 == 0 {
			stored++
		}
	}
	rep, err := store.VerifyChain(ctx, st, []string{"AuditEvent"}, nil)
	if err != nil || rep.Broken != nil {
		t.Fatalf("chain: %v %v", err, rep.Broken)
	}
	if rep.Records != stored {
		t.Fatalf("chain holds %d records, %d events were stored", rep.Records, stored)
	}
	got, err := svc.Engine().Find(ctx, "AuditEvent", map[string][]string{"entity": {"Patient/shared"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (requests + 2) / 3; len(got) != want {
		t.Fatalf("search finds %d events of the shared patient, want %d", len(got), want)
	}
}
