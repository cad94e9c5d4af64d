package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/auth/consent"
)

// BenchmarkSearchConsents0 and BenchmarkSearchConsents20: a practitioner searches a patient's 100
// Observations (one page of 50, total counted) over HTTP with a real token, the patient having no Consent
// or twenty active ones (deny other organisations, hide labels, refuse purposes, periods, nested
// permits), none of which hides anything from this practitioner, so both return the same page and the
// difference is the cost of evaluating the consents for every entry. The audit trail is discarded so
// that only the consent cost shows.
//
//	go test -run '^$' -bench 'SearchConsents' -benchtime 2000x ./gateway/
func BenchmarkSearchConsents0(b *testing.B) { benchConsentSearch(b, 0) }

func BenchmarkSearchConsents20(b *testing.B) { benchConsentSearch(b, 20) }

func benchConsentSearch(b *testing.B, consents int) {
	a := newAuthServer(b, authOptions{consentDefault: consent.Permit, denyStatus: 404, audit: &audit.Config{Sink: discardSink{}}})
	a.putPatient(b, "pat-bench")
	var entries []string
	for i := range 100 {
		entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Observation","status":"final",
			"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/pat-bench"},
			"effectiveDateTime":"2026-01-%02dT10:00:00Z","valueQuantity":{"value":%d,"unit":"/min"}},
			"request":{"method":"POST","url":"Observation"}}`, i%28+1, 60+i%40))
	}
	admin := a.mint(b, "user/*.cruds", "", "Practitioner/prac-house")
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	a.do(b, "POST", "", []byte(tx), "Authorization: Bearer "+admin).wantStatus(b, 200)
	for i := range consents {
		a.putConsent(b, fmt.Sprintf("c-bench-%d", i), "Patient/pat-bench", benchProvision(i))
	}
	tok := a.mint(b, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	path := "/Observation?patient=pat-bench&_count=50&_total=accurate"
	if r := a.do(b, "GET", path, nil, "Authorization: Bearer "+tok); r.status != 200 || len(refs(b, r.body, "match")) != 50 {
		b.Fatalf("setup: status %d, %d entries", r.status, len(refs(b, r.body, "match")))
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pipelineRead(b, client, a.base+path, tok)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "searches/s")
	b.ReportMetric(float64(b.N*50)/b.Elapsed().Seconds(), "entries/s")
}

// benchProvision is the i-th of the twenty consents: varied rules that never hide an Observation from Dr
// Martin treating the patient.
func benchProvision(i int) string {
	const role = `"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]}`
	switch i % 5 {
	case 0: // deny another organisation
		return fmt.Sprintf(`{"type":"permit","provision":[{"type":"deny","actor":[{%s,"reference":{"reference":"Organization/other-%d"}}]}]}`, role, i)
	case 1: // hide a label this data does not carry
		return `{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"ETH"}]}]}`
	case 2: // refuse payment purposes
		return `{"type":"permit","provision":[{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HPAYMT"}]}]}`
	case 3: // a deny whose period has ended
		return fmt.Sprintf(`{"type":"permit","provision":[{"type":"deny","period":{"start":"2020-01-01","end":"2020-12-31"},"actor":[{%s,"reference":{"reference":"Practitioner/prac-martin"}}]}]}`, role)
	default: // a nested permit for Dr Martin under a deny of a resource class he does not read
		return fmt.Sprintf(`{"type":"permit","provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"DocumentReference"}],"provision":[{"type":"permit","actor":[{%s,"reference":{"reference":"Practitioner/prac-martin"}}]}]}]}`, role)
	}
}
