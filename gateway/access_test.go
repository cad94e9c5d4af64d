package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/auth/devissuer"
	"fhirgate/fhir/store"
	"fhirgate/population"
)

// The access decision (docs/adr/0005-access-decision.md), tried as an attacker would: every side door the issue of that name
// found, turned around, over HTTP with real signed tokens, on both engines. The demo population: Alice
// denies the insurer; Bob admits only Dr Martin; Chloé hides PSY data from all but Dr House.

// forEachEngine runs a test on the embedded engine and on Redis.
func forEachEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range []string{"embedded", "redis"} {
		t.Run(engine, func(t *testing.T) { fn(t, engine) })
	}
}

// versionOf returns the current version of a resource in the store (0 when absent), read past the API.
func (a *authServer) versionOf(t *testing.T, typ, id string) uint64 {
	t.Helper()
	v, err := a.store.Read(context.Background(), typ, id)
	if err == store.ErrNotFound {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if v.Deleted {
		return 0
	}
	return v.VersionID
}

// changes returns the store's write count of a type: a refused write leaves it as it was.
func (a *authServer) changes(t *testing.T, typ string) uint64 {
	t.Helper()
	n, err := a.store.Changes(context.Background(), typ)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

func txBundle(entries ...string) []byte {
	return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
}

const privacyConsent = `{"resourceType":"Consent",%s"status":"active",
	"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
	"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
	"patient":{"reference":"%s"},"policy":[{"uri":"http://example.org/policy"}],"provision":{"type":"%s"}}`

func consentBody(id, patient, typ string) []byte {
	idField := ""
	if id != "" {
		idField = `"id":"` + id + `",`
	}
	return []byte(sprintf(privacyConsent, idField, patient, typ))
}

// TestAccessConsentsWrittenOnlyByTheirPatient: a practitioner whom Bob's consent refuses cannot delete,
// replace or add to Bob's Consents in any form, and Bob's record stays hidden from him; nobody but the
// patient (or an administration client on their behalf) locks a patient's doctors out.
func TestAccessConsentsWrittenOnlyByTheirPatient(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house")
		martin := a.mint(t, "user/*.cruds", "", "Practitioner/prac-martin")
		backend := a.mint(t, "system/*.cruds", "", "")
		permitAll := consentBody("consent-bob-1", "Patient/pat-bob", "permit")
		before := a.versionOf(t, "Consent", "consent-bob-1")
		count := a.changes(t, "Consent")
		for _, tc := range []struct {
			name, token, method, path string
			body                      []byte
			headers                   []string
		}{
			{"conditional delete", house, "DELETE", "/Consent?patient=Patient/pat-bob", nil, nil},
			{"delete", house, "DELETE", "/Consent/consent-bob-1", nil, nil},
			{"update", house, "PUT", "/Consent/consent-bob-1", permitAll, nil},
			{"conditional update", house, "PUT", "/Consent?patient=Patient/pat-bob", consentBody("", "Patient/pat-bob", "permit"), nil},
			{"patch", house, "PATCH", "/Consent/consent-bob-1", []byte(`[{"op":"replace","path":"/status","value":"inactive"}]`), []string{"Content-Type: application/json-patch+json"}},
			{"create", house, "POST", "/Consent", consentBody("", "Patient/pat-bob", "permit"), nil},
			{"transaction entry", house, "POST", "", txBundle(`{"request":{"method":"DELETE","url":"Consent/consent-bob-1"}}`), nil},
			{"batch entry", house, "POST", "", []byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Consent?patient=Patient/pat-bob"}}]}`), nil},
			{"a deny-all for Alice by her own doctor", martin, "POST", "/Consent", consentBody("", "Patient/pat-alice", "deny"), nil},
			{"a deny-all for Alice by a backend", backend, "PUT", "/Consent/consent-alice-1", consentBody("consent-alice-1", "Patient/pat-alice", "deny"), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, tc.method, tc.path, tc.body, append([]string{bearer(tc.token)}, tc.headers...)...)
				if tc.name == "batch entry" {
					r.wantStatus(t, 200)
					if got := entryStatuses(t, r.body); len(got) != 1 || !strings.HasPrefix(got[0], "403") {
						t.Fatalf("batch entry: %v", got)
					}
					return
				}
				r.wantStatus(t, 403)
			})
		}
		if a.versionOf(t, "Consent", "consent-bob-1") != before || a.changes(t, "Consent") != count {
			t.Fatal("a refused write changed the Consents")
		}
		a.get(t, house, "/Patient/pat-bob").wantStatus(t, 404)
		a.get(t, house, "/Observation/obs-bob-01").wantStatus(t, 404)
		a.get(t, martin, "/Patient/pat-alice").wantStatus(t, 200)

		// The patient, and an administration client on their behalf, may.
		bob := a.mint(t, "patient/*.cruds", "pat-bob", "Patient/pat-bob")
		a.do(t, "POST", "/Consent", consentBody("", "Patient/pat-bob", "permit"), bearer(bob)).wantStatus(t, 201)
		admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
		a.do(t, "POST", "/Consent", consentBody("", "Patient/pat-bob", "permit"), bearer(admin)).wantStatus(t, 201)
		// But not for another patient.
		a.do(t, "POST", "/Consent", consentBody("", "Patient/pat-alice", "deny"), bearer(bob)).wantStatus(t, 403)
	})
}

// entryStatuses returns the response status of each entry of a batch-response or transaction-response.
func entryStatuses(t *testing.T, body []byte) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Response struct{ Status string } `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", body)
	}
	var out []string
	for _, e := range b.Entry {
		out = append(out, e.Response.Status)
	}
	return out
}

// TestAccessDirectoryWrittenOnlyByAdmins: the insurer's adviser cannot remove his own role to escape
// Alice's refusal of the insurer; nobody but an administration client writes who is who.
func TestAccessDirectoryWrittenOnlyByAdmins(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		adviser := a.mint(t, "user/*.cruds", "", "Practitioner/prac-adviser")
		count := a.changes(t, "PractitionerRole")
		a.do(t, "DELETE", "/PractitionerRole/role-adviser-1", nil, bearer(adviser)).wantStatus(t, 403)
		a.do(t, "DELETE", "/PractitionerRole?practitioner=Practitioner/prac-adviser", nil, bearer(adviser)).wantStatus(t, 403)
		a.do(t, "PATCH", "/PractitionerRole/role-adviser-1", []byte(`[{"op":"remove","path":"/organization"}]`),
			bearer(adviser), "Content-Type: application/json-patch+json").wantStatus(t, 403)
		role := []byte(`{"resourceType":"PractitionerRole","id":"role-adviser-1","active":false,"practitioner":{"reference":"Practitioner/prac-adviser"}}`)
		a.do(t, "PUT", "/PractitionerRole/role-adviser-1", role, bearer(adviser)).wantStatus(t, 403)
		for _, tok := range []string{a.mint(t, "system/*.cruds", "", ""), a.mint(t, "patient/*.cruds", "pat-alice", "Patient/pat-alice"),
			a.mintAs(t, auditorClient, "system/*.cruds", "", "")} {
			for _, typ := range []string{"Practitioner", "PractitionerRole", "Organization", "CareTeam", "HealthcareService", "Endpoint", "Group"} {
				a.do(t, "POST", "/"+typ, []byte(`{"resourceType":"`+typ+`"}`), bearer(tok)).wantStatus(t, 403)
			}
		}
		if a.changes(t, "PractitionerRole") != count {
			t.Fatal("a refused write changed the PractitionerRoles")
		}
		a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 404)
		admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
		r := a.do(t, "DELETE", "/PractitionerRole/role-adviser-1", nil, bearer(admin))
		if r.status != 200 && r.status != 204 {
			t.Fatalf("the administration client's delete: %d %s", r.status, r.body)
		}
	})
}

// TestAccessPatientConfinedWhateverTheScope: a patient who signs in with user/ (or system/) scopes reads
// her own compartment and nothing else.
func TestAccessPatientConfinedWhateverTheScope(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		for name, tok := range map[string]string{
			"user/*.rs with fhirUser":          a.mint(t, "user/*.rs", "", "Patient/pat-alice"),
			"system/*.rs with fhirUser":        a.mint(t, "system/*.rs", "", "Patient/pat-alice"),
			"user/*.rs with a patient context": a.mint(t, "user/*.rs", "pat-alice", ""),
		} {
			t.Run(name, func(t *testing.T) {
				a.get(t, tok, "/Patient/pat-alice").wantStatus(t, 200)
				a.get(t, tok, "/Patient/pat-bob").wantStatus(t, 404)
				a.get(t, tok, "/Observation/obs-bob-01").wantStatus(t, 404)
				a.get(t, tok, "/Patient/pat-bob/$everything").wantStatus(t, 404)
				for _, path := range []string{"/Patient?_count=100", "/Observation?_count=200", "/Condition?_count=100",
					"/?_type=Patient,Observation,Condition&_count=200", "/_history?_count=200", "/Observation/_history?_count=200",
					"/Patient/pat-bob/Observation", "/Encounter?_count=100&_include=Encounter:subject&_revinclude=Observation:encounter",
					"/Patient?_has:Observation:patient:_id=obs-bob-01"} {
					r := a.get(t, tok, path)
					r.wantStatus(t, 200)
					for _, ref := range refs(t, r.body, "") {
						if strings.Contains(ref, "bob") || strings.Contains(ref, "chloe") || strings.Contains(ref, "david") {
							t.Fatalf("%s returns %s", path, ref)
						}
					}
				}
				if got := refs(t, a.get(t, tok, "/Patient").body, "match"); !slices.Equal(got, []string{"Patient/pat-alice"}) {
					t.Fatalf("GET /Patient: %v", got)
				}
			})
		}
	})
}

// TestAccessPatientCannotPlantData: a patient with a write scope cannot write into another patient's
// record by naming herself somewhere in it.
func TestAccessPatientCannotPlantData(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		alice := a.mint(t, "patient/*.cruds", "pat-alice", "Patient/pat-alice")
		aliceUser := a.mint(t, "user/*.cruds", "", "Patient/pat-alice")
		cond := func(subject, asserter string) []byte {
			return []byte(`{"resourceType":"Condition","code":{"text":"planted"},"subject":{"reference":"` + subject +
				`"},"asserter":{"reference":"` + asserter + `"}}`)
		}
		count := a.changes(t, "Condition")
		for _, tok := range []string{alice, aliceUser} {
			a.do(t, "POST", "/Condition", cond("Patient/pat-bob", "Patient/pat-alice"), bearer(tok)).wantStatus(t, 403)
			a.do(t, "POST", "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-bob"},"performer":[{"reference":"Patient/pat-alice"}]}`),
				bearer(tok)).wantStatus(t, 403)
			a.do(t, "POST", "", txBundle(`{"resource":`+string(cond("Patient/pat-chloe", "Patient/pat-alice"))+`,"request":{"method":"POST","url":"Condition"}}`),
				bearer(tok)).wantStatus(t, 403)
		}
		if a.changes(t, "Condition") != count {
			t.Fatal("a refused write changed the Conditions")
		}
		// Her own, she may; then moving it into another record is refused.
		r := a.do(t, "POST", "/Condition", cond("Patient/pat-alice", "Patient/pat-alice"), bearer(alice))
		r.wantStatus(t, 201)
		id := jstr(r.json(t), "id")
		moved := cond("Patient/pat-bob", "Patient/pat-alice")
		moved = []byte(strings.Replace(string(moved), `{"resourceType":"Condition",`, `{"resourceType":"Condition","id":"`+id+`",`, 1))
		a.do(t, "PUT", "/Condition/"+id, moved, bearer(alice)).wantStatus(t, 403)
		if a.versionOf(t, "Condition", id) != 1 {
			t.Fatal("the refused update changed the Condition")
		}
	})
}

// TestAccessRefusedWritesChangeNothing: the practitioner Bob's consent refuses gets, for a delete, update
// or patch of Bob's data, the answer for a resource that does not exist, and nothing changes.
func TestAccessRefusedWritesChangeNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house")
		obs := func(id string) []byte {
			return []byte(`{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"overwritten"},"subject":{"reference":"Patient/pat-bob"}}`)
		}
		patch := []byte(`[{"op":"replace","path":"/status","value":"entered-in-error"}]`)
		for _, tc := range []struct {
			name, method, hidden, missing string
			body                          func(id string) []byte
			headers                       []string
		}{
			{"delete", "DELETE", "/Observation/obs-bob-01", "/Observation/obs-nobody", nil, nil},
			{"update", "PUT", "/Observation/obs-bob-01", "/Observation/obs-nobody", obs, nil},
			{"patch", "PATCH", "/Observation/obs-bob-01", "/Observation/obs-nobody", func(string) []byte { return patch },
				[]string{"Content-Type: application/json-patch+json"}},
			{"update with If-Match", "PUT", "/Observation/obs-bob-01", "/Observation/obs-nobody", obs, []string{`If-Match: W/"1"`}},
			{"delete with If-Match", "DELETE", "/Observation/obs-bob-01", "/Observation/obs-nobody", nil, []string{`If-Match: W/"1"`}},
			{"delete, Prefer: return=OperationOutcome", "DELETE", "/Observation/obs-bob-01", "/Observation/obs-nobody", nil, []string{"Prefer: return=OperationOutcome"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				do := func(path string) result {
					var body []byte
					if tc.body != nil {
						body = tc.body(path[strings.LastIndex(path, "/")+1:])
					}
					return a.do(t, tc.method, path, body, append([]string{bearer(house), "X-Request-Id: same"}, tc.headers...)...)
				}
				h, m := do(tc.hidden), do(tc.missing)
				hb := strings.ReplaceAll(string(h.body), "obs-bob-01", "obs-nobody")
				if h.status != m.status || hb != string(m.body) {
					t.Fatalf("hidden: %d %s\nmissing: %d %s", h.status, h.body, m.status, m.body)
				}
				if a.versionOf(t, "Observation", "obs-bob-01") != 1 {
					t.Fatal("Bob's Observation changed")
				}
			})
		}
		// The hidden Condition of Chloé cannot be overwritten by Dr Martin, and the answer does not say it
		// exists.
		martin := a.mint(t, "user/*.cruds", "", "Practitioner/prac-martin")
		body := []byte(`{"resourceType":"Condition","id":"cond-chloe-1","code":{"text":"x"},"subject":{"reference":"Patient/pat-chloe"}}`)
		a.do(t, "PUT", "/Condition/cond-chloe-1", body, bearer(martin)).wantStatus(t, 404)
		if a.versionOf(t, "Condition", "cond-chloe-1") != 1 {
			t.Fatal("Chloé's hidden Condition changed")
		}
	})
}

// TestAccessConditionalFormsRevealNothing: Chloé's PSY Condition, hidden from Dr Martin, and Bob's whole
// record, hidden from Dr House, cannot be found, counted or referenced through any conditional form:
// the answers are byte for byte those of a server where that data does not exist (the same requests, in
// the same order, on two servers with stopped clocks and counter ids; only the ids named in
// X-Audit-Event, random in production, are compared by number).
func TestAccessConditionalFormsRevealNothing(t *testing.T) {
	fixed := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	chloeDepression := `http://snomed.info/sct|35489007`
	bobINS := "urn:oid:1.2.250.1.213.1.4.8|" + insOf("1580913055123")
	obsWith := func(subject, ref string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"note"},"subject":{"reference":"` + subject +
			`"},"focus":[{"reference":"` + ref + `"}]}`
	}
	conditionFor := func(patient string) []byte {
		return []byte(`{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"35489007"}],"text":"depression"},"subject":{"reference":"` + patient + `"}}`)
	}
	for _, world := range []struct {
		name    string
		without func(typ, id string, res map[string]any) bool
		user    string
		reqs    []struct{ method, path, body, header string }
	}{
		{name: "Chloé's PSY Condition, for Dr Martin",
			without: func(typ, id string, _ map[string]any) bool { return typ == "Condition" && id == "cond-chloe-1" },
			user:    "Practitioner/prac-martin",
			reqs: []struct{ method, path, body, header string }{
				{"GET", "/Condition/cond-chloe-1", "", ""},
				{"GET", "/Condition/cond-chloe-1/_history/1", "", ""},
				{"GET", "/Condition/cond-chloe-1/_history", "", ""},
				{"GET", "/Condition?patient=pat-chloe&code=" + chloeDepression, "", ""},
				{"GET", "/Condition?patient=pat-chloe&_summary=count", "", ""},
				{"GET", "/Condition?code=" + chloeDepression + "&_total=accurate", "", ""},
				{"GET", "/Patient?_has:Condition:patient:code=" + chloeDepression, "", ""},
				{"GET", "/Patient/pat-chloe/Condition", "", ""},
				{"GET", "/Patient/pat-chloe/$everything?_type=Condition", "", ""},
				{"POST", "/Condition", string(conditionFor("Patient/pat-chloe")), "If-None-Exist: patient=pat-chloe&code=" + chloeDepression},
				{"PUT", "/Condition?patient=pat-chloe&code=" + chloeDepression, string(conditionFor("Patient/pat-chloe")), ""},
				{"PATCH", "/Condition?patient=pat-chloe&code=" + chloeDepression, `[{"op":"replace","path":"/code/text","value":"x"}]`, "Content-Type: application/json-patch+json"},
				{"DELETE", "/Condition?patient=pat-chloe&code=" + chloeDepression, "", ""},
				{"DELETE", "/Condition/cond-chloe-1", "", ""},
				{"POST", "", string(txBundle(`{"resource":` + obsWith("Patient/pat-chloe", "Condition?patient=pat-chloe&code="+chloeDepression) + `,"request":{"method":"POST","url":"Observation"}}`)), ""},
				{"POST", "", string(txBundle(`{"resource":` + string(conditionFor("Patient/pat-chloe")) + `,"request":{"method":"POST","url":"Condition","ifNoneExist":"patient=pat-chloe&code=` + chloeDepression + `"}}`)), ""},
				{"POST", "", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Condition?patient=pat-chloe&code=` + chloeDepression + `"}},{"request":{"method":"DELETE","url":"Condition?patient=pat-chloe&code=` + chloeDepression + `"}}]}`, ""},
			}},
		{name: "Bob's record, for Dr House",
			without: func(typ, id string, res map[string]any) bool { return strings.Contains(id, "bob") },
			user:    "Practitioner/prac-house",
			reqs: []struct{ method, path, body, header string }{
				{"GET", "/Patient/pat-bob", "", ""},
				{"GET", "/Patient?identifier=" + bobINS, "", ""},
				{"GET", "/Patient?identifier=" + bobINS + "&_summary=count", "", ""},
				{"GET", "/Observation?subject.identifier=" + bobINS, "", ""},
				{"GET", "/Patient/pat-bob/$everything", "", ""},
				{"GET", "/Observation?patient=pat-bob&_summary=count", "", ""},
				{"POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"` + insOf("1580913055123") + `"}]}`, "If-None-Exist: identifier=" + bobINS},
				{"POST", "", string(txBundle(`{"resource":` + obsWith("Patient?identifier="+bobINS, "Patient?identifier="+bobINS) + `,"request":{"method":"POST","url":"Observation"}}`)), ""},
				{"PUT", "/Observation?_id=obs-bob-01", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-bob"}}`, ""},
				{"POST", "/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-bob"}}`, ""},
				{"PUT", "/Observation/obs-bob-01", `{"resourceType":"Observation","id":"obs-bob-01","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-bob"}}`, ""},
				{"PATCH", "/Observation/obs-bob-01", `[{"op":"replace","path":"/status","value":"cancelled"}]`, "Content-Type: application/json-patch+json"},
				{"DELETE", "/Observation/obs-bob-01", "", ""},
				{"DELETE", "/Observation?patient=pat-bob", "", ""},
				{"POST", "/Binary", `{"resourceType":"Binary","contentType":"text/plain","securityContext":{"reference":"Observation/obs-bob-01"},"data":"aGk="}`, ""},
				{"POST", "/Provenance", `{"resourceType":"Provenance","target":[{"reference":"Observation/obs-bob-01"}],"recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/prac-house"}}]}`, ""},
			}},
	} {
		t.Run(world.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine string) {
				with := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine, fixed: fixed})
				without := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine, fixed: fixed,
					demo: demoWithout(t, world.without)})
				tw := with.mint(t, "user/*.cruds", "", world.user)
				to := without.mint(t, "user/*.cruds", "", world.user)
				for i, rq := range world.reqs {
					h := []string{"X-Request-Id: req-" + strconv.Itoa(i)}
					if rq.header != "" {
						h = append(h, rq.header)
					}
					var body []byte
					if rq.body != "" {
						body = []byte(rq.body)
					}
					rw := with.do(t, rq.method, rq.path, body, append(h, bearer(tw))...)
					ro := without.do(t, rq.method, rq.path, body, append(h, bearer(to))...)
					sameAnswer(t, rq.method+" "+rq.path, rw, ro, with.base, without.base)
				}
			})
		})
	}
}

// insOf returns a demo NIR with its control key (as the demo population writes it).
func insOf(nir string) string {
	n, _ := strconv.ParseUint(nir, 10, 64)
	return nir + sprintf("%02d", 97-n%97)
}

// sameAnswer fails unless two responses are the same bytes: status, body (the servers' base URLs
// aside) and headers (Date aside; X-Audit-Event by the number of events it names).
func sameAnswer(t *testing.T, what string, a, b result, baseA, baseB string) {
	t.Helper()
	ab := strings.ReplaceAll(string(a.body), baseA, "<base>")
	bb := strings.ReplaceAll(string(b.body), baseB, "<base>")
	if a.status != b.status || ab != bb {
		t.Fatalf("%s:\n with the data:    %d %s\n without the data: %d %s", what, a.status, ab, b.status, bb)
	}
	ha, hb := headerLines(a.header, baseA), headerLines(b.header, baseB)
	if !slices.Equal(ha, hb) {
		t.Fatalf("%s: headers differ:\n with the data:    %v\n without the data: %v", what, ha, hb)
	}
}

func headerLines(h http.Header, base string) []string {
	var out []string
	for k, vs := range h {
		switch k {
		case "Date":
			continue
		case "X-Audit-Event":
			out = append(out, k+": "+strconv.Itoa(len(strings.Split(vs[0], ",")))+" event(s)")
			continue
		}
		for _, v := range vs {
			out = append(out, k+": "+strings.ReplaceAll(v, base, "<base>"))
		}
	}
	sort.Strings(out)
	return out
}

// demoWithout returns the demo population without the resources drop selects (by type, id and content);
// the other entries are kept byte for byte.
func demoWithout(t *testing.T, drop func(typ, id string, res map[string]any) bool) [][]byte {
	t.Helper()
	var out [][]byte
	for _, b := range population.Demo() {
		var bundle struct {
			ResourceType string            `json:"resourceType"`
			Type         string            `json:"type"`
			Entry        []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatal(err)
		}
		keep := []json.RawMessage{} // an empty transaction still runs, so that both servers make as many ids
		for _, e := range bundle.Entry {
			var en struct {
				Resource map[string]any `json:"resource"`
			}
			if err := json.Unmarshal(e, &en); err != nil {
				t.Fatal(err)
			}
			typ, _ := en.Resource["resourceType"].(string)
			id, _ := en.Resource["id"].(string)
			if !drop(typ, id, en.Resource) {
				keep = append(keep, e)
			}
		}
		bundle.Entry = keep
		nb, err := json.Marshal(bundle)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nb)
	}
	return out
}

// TestAccessGovernedResources: resources outside the compartment that carry a patient's data are
// governed as that data — a Binary by its securityContext, a Provenance by its targets, a stored Bundle
// by every patient whose data it holds — for reads, searches and writes.
func TestAccessGovernedResources(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		martin := a.mint(t, "user/*.cruds", "", "Practitioner/prac-martin") // Bob admits him
		house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house")   // Bob refuses him
		alice := a.mint(t, "patient/*.cruds", "pat-alice", "Patient/pat-alice")
		bob := a.mint(t, "patient/*.cruds", "pat-bob", "Patient/pat-bob")
		create := func(tok, path, body string) string {
			t.Helper()
			r := a.do(t, "POST", path, []byte(body), bearer(tok))
			r.wantStatus(t, 201)
			return jstr(r.json(t), "id")
		}
		binary := create(martin, "/Binary", `{"resourceType":"Binary","contentType":"text/plain","securityContext":{"reference":"Observation/obs-bob-01"},"data":"Ym9iJ3Mgc2Nhbg=="}`)
		open := create(martin, "/Binary", `{"resourceType":"Binary","contentType":"text/plain","data":"cHVibGlj"}`)
		prov := create(martin, "/Provenance", `{"resourceType":"Provenance","target":[{"reference":"Observation/obs-bob-01"}],"recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/prac-martin"}}]}`)
		bundle := create(martin, "/Bundle", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Observation","id":"x1","status":"final","code":{"text":"a"},"subject":{"reference":"Patient/pat-alice"}}},{"fullUrl":"urn:uuid:2","resource":{"resourceType":"Observation","id":"x2","status":"final","code":{"text":"b"},"subject":{"reference":"Patient/pat-bob"}}}]}`)
		for _, tc := range []struct {
			who, token string
			sees       map[string]bool
		}{
			{"Dr Martin", martin, map[string]bool{binary: true, open: true, prov: true, bundle: true}},
			{"Dr House", house, map[string]bool{open: true}},
			{"Alice", alice, map[string]bool{open: true}},
			{"Bob", bob, map[string]bool{binary: true, open: true, prov: true}},
		} {
			t.Run(tc.who, func(t *testing.T) {
				for path, id := range map[string]string{"/Binary/" + binary: binary, "/Binary/" + open: open, "/Provenance/" + prov: prov, "/Bundle/" + bundle: bundle} {
					want := 404
					if tc.sees[id] {
						want = 200
					}
					a.get(t, tc.token, path).wantStatus(t, want)
				}
				for _, search := range []string{"/Binary?_count=100", "/Provenance?_count=100", "/Bundle?_count=100", "/Observation?_id=obs-bob-01&_revinclude=Provenance:target"} {
					r := a.get(t, tc.token, search)
					r.wantStatus(t, 200)
					for _, ref := range refs(t, r.body, "") {
						_, id, _ := strings.Cut(ref, "/")
						if (ref == "Binary/"+binary || ref == "Provenance/"+prov || ref == "Bundle/"+bundle) && !tc.sees[id] {
							t.Fatalf("%s lists %s", search, ref)
						}
					}
				}
			})
		}
		// Writing what would be governed by data the writer may not see is answered as if that data did
		// not exist.
		count := a.changes(t, "Binary")
		r := a.do(t, "POST", "/Binary", []byte(`{"resourceType":"Binary","contentType":"text/plain","securityContext":{"reference":"Observation/obs-bob-01"},"data":"aGk="}`), bearer(house))
		m := a.do(t, "POST", "/Binary", []byte(`{"resourceType":"Binary","contentType":"text/plain","securityContext":{"reference":"Observation/obs-nobody"},"data":"aGk="}`), bearer(house))
		r.wantStatus(t, 404)
		m.wantStatus(t, 404)
		if strings.ReplaceAll(string(r.body), "obs-bob-01", "obs-nobody") != string(m.body) {
			t.Fatalf("hidden: %s\nmissing: %s", r.body, m.body)
		}
		a.do(t, "POST", "/Binary", []byte(`{"resourceType":"Binary","contentType":"text/plain","securityContext":{"reference":"Observation/obs-bob-01"},"data":"aGk="}`), bearer(alice)).wantStatus(t, 404)
		if a.changes(t, "Binary") != count {
			t.Fatal("a refused Binary was stored")
		}
		a.do(t, "DELETE", "/Binary/"+binary, nil, bearer(house)).wantStatus(t, 204)
		if a.versionOf(t, "Binary", binary) != 1 {
			t.Fatal("the refused delete removed the Binary")
		}
	})
}

// TestAccessNoticesProtected: the notice the server sent Alice of a break-the-glass access cannot be
// deleted or rewritten by the professional who broke the glass (nor by anyone); Alice may mark it read,
// and change nothing else.
func TestAccessNoticesProtected(t *testing.T) {
	forEachEngine(t, testNoticesProtected)
}

func testNoticesProtected(t *testing.T, engine string) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, notify: &audit.NotifyConfig{}, engine: engine})
	btg := a.mint(t, "user/*.cruds", "", "Practitioner/prac-adviser", "BTG")
	a.get(t, btg, "/Patient/pat-alice").wantStatus(t, 200)
	vs := notices(t, a, "Patient/pat-alice", audit.NoticeBreakTheGlass)
	if len(vs) != 1 {
		t.Fatalf("%d break-the-glass notices", len(vs))
	}
	id := vs[0].ID
	path := "/Communication/" + id
	cur := a.get(t, btg, path)
	cur.wantStatus(t, 200)
	read := strings.Replace(string(cur.body), `"status":"completed"`, `"status":"completed","received":"2026-12-06T10:00:00Z"`, 1)
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	alice := a.mint(t, "patient/*.cruds", "pat-alice", "Patient/pat-alice")
	for _, tc := range []struct {
		name, token, method string
		body                []byte
		headers             []string
	}{
		{"delete by the professional", btg, "DELETE", nil, nil},
		{"conditional delete by the professional", btg, "DELETE", nil, nil},
		{"marked read by the professional", btg, "PUT", []byte(read), nil},
		{"rewritten by the professional", btg, "PATCH", []byte(`[{"op":"replace","path":"/payload/0/contentString","value":"nothing happened"}]`), []string{"Content-Type: application/json-patch+json"}},
		{"delete by an administration client", admin, "DELETE", nil, nil},
		{"delete by the patient", alice, "DELETE", nil, nil},
		{"rewritten by the patient", alice, "PUT", []byte(strings.Replace(read, "Emergency", "Nothing", 1)), nil},
		{"a forged notice", btg, "POST", []byte(strings.Replace(strings.Replace(string(cur.body), `"id":"`+id+`",`, "", 1), "Emergency", "Routine", 1)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			switch {
			case strings.HasPrefix(tc.name, "conditional"):
				p = "/Communication?_id=" + id
			case tc.method == "POST":
				p = "/Communication"
			}
			a.do(t, tc.method, p, tc.body, append([]string{bearer(tc.token)}, tc.headers...)...).wantStatus(t, 403)
			if a.versionOf(t, "Communication", id) != 1 {
				t.Fatal("the notice changed")
			}
		})
	}
	a.do(t, "PUT", path, []byte(read), bearer(alice)).wantStatus(t, 200)
	if a.versionOf(t, "Communication", id) != 2 {
		t.Fatal("Alice could not mark her notice read")
	}
}

// TestAccessRelatedPerson: a RelatedPerson user sees and writes the record of the patient their
// RelatedPerson links to (as that patient's consent allows), records Consents for them, and nothing of
// anyone else; they cannot move their own link to another patient.
func TestAccessRelatedPerson(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
		link := `{"resourceType":"RelatedPerson","id":"rp-alice","active":true,"patient":{"reference":"Patient/pat-alice"},"name":[{"family":"Dupont","given":["Marc"]}]}`
		a.do(t, "PUT", "/RelatedPerson/rp-alice", []byte(link), bearer(admin)).wantStatus(t, 201)
		rp := a.mint(t, "user/*.cruds", "", "RelatedPerson/rp-alice")
		a.get(t, rp, "/Patient/pat-alice").wantStatus(t, 200)
		a.get(t, rp, "/Observation/obs-alice-01").wantStatus(t, 200)
		a.get(t, rp, "/Patient/pat-chloe").wantStatus(t, 404)
		if got := refs(t, a.get(t, rp, "/Patient?_count=100").body, "match"); !slices.Equal(got, []string{"Patient/pat-alice"}) {
			t.Fatalf("GET /Patient: %v", got)
		}
		a.do(t, "POST", "/Consent", consentBody("", "Patient/pat-alice", "permit"), bearer(rp)).wantStatus(t, 201)
		a.do(t, "POST", "/Consent", consentBody("", "Patient/pat-chloe", "deny"), bearer(rp)).wantStatus(t, 403)
		a.do(t, "PUT", "/RelatedPerson/rp-alice", []byte(strings.Replace(link, "pat-alice", "pat-chloe", 1)), bearer(rp)).wantStatus(t, 403)
		a.get(t, rp, "/Patient/pat-chloe").wantStatus(t, 404)
		// No AuditEvents: they are the patient's alone.
		a.get(t, rp, "/AuditEvent?patient=Patient/pat-alice").wantStatus(t, 403)
	})
}

// TestAccessOrganisationInDoubt: a professional whose organisation cannot be established (no
// organization claim, no PractitionerRole) is refused what a patient refuses an organisation, and only
// that; the token's claim places them.
func TestAccessOrganisationInDoubt(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		nobody := a.mint(t, "user/*.rs", "", "Practitioner/prac-nowhere")
		a.get(t, nobody, "/Patient/pat-alice").wantStatus(t, 404) // Alice refuses the insurer: he might be its
		a.get(t, nobody, "/Patient/pat-chloe").wantStatus(t, 200) // Chloé refuses no organisation
		tok, err := a.issuer.Token(devissuer.TokenRequest{ClientID: "matrix-app", Scope: "user/*.rs", FHIRUser: "Practitioner/prac-nowhere",
			Organization: "Organization/org-hopital-nord", Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		a.get(t, tok, "/Patient/pat-alice").wantStatus(t, 200)
		// A backend is placed by its client: an organisation's refusal does not reach it by doubt.
		a.get(t, a.mint(t, "system/*.rs", "", ""), "/Patient/pat-alice").wantStatus(t, 200)
	})
}
