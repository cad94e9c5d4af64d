package gateway

// The patient's access history and the audit trail's guarantees (docs/audit.md §4, §6, §7): patients read
// the events about their own data, newest first, and nobody else's; auditors read everything; the search
// parameters of docs/audit.md §6 work; reading the trail is itself recorded; AuditEvents cannot be changed
// through the API, and events sent by other systems join the hash chain.

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/store"
)

// auditEntry is what the history tests read of an AuditEvent in a search Bundle.
type auditEntry struct {
	ID       string
	Recorded string
	Subtype  string
	Outcome  string
	Patients []string // entity[patient]
	Data     []string // the other entity references (data, refused, consents)
	Agents   []string // agent.who.reference
	Raw      json.RawMessage
}

// auditSearch runs an AuditEvent search and returns its matches in the Bundle's order (one page; the
// searches here ask for _count=100).
func (a *authServer) auditSearch(t *testing.T, token, query string) []auditEntry {
	t.Helper()
	path := "/AuditEvent"
	if query != "" {
		path += "?" + query
	}
	r := a.get(t, token, path)
	r.wantStatus(t, 200)
	var b struct {
		ResourceType string                      `json:"resourceType"`
		Link         []struct{ Relation string } `json:"link"`
		Entry        []struct {
			Resource json.RawMessage       `json:"resource"`
			Search   struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.ResourceType != "Bundle" {
		t.Fatalf("GET %s: not a Bundle: %s", path, r.body)
	}
	for _, l := range b.Link {
		if l.Relation == "next" {
			t.Fatalf("GET %s: more than one page; ask for a larger _count", path)
		}
	}
	var out []auditEntry
	for _, e := range b.Entry {
		if e.Search.Mode != "match" {
			continue
		}
		var ev jobj
		if err := json.Unmarshal(e.Resource, &ev); err != nil {
			t.Fatal(err)
		}
		ae := auditEntry{ID: jstr(ev, "id"), Recorded: jstr(ev, "recorded"), Subtype: jstr(ev, "subtype", 0, "code"),
			Outcome: jstr(ev, "outcome"), Raw: e.Resource}
		for _, en := range jlist(ev["entity"]) {
			ref := jstr(en, "what", "reference")
			if ref == "" {
				continue
			}
			if jstr(en, "role", "code") == "1" && jstr(en, "type", "code") == "1" {
				ae.Patients = append(ae.Patients, ref)
			} else {
				ae.Data = append(ae.Data, ref)
			}
		}
		for _, ag := range jlist(ev["agent"]) {
			if ref := jstr(ag, "who", "reference"); ref != "" {
				ae.Agents = append(ae.Agents, ref)
			}
		}
		out = append(out, ae)
	}
	return out
}

func auditIDs(es []auditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// auditRefs returns the ids of the AuditEvents a response names in X-Audit-Event.
func auditRefs(t *testing.T, r result) []string {
	t.Helper()
	var out []string
	for _, ref := range strings.Split(r.header.Get("X-Audit-Event"), ",") {
		ref = strings.TrimSpace(ref)
		if !strings.HasPrefix(ref, "AuditEvent/") {
			t.Fatalf("X-Audit-Event %q", r.header.Get("X-Audit-Event"))
		}
		out = append(out, strings.TrimPrefix(ref, "AuditEvent/"))
	}
	return out
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestAuditPatientHistory: a practitioner reads Alice's data (and one of Chloé's resources); Alice sees
// exactly those accesses, newest first; Chloé sees none of them; auditors see all, and can search.
func TestAuditPatientHistory(t *testing.T) {
	// The trail's clock moves on a millisecond at every event, so that `recorded` orders the accesses.
	start := time.Now().UTC().Truncate(time.Millisecond)
	clock := steppingClock(start, time.Millisecond)
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, auditClock: clock})
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	alice := a.mint(t, "patient/AuditEvent.rs", "pat-alice", "Patient/pat-alice")
	chloe := a.mint(t, "patient/AuditEvent.rs", "pat-chloe", "Patient/pat-chloe")
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")

	type access struct{ path, patient, data string }
	accesses := []access{
		{"/Patient/pat-alice", "Patient/pat-alice", "Patient/pat-alice/_history/1"},
		{"/Observation/obs-alice-01", "Patient/pat-alice", "Observation/obs-alice-01/_history/1"},
		{"/Observation/obs-chloe-01", "Patient/pat-chloe", "Observation/obs-chloe-01/_history/1"},
		{"/Condition/cond-alice-1", "Patient/pat-alice", "Condition/cond-alice-1/_history/1"},
		{"/MedicationRequest/medreq-alice-1", "Patient/pat-alice", "MedicationRequest/medreq-alice-1/_history/1"},
	}
	var aliceEvents, chloeEvents []string // in access order
	eventData := map[string]string{}
	for _, ac := range accesses {
		r := a.get(t, house, ac.path)
		r.wantStatus(t, 200)
		ids := auditRefs(t, r)
		if len(ids) != 1 {
			t.Fatalf("GET %s: %d AuditEvents, want 1", ac.path, len(ids))
		}
		eventData[ids[0]] = ac.data
		if ac.patient == "Patient/pat-alice" {
			aliceEvents = append(aliceEvents, ids[0])
		} else {
			chloeEvents = append(chloeEvents, ids[0])
		}
	}
	between := clock() // after the practitioner's reads, before any read of the trail

	t.Run("Alice sees exactly the accesses to her data, newest first", func(t *testing.T) {
		got := a.auditSearch(t, alice, "patient=Patient/pat-alice&_count=100")
		if !slices.Equal(auditIDs(got), reversed(aliceEvents)) {
			t.Fatalf("Alice's history %v, want %v (the %d accesses to her data, newest first)", auditIDs(got), reversed(aliceEvents), len(aliceEvents))
		}
		for i, e := range got {
			if !slices.Equal(e.Patients, []string{"Patient/pat-alice"}) {
				t.Errorf("event %s: patient entities %v", e.ID, e.Patients)
			}
			if !slices.Contains(e.Data, eventData[e.ID]) {
				t.Errorf("event %s: entities %v do not name %s", e.ID, e.Data, eventData[e.ID])
			}
			if strings.Contains(string(e.Raw), "chloe") {
				t.Errorf("event %s in Alice's history concerns Chloé: %s", e.ID, e.Raw)
			}
			if !slices.Contains(e.Agents, "Practitioner/prac-house") {
				t.Errorf("event %s does not say who accessed: agents %v", e.ID, e.Agents)
			}
			if i > 0 && e.Recorded > got[i-1].Recorded {
				t.Errorf("not newest first: %s (%s) after %s (%s)", e.ID, e.Recorded, got[i-1].ID, got[i-1].Recorded)
			}
		}
	})

	t.Run("reading the history is itself audited", func(t *testing.T) {
		r := a.get(t, alice, "/AuditEvent?patient=Patient/pat-alice&_count=100")
		r.wantStatus(t, 200)
		own := auditRefs(t, r)
		got := a.auditSearch(t, alice, "patient=Patient/pat-alice&_count=100")
		ids := auditIDs(got)
		for _, id := range own {
			if !slices.Contains(ids, id) {
				t.Fatalf("Alice's reading of her history (AuditEvent/%s) is not in it: %v", id, ids)
			}
		}
		if got[0].Subtype != "search-type" || !slices.Contains(got[0].Agents, "Patient/pat-alice") {
			t.Errorf("the newest event is not Alice's search: subtype %s, agents %v", got[0].Subtype, got[0].Agents)
		}
		// The auditor's reads are recorded too.
		before := len(a.auditSearch(t, auditor, "_count=100"))
		after := a.auditSearch(t, auditor, "_count=100")
		if len(after) <= before {
			t.Fatalf("the auditor's search added no event (%d then %d)", before, len(after))
		}
	})

	t.Run("Chloé sees none of Alice's events", func(t *testing.T) {
		if got := a.auditSearch(t, chloe, "patient=Patient/pat-alice&_count=100"); len(got) != 0 {
			t.Fatalf("Chloé's token sees %d of Alice's events: %v", len(got), auditIDs(got))
		}
		mine := a.auditSearch(t, chloe, "_count=100")
		for _, e := range mine {
			// (Her own search for Alice's events is in it, naming pat-alice in its query: that event is
			// about Chloé's act, not about Alice's data.)
			aboutAlice := slices.Contains(aliceEvents, e.ID) || slices.Contains(e.Patients, "Patient/pat-alice")
			for _, d := range e.Data {
				aboutAlice = aboutAlice || strings.Contains(d, "alice")
			}
			if aboutAlice {
				t.Fatalf("Chloé's own history holds an event about Alice: %s", e.Raw)
			}
		}
		if !slices.Contains(auditIDs(mine), chloeEvents[0]) {
			t.Fatalf("Chloé's history %v lacks the read of her Observation (%s)", auditIDs(mine), chloeEvents[0])
		}
		// Nor can she read one of Alice's events directly.
		if c := a.get(t, chloe, "/AuditEvent/"+aliceEvents[0]).status; c != 404 && c != 403 {
			t.Fatalf("Chloé reads one of Alice's AuditEvents: %d", c)
		}
	})

	t.Run("no AuditEvent scope, no AuditEvents", func(t *testing.T) {
		noScope := a.mint(t, "user/Patient.rs user/Observation.rs", "", "Practitioner/prac-house")
		for _, p := range []string{"/AuditEvent", "/AuditEvent?patient=Patient/pat-alice", "/AuditEvent/" + aliceEvents[0]} {
			r := a.get(t, noScope, p)
			r.wantStatus(t, 403)
			if code, _, _ := r.issue(t); code != "forbidden" {
				t.Fatalf("GET %s: issue code %q", p, code)
			}
		}
		// A patient token with other scopes neither.
		r := a.get(t, a.mint(t, "patient/Observation.rs", "pat-alice", "Patient/pat-alice"), "/AuditEvent?patient=Patient/pat-alice")
		r.wantStatus(t, 403)
	})

	t.Run("the insurer cannot read Alice's access history", func(t *testing.T) {
		// AuditEvents are read only by the patient they concern and by auditors (ADR 0005), whatever the
		// scopes: prac-adviser, whom Alice's consent denies, may not learn from her trail which of her
		// resources exist, nor read the record of his own refusal.
		adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
		r := a.get(t, adviser, "/Patient/pat-alice")
		r.wantStatus(t, 404)
		// Not even the event his own refused read names.
		if len(auditRefs(t, r)) == 0 {
			t.Fatal("the refused read names no AuditEvent")
		}
		for _, id := range auditRefs(t, r) {
			if c := a.get(t, adviser, "/AuditEvent/"+id).status; c != 403 && c != 404 {
				t.Fatalf("the adviser reads AuditEvent/%s, named by his refused read: %d", id, c)
			}
			a.get(t, adviser, "/AuditEvent?_id="+id).wantStatus(t, 403)
		}
		a.get(t, adviser, "/AuditEvent?patient=Patient/pat-alice&_count=100").wantStatus(t, 403)
		a.get(t, adviser, "/AuditEvent/"+aliceEvents[1]).wantStatus(t, 403)
		a.get(t, adviser, "/_history?_type=AuditEvent").wantStatus(t, 403)
		// Not through a system search or an include either.
		r = a.get(t, adviser, "/?_type=Patient,AuditEvent")
		r.wantStatus(t, 403)
		r = a.get(t, a.mint(t, "user/*.rs", "", "Practitioner/prac-house"), "/Patient?_id=pat-alice&_revinclude=AuditEvent:patient")
		r.wantStatus(t, 200)
		if got := refs(t, r.body, "include"); len(got) != 0 {
			t.Fatalf("a practitioner includes AuditEvents: %v", got)
		}
	})

	t.Run("the auditor sees all", func(t *testing.T) {
		ids := auditIDs(a.auditSearch(t, auditor, "_count=100"))
		for _, id := range append(slices.Clone(aliceEvents), chloeEvents...) {
			if !slices.Contains(ids, id) {
				t.Fatalf("the auditor does not see AuditEvent/%s: %v", id, ids)
			}
		}
	})

	t.Run("search parameters", func(t *testing.T) {
		all := append(slices.Clone(aliceEvents), chloeEvents...)
		only := func(es []auditEntry) []string { // the practitioner's read events among the results, in order
			var out []string
			for _, id := range auditIDs(es) {
				if slices.Contains(all, id) {
					out = append(out, id)
				}
			}
			return out
		}
		newestFirst := reversed([]string{aliceEvents[0], aliceEvents[1], chloeEvents[0], aliceEvents[2], aliceEvents[3]})
		q := func(s string) string { return s + "&_count=100" }
		inst := func(t time.Time) string { return url.QueryEscape(t.Format("2006-01-02T15:04:05.000Z07:00")) }

		for _, tc := range []struct {
			name, query string
			want        []string // exactly these among the practitioner's read events, in this order
			before      func(t *testing.T)
			check       func(t *testing.T, es []auditEntry)
		}{
			{name: "date ge the start", query: "date=ge" + inst(start.Add(-time.Second)), want: newestFirst},
			{name: "date lt the start", query: "date=lt" + inst(start.Add(-time.Second)), want: nil},
			{name: "date le between", query: "date=le" + inst(between), want: newestFirst,
				check: func(t *testing.T, es []auditEntry) {
					for _, e := range es {
						rec, err := time.Parse(time.RFC3339Nano, e.Recorded)
						if err != nil || rec.After(between) {
							t.Errorf("date=le%s returned %s recorded %s", between.Format(time.RFC3339Nano), e.ID, e.Recorded)
						}
					}
				}},
			{name: "date gt between", query: "date=gt" + inst(between), want: nil},
			{name: "agent", query: "agent=Practitioner/prac-house", want: newestFirst,
				check: func(t *testing.T, es []auditEntry) {
					for _, e := range es {
						if !slices.Contains(e.Agents, "Practitioner/prac-house") {
							t.Errorf("agent=Practitioner/prac-house returned %s with agents %v", e.ID, e.Agents)
						}
					}
				}},
			{name: "agent of nobody", query: "agent=Practitioner/prac-martin", want: nil},
			{name: "entity, unversioned", query: "entity=Observation/obs-alice-01", want: []string{aliceEvents[1]}},
			{name: "entity, versioned", query: "entity=Observation/obs-alice-01/_history/1", want: []string{aliceEvents[1]}},
			{name: "entity, the patient", query: "entity=Patient/pat-chloe", want: chloeEvents},
			{name: "type", query: "type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest", want: newestFirst},
			{name: "subtype read", query: "subtype=http://hl7.org/fhir/restful-interaction|read", want: newestFirst,
				check: func(t *testing.T, es []auditEntry) {
					for _, e := range es {
						if e.Subtype != "read" {
							t.Errorf("subtype=read returned a %s event", e.Subtype)
						}
					}
				}},
			{name: "subtype search-type", query: "subtype=search-type", want: nil,
				before: func(t *testing.T) { a.get(t, auditor, "/AuditEvent?_count=1").wantStatus(t, 200) }, // one search at least
				check: func(t *testing.T, es []auditEntry) {
					if len(es) == 0 {
						t.Error("no search-type event (the trail's own searches)")
					}
					for _, e := range es {
						if e.Subtype != "search-type" {
							t.Errorf("subtype=search-type returned a %s event", e.Subtype)
						}
					}
				}},
			{name: "outcome success", query: "outcome=0&patient=Patient/pat-alice&subtype=read", want: reversed(aliceEvents)},
			{name: "outcome failure", query: "outcome=4", want: nil,
				check: func(t *testing.T, es []auditEntry) {
					for _, e := range es {
						if e.Outcome != "4" {
							t.Errorf("outcome=4 returned outcome %s", e.Outcome)
						}
					}
				}},
			{name: "_sort=-date", query: "_sort=-date&subtype=read", want: newestFirst},
			{name: "_sort=date", query: "_sort=date&subtype=read", want: reversed(newestFirst)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.before != nil {
					tc.before(t)
				}
				es := a.auditSearch(t, auditor, q(tc.query))
				if got := only(es); !slices.Equal(nonNil(got), nonNil(tc.want)) {
					t.Fatalf("AuditEvent?%s: the practitioner's reads %v, want %v", tc.query, got, tc.want)
				}
				if tc.check != nil {
					tc.check(t, es)
				}
			})
		}
		// A refusal shows among the failures.
		adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
		refused := auditRefs(t, a.get(t, adviser, "/Observation/obs-alice-02"))
		if got := auditIDs(a.auditSearch(t, auditor, "outcome=4&_count=100")); !slices.Contains(got, refused[0]) {
			t.Fatalf("outcome=4 does not find the consent refusal AuditEvent/%s: %v", refused[0], got)
		}
		if got := auditIDs(a.auditSearch(t, auditor, "outcome=0&_count=100")); slices.Contains(got, refused[0]) {
			t.Fatalf("outcome=0 finds the consent refusal AuditEvent/%s", refused[0])
		}
	})
}

// TestAuditImmutable: AuditEvents cannot be updated, patched or deleted through the API, whatever the
// scopes; the CapabilityStatement says so; an AuditEvent sent by another system is accepted and chained.
func TestAuditImmutable(t *testing.T) {
	a := newAuthServer(t)
	god := a.mint(t, "system/*.cruds", "", "")
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")
	house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house")
	r := a.get(t, house, "/Patient/pat-alice")
	id := auditRefs(t, r)[0]
	cur := a.get(t, auditor, "/AuditEvent/"+id)
	cur.wantStatus(t, 200)
	changed := []byte(strings.Replace(string(cur.body), `"outcome":"0"`, `"outcome":"4"`, 1))

	for _, tok := range []struct{ name, token string }{{"system/*.cruds", god}, {"user/*.cruds", house}} {
		for _, tc := range []struct {
			name, method, path string
			body               []byte
			headers            []string
		}{
			{"update", "PUT", "/AuditEvent/" + id, changed, nil},
			{"update as create", "PUT", "/AuditEvent/new-one", []byte(strings.Replace(string(changed), id, "new-one", 1)), nil},
			{"patch", "PATCH", "/AuditEvent/" + id, []byte(`[{"op":"replace","path":"/outcome","value":"4"}]`), []string{"Content-Type: application/json-patch+json"}},
			{"delete", "DELETE", "/AuditEvent/" + id, nil, nil},
			{"conditional delete", "DELETE", "/AuditEvent?_id=" + id, nil, nil},
			{"conditional update", "PUT", "/AuditEvent?_id=" + id, changed, nil},
		} {
			t.Run(tok.name+" "+tc.name, func(t *testing.T) {
				h := append([]string{"Authorization: Bearer " + tok.token}, tc.headers...)
				r := a.do(t, tc.method, tc.path, tc.body, h...)
				if r.status != 405 {
					t.Fatalf("%s %s: %d, want 405: %s", tc.method, tc.path, r.status, r.body)
				}
				r.issue(t)
			})
		}
	}
	t.Run("transaction entries", func(t *testing.T) {
		for _, entry := range []string{
			`{"request":{"method":"DELETE","url":"AuditEvent/` + id + `"}}`,
			`{"resource":` + string(changed) + `,"request":{"method":"PUT","url":"AuditEvent/` + id + `"}}`,
		} {
			r := a.do(t, "POST", "", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[`+entry+`]}`), "Authorization: Bearer "+god)
			if r.status != 405 {
				t.Fatalf("a transaction changing an AuditEvent: %d %s", r.status, r.body)
			}
		}
	})
	// The event is untouched.
	after := a.get(t, auditor, "/AuditEvent/"+id)
	after.wantStatus(t, 200)
	if string(after.body) != string(cur.body) {
		t.Fatalf("the AuditEvent changed:\n%s\n%s", cur.body, after.body)
	}
	a.get(t, auditor, "/AuditEvent/"+id+"/_history").wantStatus(t, 200)

	t.Run("CapabilityStatement", func(t *testing.T) {
		r := a.do(t, "GET", "/metadata", nil)
		r.wantStatus(t, 200)
		var cs struct {
			Rest []struct {
				Resource []struct {
					Type              string                  `json:"type"`
					Interaction       []struct{ Code string } `json:"interaction"`
					UpdateCreate      bool                    `json:"updateCreate"`
					ConditionalUpdate bool                    `json:"conditionalUpdate"`
					ConditionalDelete string                  `json:"conditionalDelete"`
				} `json:"resource"`
			} `json:"rest"`
		}
		if err := json.Unmarshal(r.body, &cs); err != nil || len(cs.Rest) == 0 {
			t.Fatalf("CapabilityStatement: %v", err)
		}
		found := false
		for _, res := range cs.Rest[0].Resource {
			if res.Type != "AuditEvent" {
				continue
			}
			found = true
			var codes []string
			for _, i := range res.Interaction {
				codes = append(codes, i.Code)
			}
			for _, bad := range []string{"update", "patch", "delete"} {
				if slices.Contains(codes, bad) {
					t.Errorf("the CapabilityStatement lists %s for AuditEvent: %v", bad, codes)
				}
			}
			for _, good := range []string{"read", "search-type", "create"} {
				if !slices.Contains(codes, good) {
					t.Errorf("the CapabilityStatement does not list %s for AuditEvent: %v", good, codes)
				}
			}
			// An honest CapabilityStatement claims no conditional update or delete, and no
			// update-as-create, for a type that is never updated or deleted.
			if res.UpdateCreate || res.ConditionalUpdate || (res.ConditionalDelete != "" && res.ConditionalDelete != "not-supported") {
				t.Errorf("the CapabilityStatement's AuditEvent entry claims updateCreate=%v conditionalUpdate=%v conditionalDelete=%q, while update and delete answer 405",
					res.UpdateCreate, res.ConditionalUpdate, res.ConditionalDelete)
			}
		}
		if !found {
			t.Fatal("no AuditEvent in the CapabilityStatement")
		}
	})

	t.Run("clients do not submit AuditEvents", func(t *testing.T) {
		// Whatever the scopes, the trail holds only what the server observed: an event a client posts is
		// refused, and nothing joins the chain but the record of that refusal.
		ctx := context.Background()
		before, err := store.VerifyChain(ctx, a.store, []string{"AuditEvent"}, nil)
		if err != nil || before.Broken != nil {
			t.Fatalf("chain before: %v %v", err, before.Broken)
		}
		ev := `{"resourceType":"AuditEvent",
			"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},
			"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],
			"action":"R","recorded":"2026-01-02T03:04:05Z","outcome":"0",
			"agent":[{"who":{"reference":"Practitioner/prac-martin"},"requestor":true}],
			"source":{"observer":{"display":"other EHR"}},
			"entity":[{"what":{"reference":"Patient/pat-alice"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}`
		for _, tok := range []string{
			a.mint(t, "system/AuditEvent.c", "", ""),
			a.mintAs(t, adminClient, "system/*.cruds", "", ""),
			a.mintAs(t, auditorClient, "system/*.cruds", "", ""),
			a.mint(t, "patient/*.cruds", "pat-bob", "Patient/pat-bob"),
			a.mint(t, "user/*.cruds", "", "Practitioner/prac-martin"),
		} {
			a.do(t, "POST", "/AuditEvent", []byte(ev), "Authorization: Bearer "+tok).wantStatus(t, 403)
			entry := `{"resource":` + ev + `,"request":{"method":"POST","url":"AuditEvent"}}`
			a.do(t, "POST", "", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[`+entry+`]}`), "Authorization: Bearer "+tok).wantStatus(t, 403)
		}
		after, err := store.VerifyChain(ctx, a.store, []string{"AuditEvent"}, nil)
		if err != nil || after.Broken != nil {
			t.Fatalf("chain after: %v %v", err, after.Broken)
		}
		if after.Records != before.Records+10 { // one event per refused request
			t.Fatalf("chain of %d records after 10 refused posts, %d before", after.Records, before.Records)
		}
		alice := a.mint(t, "patient/AuditEvent.rs", "pat-alice", "Patient/pat-alice")
		for _, e := range a.auditSearch(t, alice, "patient=Patient/pat-alice&_count=100") {
			if strings.Contains(strings.Join(e.Agents, " "), "prac-martin") {
				t.Fatalf("Alice's history shows an access by Dr Martin that a client posted: %+v", e)
			}
		}
	})
}

// TestAuditReportedBySourceClient: an --audit-source-clients client's event is recorded as reported by
// that client — tagged, the client as observer, the server's clock as recorded — chained, and shown in the
// patient's history as such; the same client cannot slip one into a transaction, and cannot read the
// trail.
func TestAuditReportedBySourceClient(t *testing.T) {
	a := newAuthServer(t)
	source := a.mintAs(t, sourceClient, "system/AuditEvent.c", "", "")
	ev := `{"resourceType":"AuditEvent","id":"chosen-by-client","meta":{"tag":[{"system":"https://fhirgate.dev/CodeSystem/audit-origin","code":"observed"}]},
		"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},
		"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],
		"action":"R","recorded":"2020-01-02T03:04:05Z","outcome":"0",
		"agent":[{"who":{"reference":"Practitioner/prac-martin"},"requestor":true}],
		"source":{"site":"other-ehr","observer":{"reference":"Device/fhirgate","display":"fhirgate"}},
		"entity":[{"what":{"reference":"Patient/pat-alice"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}`
	before := time.Now().Add(-time.Second)
	r := a.do(t, "POST", "/AuditEvent", []byte(ev), "Authorization: Bearer "+source)
	r.wantStatus(t, 201)
	loc := r.header.Get("Location")
	id := loc[strings.Index(loc, "/AuditEvent/")+len("/AuditEvent/"):]
	id, _, _ = strings.Cut(id, "/")
	if id == "chosen-by-client" {
		t.Fatal("the client chose the event's id")
	}
	alice := a.mint(t, "patient/AuditEvent.rs", "pat-alice", "Patient/pat-alice")
	var got jobj
	for _, e := range a.auditSearch(t, alice, "patient=Patient/pat-alice&_count=100") {
		if e.ID == id {
			mustJSON(t, e.Raw, &got)
		}
	}
	if got == nil {
		t.Fatal("Alice does not see the event reported about her")
	}
	if jstr(got, "source", "observer", "identifier", "value") != sourceClient || jstr(got, "source", "observer", "reference") != "" {
		t.Fatalf("the observer is not the reporting client: %v", got["source"])
	}
	tags, _ := jat(got, "meta", "tag").([]any)
	if len(tags) != 1 || jstr(tags[0], "code") != "reported" {
		t.Fatalf("tags %v: want only the reported tag", tags)
	}
	rec, err := time.Parse(time.RFC3339Nano, jstr(got, "recorded"))
	if err != nil || rec.Before(before) || jstr(got, "period", "start") != "2020-01-02T03:04:05Z" {
		t.Fatalf("recorded %s, period %v: want the server's clock, and the claimed time as the period", jstr(got, "recorded"), got["period"])
	}
	if rep, err := store.VerifyChain(context.Background(), a.store, []string{"AuditEvent"}, nil); err != nil || rep.Broken != nil {
		t.Fatalf("the chain: %v %v", err, rep)
	}
	entry := `{"resource":` + ev + `,"request":{"method":"POST","url":"AuditEvent"}}`
	a.do(t, "POST", "", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[`+entry+`]}`), "Authorization: Bearer "+source).wantStatus(t, 403)
	a.get(t, a.mintAs(t, sourceClient, "system/AuditEvent.rs", "", ""), "/AuditEvent/"+id).wantStatus(t, 403)
}
