package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fhirgate/auth/consent"
)

// The consent rules of docs/access.md §3, end to end over HTTP with real signed tokens, on the demo population:
// Alice denies the insurer; Bob is opt-in with only Dr Martin permitted; Chloé hides PSY data from all but
// Dr House; David denies payment purposes and refuses break-the-glass.

func (a *authServer) get(t *testing.T, token, path string) result {
	t.Helper()
	return a.do(t, "GET", path, nil, "Authorization: Bearer "+token)
}

func (a *authServer) putConsent(t testing.TB, id, patient, body string) {
	t.Helper()
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	doc := fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
		"patient":{"reference":%q},"policy":[{"uri":"http://example.org/policy"}],"provision":%s}`, id, patient, body)
	r := a.do(t, "PUT", "/Consent/"+id, []byte(doc), "Authorization: Bearer "+admin)
	if r.status != 200 && r.status != 201 {
		t.Fatalf("PUT Consent/%s: %d %s", id, r.status, r.body)
	}
}

func (a *authServer) putPatient(t testing.TB, id string) {
	t.Helper()
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	r := a.do(t, "PUT", "/Patient/"+id, []byte(`{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Test"}]}`), "Authorization: Bearer "+admin)
	if r.status != 201 && r.status != 200 {
		t.Fatalf("PUT Patient/%s: %d", id, r.status)
	}
}

func wantConsent(t *testing.T, r result, decision, policy string) {
	t.Helper()
	if got := r.header.Get("X-Consent-Decision"); got != decision {
		t.Fatalf("X-Consent-Decision %q, want %q", got, decision)
	}
	if policy != "" && r.header.Get("X-Consent-Policy") != policy {
		t.Fatalf("X-Consent-Policy %q, want %q", r.header.Get("X-Consent-Policy"), policy)
	}
}

func TestConsentInsurerDenied(t *testing.T) {
	a := newAuthServer(t)
	adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")

	r := a.get(t, adviser, "/Patient/pat-alice")
	r.wantStatus(t, 404)
	if r.header.Get("X-Consent-Decision") != "" {
		t.Fatal("a hidden resource's refusal reveals a consent decision")
	}
	for _, p := range []string{"/Observation?patient=pat-alice", "/Patient/pat-alice/Observation", "/Patient?name=dupont"} {
		if got := refs(t, a.get(t, adviser, p).body, "match"); len(got) != 0 {
			t.Fatalf("%s leaks %v to the insurer", p, got)
		}
	}
	a.get(t, adviser, "/Patient/pat-alice/$everything").wantStatus(t, 404)
	// The insurer still sees patients who did not deny it.
	a.get(t, adviser, "/Patient/pat-chloe").wantStatus(t, 200)

	ok := a.get(t, house, "/Patient/pat-alice")
	ok.wantStatus(t, 200)
	wantConsent(t, ok, "permit", "Consent/consent-alice-1")
	if n := len(refs(t, a.get(t, house, "/Observation?patient=pat-alice&_count=100").body, "match")); n != 19 {
		t.Fatalf("Dr House sees %d of Alice's 19 Observations", n)
	}
}

func TestConsentOptInPermitsOnePractitioner(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: consent.Deny, denyStatus: 404})
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
	// Bob: root deny, nested permit for Dr Martin (the demo's opt-in consent).
	a.get(t, martin, "/Patient/pat-bob").wantStatus(t, 200)
	a.get(t, house, "/Patient/pat-bob").wantStatus(t, 404)
	// A patient without any consent: opt-in means nobody (but the patient) sees them.
	a.putPatient(t, "pat-new")
	a.get(t, house, "/Patient/pat-new").wantStatus(t, 404)
	a.putConsent(t, "c-new", "Patient/pat-new", `{"type":"deny","provision":[{"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/prac-house"}}]}]}`)
	r := a.get(t, house, "/Patient/pat-new")
	r.wantStatus(t, 200)
	wantConsent(t, r, "permit", "Consent/c-new")
	a.get(t, martin, "/Patient/pat-new").wantStatus(t, 404)
}

func TestConsentSensitiveLabel(t *testing.T) {
	a := newAuthServer(t)
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
	a.get(t, martin, "/Condition/cond-chloe-1").wantStatus(t, 404) // depression, labelled PSY
	a.get(t, martin, "/Observation/obs-chloe-12").wantStatus(t, 404)
	a.get(t, martin, "/Patient/pat-chloe").wantStatus(t, 200) // not labelled
	a.get(t, house, "/Condition/cond-chloe-1").wantStatus(t, 200)
	a.get(t, house, "/Observation/obs-chloe-12").wantStatus(t, 200)
	for _, ref := range refs(t, a.get(t, martin, "/Patient/pat-chloe/$everything?_count=500").body, "") {
		for _, psy := range []string{"Condition/cond-chloe-1", "Observation/obs-chloe-12", "Observation/obs-chloe-17", "Observation/obs-chloe-22", "Encounter/enc-chloe-2", "MedicationRequest/medreq-chloe-1"} {
			if ref == psy {
				t.Fatalf("$everything gives Dr Martin the PSY resource %s", ref)
			}
		}
	}
}

func TestConsentPurpose(t *testing.T) {
	a := newAuthServer(t)
	payer := a.mint(t, "user/*.rs", "", "Practitioner/prac-house", "HPAYMT")
	treat := a.mint(t, "user/*.rs", "", "Practitioner/prac-house", "TREAT")
	a.get(t, payer, "/Patient/pat-david").wantStatus(t, 404)
	a.get(t, treat, "/Patient/pat-david").wantStatus(t, 200)
	// HPAYMT does not harm patients who did not deny it.
	a.get(t, payer, "/Patient/pat-chloe").wantStatus(t, 200)
}

func TestConsentPeriods(t *testing.T) {
	a := newAuthServer(t)
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	actor := `"actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/prac-house"}}]`
	now := time.Now().UTC()
	for _, tc := range []struct {
		name, period string
		status       int
	}{
		{"ended", fmt.Sprintf(`{"start":"2000-01-01","end":"%s"}`, now.AddDate(0, 0, -2).Format("2006-01-02")), 200},
		{"not started", fmt.Sprintf(`{"start":"%s"}`, now.AddDate(0, 0, 2).Format("2006-01-02")), 200},
		{"current", fmt.Sprintf(`{"start":"%s","end":"%s"}`, now.AddDate(0, 0, -2).Format("2006-01-02"), now.AddDate(0, 0, 2).Format("2006-01-02")), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "pat-period-" + strings.ReplaceAll(tc.name, " ", "-")
			a.putPatient(t, id)
			a.putConsent(t, "c-"+id, "Patient/"+id, `{"type":"permit","provision":[{"type":"deny",`+actor+`,"period":`+tc.period+`}]}`)
			a.get(t, house, "/Patient/"+id).wantStatus(t, tc.status)
		})
	}
}

func TestConsentBreakTheGlass(t *testing.T) {
	a := newAuthServer(t)
	btg := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser", "BTG")
	etreat := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser", "ETREAT")
	r := a.get(t, btg, "/Patient/pat-alice")
	r.wantStatus(t, 200)
	wantConsent(t, r, "permit-break-glass", "Consent/consent-alice-1")
	a.get(t, etreat, "/Patient/pat-alice").wantStatus(t, 404) // ordinary emergency treatment overrides nothing
	// David's consent explicitly refuses break-the-glass.
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house", "BTG")
	a.get(t, house, "/Patient/pat-david").wantStatus(t, 404)
	// A patient's own token cannot break the glass of another's record: a patient sees only their own,
	// whatever the scope's prefix.
	a.get(t, a.mint(t, "user/*.rs", "", "Patient/pat-bob", "BTG"), "/Patient/pat-alice").wantStatus(t, 404)
}

func TestConsentRightOfAccess(t *testing.T) {
	a := newAuthServer(t)
	a.putPatient(t, "pat-private")
	a.putConsent(t, "c-private", "Patient/pat-private", `{"type":"deny"}`)
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	a.get(t, house, "/Patient/pat-private").wantStatus(t, 404)
	self := a.mint(t, "patient/*.rs", "pat-private", "Patient/pat-private")
	r := a.get(t, self, "/Patient/pat-private")
	r.wantStatus(t, 200)
	wantConsent(t, r, "not-applicable", "")
	if got := refs(t, a.get(t, self, "/Consent").body, "match"); len(got) != 1 || got[0] != "Consent/c-private" {
		t.Fatalf("the patient's own consents: %v", got)
	}
}

func TestConsentDenyWins(t *testing.T) {
	a := newAuthServer(t)
	a.putPatient(t, "pat-two")
	actor := `"actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/prac-house"}}]`
	a.putConsent(t, "c-two-permit", "Patient/pat-two", `{"type":"deny","provision":[{"type":"permit",`+actor+`}]}`)
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	a.get(t, house, "/Patient/pat-two").wantStatus(t, 200)
	a.putConsent(t, "c-two-deny", "Patient/pat-two", `{"type":"permit","provision":[{"type":"deny",`+actor+`}]}`)
	a.get(t, house, "/Patient/pat-two").wantStatus(t, 404)
}

func TestConsentRevocationAppliesAtOnce(t *testing.T) {
	a := newAuthServer(t)
	adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
	a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 404) // cached now
	// Alice revokes her consent (status inactive): the very next request is decided without it.
	patient := a.mint(t, "patient/Consent.cruds", "pat-alice", "Patient/pat-alice")
	cur := a.get(t, a.mint(t, "user/*.rs", "", "Practitioner/prac-house"), "/Consent/consent-alice-1")
	body := strings.Replace(string(cur.body), `"status":"active"`, `"status":"inactive"`, 1)
	r := a.do(t, "PUT", "/Consent/consent-alice-1", []byte(body), "Authorization: Bearer "+patient)
	r.wantStatus(t, 200)
	a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 200)
}

func TestConsentHiddenEntriesDoNotShowInPaging(t *testing.T) {
	a := newAuthServer(t)
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	all := refs(t, a.get(t, house, "/Observation?patient=pat-chloe&_count=500").body, "match")
	visible := refs(t, a.get(t, martin, "/Observation?patient=pat-chloe&_count=500").body, "match")
	if len(visible) != len(all)-3 { // obs-chloe-12, -17 and -22 are PSY
		t.Fatalf("Dr Martin sees %d of %d (3 hidden expected)", len(visible), len(all))
	}
	// Page through with _count=4: pages are full, the total counts only what is visible, and the pages
	// together are exactly the visible set.
	var seen []string
	next := "/Observation?patient=pat-chloe&_count=4"
	for page := 0; next != ""; page++ {
		r := a.get(t, martin, next)
		r.wantStatus(t, 200)
		m := r.json(t)
		if int(m["total"].(float64)) != len(visible) {
			t.Fatalf("total %v, want %d", m["total"], len(visible))
		}
		got := refs(t, r.body, "match")
		next = ""
		for _, l := range m["link"].([]any) {
			l := l.(map[string]any)
			if l["relation"] == "next" {
				next = strings.TrimPrefix(l["url"].(string), a.base)
			}
		}
		if next != "" && len(got) != 4 {
			t.Fatalf("page %d has %d entries, want a full page of 4", page, len(got))
		}
		seen = append(seen, got...)
	}
	if strings.Join(sorted(seen), ",") != strings.Join(visible, ",") {
		t.Fatalf("pages gave %v, want %v", seen, visible)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestConsentWritesAreValidated(t *testing.T) {
	a := newAuthServer(t)
	house := a.mintAs(t, adminClient, "system/*.cruds", "", "") // an administration client records consents
	bob := a.mint(t, "patient/Consent.cruds", "pat-bob", "Patient/pat-bob")
	base := `{"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"patient":{"reference":"Patient/pat-alice"}`
	for _, tc := range []struct {
		name, token, body string
		status            int
		expr              string
	}{
		{"root provision without type", house, base + `,"policy":[{"uri":"http://x"}],"provision":{"provision":[{"type":"deny"}]}}`, 422, "Consent.provision.type"},
		{"no policy", house, base + `,"provision":{"type":"deny"}}`, 400, "Consent"}, // R4's own ppc-1: a policy or a policy rule
		{"valid", house, base + `,"policy":[{"uri":"http://x"}],"provision":{"type":"permit"}}`, 201, ""},
		{"another patient's consent under a patient token", bob, base + `,"policy":[{"uri":"http://x"}],"provision":{"type":"permit"}}`, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, "POST", "/Consent", []byte(tc.body), "Authorization: Bearer "+tc.token)
			r.wantStatus(t, tc.status)
			if tc.expr != "" {
				if _, expr, _ := r.issue(t); expr != tc.expr {
					t.Fatalf("expression %q, want %q", expr, tc.expr)
				}
			}
		})
	}
}

// TestRoleChangeAppliesAtOnce: a practitioner's roles are cached between requests, and a role written
// (here: Dr Martin joining the insurer, whom Alice's consent refuses) applies on the very next request;
// ending it restores access.
func TestRoleChangeAppliesAtOnce(t *testing.T) {
	a := newAuthServer(t)
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	for range 2 { // the second read is served from the cache
		a.get(t, martin, "/Patient/pat-alice").wantStatus(t, 200)
	}
	role := `{"resourceType":"PractitionerRole","id":"role-martin-ins","active":true,
		"practitioner":{"reference":"Practitioner/prac-martin"},"organization":{"reference":"Organization/org-insurer"}}`
	if r := a.do(t, "PUT", "/PractitionerRole/role-martin-ins", []byte(role), "Authorization: Bearer "+admin); r.status != 201 {
		t.Fatalf("PUT PractitionerRole: %d %s", r.status, r.body)
	}
	a.get(t, martin, "/Patient/pat-alice").wantStatus(t, 404)
	if r := a.do(t, "DELETE", "/PractitionerRole/role-martin-ins", nil, "Authorization: Bearer "+admin); r.status != 200 && r.status != 204 {
		t.Fatalf("DELETE PractitionerRole: %d %s", r.status, r.body)
	}
	a.get(t, martin, "/Patient/pat-alice").wantStatus(t, 200)
}
