package consent

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func policy(t testing.TB, id, provision string) *Policy {
	t.Helper()
	p, err := Parse([]byte(fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"patient":{"reference":"Patient/p"},"provision":%s}`, id, provision)))
	if err != nil || p == nil {
		t.Fatalf("parse %s: %v", id, err)
	}
	return p
}

const ircp = `"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]}`

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	insurer := policy(t, "insurer", `{"type":"permit","provision":[{"type":"deny","actor":[{`+ircp+`,"reference":{"reference":"Organization/ins"}}]}]}`)
	psy := policy(t, "psy", `{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}],
		"provision":[{"type":"permit","actor":[{`+ircp+`,"reference":{"reference":"Practitioner/gp"}}]}]}]}`)
	payment := policy(t, "pay", `{"type":"permit","provision":[{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HPAYMT"}]},
		{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"BTG"}]}]}`)
	treatOnly := policy(t, "treat", `{"type":"deny","provision":[{"type":"permit","purpose":[{"code":"TREAT"}]}]}`)
	dated := policy(t, "dated", `{"type":"permit","provision":[{"type":"deny","dataPeriod":{"start":"2020-01-01","end":"2020-12-31"}}]}`)
	classes := policy(t, "class", `{"type":"permit","provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}],
		"code":[{"coding":[{"system":"http://loinc.org","code":"1234-5"}]}]}]}`)
	expired := policy(t, "expired", `{"type":"deny","period":{"end":"2025-01-01"}}`)
	confidential := policy(t, "conf", `{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}]}`)
	orgOnly := policy(t, "org-only", `{"type":"deny","provision":[{"type":"permit","actor":[{`+ircp+`,"reference":{"reference":"Organization/ins"}}]}]}`)
	noChanges := policy(t, "no-changes", `{"type":"permit","provision":[{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"correct"}]}]}]}`)
	noDisclose := policy(t, "no-disclose", `{"type":"permit","provision":[{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"disclose"}]}]}]}`)
	req := func(mut func(*Request)) *Request {
		r := &Request{Actors: []string{"Practitioner/doc", "Organization/hosp"}, Purposes: []string{"TREAT"}, Action: "access",
			Resource: "Observation/1", Type: "Observation", Now: now}
		if mut != nil {
			mut(r)
		}
		return r
	}
	for _, tc := range []struct {
		name     string
		policies []*Policy
		req      *Request
		def      Decision
		btg      bool
		want     Decision
		policy   string
	}{
		{"no consent, opt-out", nil, req(nil), Permit, false, Permit, "default"},
		{"no consent, opt-in", nil, req(nil), Deny, false, Deny, "default"},
		{"insurer denied", []*Policy{insurer}, req(func(r *Request) { r.Actors = []string{"Practitioner/adv", "Organization/ins"} }), Permit, false, Deny, "Consent/insurer"},
		{"other organization permitted", []*Policy{insurer}, req(nil), Permit, false, Permit, "Consent/insurer"},
		{"PSY hidden", []*Policy{psy}, req(func(r *Request) { r.Labels = []string{"http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"} }), Permit, false, Deny, "Consent/psy"},
		{"PSY for the GP (nested twice)", []*Policy{psy}, req(func(r *Request) {
			r.Labels = []string{"http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"}
			r.Actors = []string{"Practitioner/gp"}
		}), Permit, false, Permit, "Consent/psy"},
		{"unlabelled data not affected by PSY rule", []*Policy{psy}, req(nil), Permit, false, Permit, "Consent/psy"},
		{"payment purpose denied", []*Policy{payment}, req(func(r *Request) { r.Purposes = []string{"HPAYMT"} }), Permit, false, Deny, "Consent/pay"},
		{"BTG explicitly refused", []*Policy{payment}, req(func(r *Request) { r.Purposes = []string{"BTG"} }), Permit, true, Deny, "Consent/pay"},
		{"BTG overrides a deny", []*Policy{insurer}, req(func(r *Request) { r.Actors = []string{"Organization/ins"}; r.Purposes = []string{"BTG"} }), Permit, true, PermitBreakTheGlass, "Consent/insurer"},
		{"ETREAT is-a TREAT", []*Policy{treatOnly}, req(func(r *Request) { r.Purposes = []string{"ETREAT"} }), Permit, false, Permit, "Consent/treat"},
		{"BTG is-a TREAT", []*Policy{treatOnly}, req(func(r *Request) { r.Purposes = []string{"BTG"} }), Permit, false, Permit, "Consent/treat"},
		{"HOPERAT not TREAT", []*Policy{treatOnly}, req(func(r *Request) { r.Purposes = []string{"HOPERAT"} }), Permit, false, Deny, "Consent/treat"},
		{"data period matches", []*Policy{dated}, req(func(r *Request) { r.DataFrom, r.DataTo, r.DataKnown = ms("2020-05-01"), ms("2020-05-02"), true }), Permit, false, Deny, "Consent/dated"},
		{"data period outside", []*Policy{dated}, req(func(r *Request) { r.DataFrom, r.DataTo, r.DataKnown = ms("2021-05-01"), ms("2021-05-02"), true }), Permit, false, Permit, "Consent/dated"},
		{"data period needs a date", []*Policy{dated}, req(nil), Permit, false, Permit, "Consent/dated"},
		{"class and code both match", []*Policy{classes}, req(func(r *Request) { r.Codes = []string{"http://loinc.org|1234-5"} }), Permit, false, Deny, "Consent/class"},
		{"class matches, code not", []*Policy{classes}, req(func(r *Request) { r.Codes = []string{"http://loinc.org|9"} }), Permit, false, Permit, "Consent/class"},
		{"expired consent does not apply", []*Policy{expired}, req(nil), Permit, false, Permit, "default"},
		{"confidentiality high-water: R covers N", []*Policy{confidential}, req(func(r *Request) { r.Labels = []string{"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N"} }), Permit, false, Deny, "Consent/conf"},
		{"confidentiality high-water: R does not cover V", []*Policy{confidential}, req(func(r *Request) { r.Labels = []string{"http://terminology.hl7.org/CodeSystem/v3-Confidentiality|V"} }), Permit, false, Permit, "Consent/conf"},
		{"deny wins over permit", []*Policy{treatOnly, insurer}, req(func(r *Request) { r.Actors = []string{"Organization/ins"} }), Permit, false, Deny, "Consent/insurer"},
		{"an unknown organisation is refused what an organisation is refused", []*Policy{insurer}, req(func(r *Request) { r.Actors, r.OrganizationUnknown = []string{"Practitioner/adv"}, true }), Permit, false, Deny, "Consent/insurer"},
		{"an unknown organisation is never permitted as one", []*Policy{orgOnly}, req(func(r *Request) { r.Actors, r.OrganizationUnknown = []string{"Practitioner/adv"}, true }), Permit, false, Deny, "Consent/org-only"},
		{"a known organisation not named", []*Policy{orgOnly}, req(nil), Permit, false, Deny, "Consent/org-only"},
		{"the named organisation", []*Policy{orgOnly}, req(func(r *Request) { r.Actors = []string{"Organization/ins"} }), Permit, false, Permit, "Consent/org-only"},
		{"reads: a correct-only refusal does not apply", []*Policy{noChanges}, req(nil), Permit, false, Permit, "Consent/no-changes"},
		{"changes: a correct-only refusal applies", []*Policy{noChanges}, req(func(r *Request) { r.Action = "correct" }), Permit, false, Deny, "Consent/no-changes"},
		{"creates are collect, not correct", []*Policy{noChanges}, req(func(r *Request) { r.Action = "collect" }), Permit, false, Permit, "Consent/no-changes"},
		{"a refusal of disclosure applies to reads", []*Policy{noDisclose}, req(nil), Permit, false, Deny, "Consent/no-disclose"},
		{"a refusal of disclosure does not apply to writes", []*Policy{noDisclose}, req(func(r *Request) { r.Action = "collect" }), Permit, false, Permit, "Consent/no-disclose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.policies, tc.req, tc.def, tc.btg)
			if got.Decision != tc.want || len(got.Policies) == 0 || got.Policies[0] != tc.policy {
				t.Fatalf("got %+v, want %s by %s", got, tc.want, tc.policy)
			}
		})
	}
}

func ms(d string) int64 {
	t, _ := time.Parse("2006-01-02", d)
	return t.UnixMilli()
}

func TestParseSkipsWhatDoesNotDecide(t *testing.T) {
	for _, body := range []string{
		`{"resourceType":"Consent","id":"a","status":"inactive","scope":{"coding":[{"code":"patient-privacy"}]},"provision":{"type":"deny"}}`,
		`{"resourceType":"Consent","id":"b","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"research"}]},"provision":{"type":"deny"}}`,
	} {
		if p, err := Parse([]byte(body)); p != nil || err != nil {
			t.Fatalf("%s: %v %v", body, p, err)
		}
	}
	if _, err := Parse([]byte(`{"resourceType":"Consent","id":"c","status":"active","scope":{"coding":[{"code":"patient-privacy"}]},"provision":{}}`)); err == nil {
		t.Fatal("a root provision without type was accepted")
	}
}

// BenchmarkDecide is the cost of one consent decision for a resource of a patient with a typical
// consent (a nested PSY rule with an exception), the cache warm.
func BenchmarkDecide(b *testing.B) {
	p := policy(b, "psy", `{"type":"permit","provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}],
		"provision":[{"type":"permit","actor":[{`+ircp+`,"reference":{"reference":"Practitioner/gp"}}]}]},
		{"type":"deny","actor":[{`+ircp+`,"reference":{"reference":"Organization/ins"}}]}]}`)
	r := &Request{Actors: []string{"Practitioner/doc", "Organization/hosp", "PractitionerRole/r1", "Device/app"}, Purposes: []string{"TREAT"},
		Action: "access", Resource: "Observation/1", Type: "Observation", Labels: []string{"http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"}, Now: time.Now()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Evaluate([]*Policy{p}, r, Permit, false)
	}
}

// TestSyncFollowsAnotherProcess: two engines over one shared store (a shared list of consents and write
// count). A consent written "through" one is applied by the other once it syncs, on its next request.
func TestSyncFollowsAnotherProcess(t *testing.T) {
	var shared [][]byte
	var writes uint64
	load := func(context.Context, string) ([][]byte, error) { return shared, nil }
	changes := func(context.Context) (uint64, error) { return writes, nil }
	a, b := NewEngine(load, Permit), NewEngine(load, Permit)
	a.Changes, b.Changes = changes, changes
	ctx := context.Background()
	decide := func(e *Engine) Decision {
		if err := e.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := e.Decide(ctx, "Patient/p", &Request{Actors: []string{"Organization/ins"}, Resource: "Patient/p", Type: "Patient", Now: time.Now()}, false)
		if err != nil {
			t.Fatal(err)
		}
		return r.Decision
	}
	if decide(b) != Permit {
		t.Fatal("no consent yet")
	}
	// Process A stores a denial of the insurer and invalidates its own cache; B only sees the count.
	shared = append(shared, []byte(`{"resourceType":"Consent","id":"c","status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"patient":{"reference":"Patient/p"},"provision":{"type":"permit","provision":[{"type":"deny","actor":[{`+ircp+`,"reference":{"reference":"Organization/ins"}}]}]}}`))
	a.ConsentWritten("Consent/c", "Patient/p")
	// Without the store's count moving, B has no way to know (the premise of the test).
	if r, _ := b.Decide(ctx, "Patient/p", &Request{Actors: []string{"Organization/ins"}, Resource: "Patient/p", Type: "Patient", Now: time.Now()}, false); r.Decision != Permit {
		t.Fatal("B reloaded without being told")
	}
	writes++
	if decide(b) != Deny {
		t.Fatal("B still applies its stale cache after syncing")
	}
	if decide(a) != Deny {
		t.Fatal("A does not apply its own write")
	}
}
