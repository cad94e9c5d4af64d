package gateway

// Golden-file tests of the AuditEvents the server records for each kind of interaction (docs/audit.md
// §1-§2, docs/standards.md §4, IHE BALP). Each scenario sends one request over real HTTP with a real signed
// token, follows the response's X-Audit-Event header, fetches every event named there with an auditor
// token (system/AuditEvent.rs), validates it as R4, checks it against the BALP rules that matter here,
// masks what changes from run to run, and compares the result with gateway/testdata/audit/<name>.json.
//
// Rewrite the files after a deliberate change with:
//
//	go test ./gateway -run TestAuditGolden -update
//
// and review the diff by hand: the files are the record of what the audit trail says.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir/validation"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/audit")

// BALP vocabulary, as the standards say it (not as the product spells it).
const (
	balpBase       = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
	sysDCM         = "http://dicom.nema.org/resources/ontology/DCM"
	sysParticipant = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysProvenance  = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	sysEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	sysRestful     = "http://hl7.org/fhir/restful-interaction"
	sysActReason   = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	jtiPrefix      = "urn:ietf:params:oauth:jti:"
)

// auditEventsOf fetches, with an auditor token, every AuditEvent that records a response (found by the
// request id they carry), in the order the server builds them (by patient, the event without a patient
// first), and returns their raw bodies. It checks that the response's X-Audit-Event names exactly the
// events that record data served (or written), and those without a patient; or, when there are none,
// one event (the header does not tell how many patients' data was withheld).
func (a *authServer) auditEventsOf(t *testing.T, auditor string, r result) [][]byte {
	t.Helper()
	h := r.header.Get("X-Audit-Event")
	if h == "" {
		t.Fatalf("response %d carries no X-Audit-Event header: %.300s", r.status, r.body)
	}
	reqID := r.header.Get("X-Request-Id")
	found := a.get(t, auditor, "/AuditEvent?entity:identifier="+url.QueryEscape(reqID)+"&_count=100")
	found.wantStatus(t, 200)
	type event struct {
		ref, patient string
		served       bool
		body         []byte
	}
	var evs []event
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(found.body, &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		var ev struct {
			ID     string `json:"id"`
			Entity []struct {
				What *struct {
					Reference string `json:"reference"`
				} `json:"what"`
				Role *struct {
					Code string `json:"code"`
				} `json:"role"`
				Detail []struct {
					Type string `json:"type"`
				} `json:"detail"`
			} `json:"entity"`
		}
		mustJSON(t, e.Resource, &ev)
		x := event{ref: "AuditEvent/" + ev.ID, body: e.Resource}
		for _, en := range ev.Entity {
			switch {
			case en.Role != nil && en.Role.Code == "1" && en.What != nil:
				x.patient = en.What.Reference
			case en.Role != nil && en.Role.Code == "4" && len(en.Detail) == 0:
				x.served = true
			}
		}
		evs = append(evs, x)
	}
	slices.SortStableFunc(evs, func(x, y event) int { return strings.Compare(x.patient, y.patient) })
	var named []string
	for _, x := range evs {
		if x.served || x.patient == "" {
			named = append(named, x.ref)
		}
	}
	if len(named) == 0 && len(evs) > 0 {
		named = []string{evs[0].ref}
	}
	got := strings.Split(h, ", ")
	if !sameSet(got, named) {
		t.Fatalf("X-Audit-Event names %v; the events of the request are %d, of which these should be named: %v", got, len(evs), named)
	}
	var out [][]byte
	for _, x := range evs {
		out = append(out, x.body)
	}
	return out
}

// balpWant is what one AuditEvent must say, in BALP's terms.
type balpWant struct {
	subtype, action, outcome string
	profile                  string    // BALP profile name, e.g. PatientRead
	client, server           [2]string // agent types ([2]string{} where BALP has no profile to say)
	user                     string    // v3-ParticipationType code of the user agent
	userWho                  string    // the user's fhirUser
	patient                  string    // entity[patient], "" for none
	data                     []string  // data entities (role 4), exactly, in any order
	refused                  []string  // data entities marked refused, exactly
	purpose                  string    // purposeOfEvent / agent.purposeOfUse code
	query                    string    // request line the query entity encodes ("" for no query entity)
	decision                 string    // consent decision recorded ("" for none)
	consents                 []string  // Consent references recorded as entities, exactly
}

// checkBALP checks one AuditEvent against docs/audit.md §2 and docs/standards.md §4 (BALP).
func checkBALP(t *testing.T, ev jobj, w balpWant) {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("AuditEvent %s: "+format, append([]any{jstr(ev, "id")}, args...)...)
	}
	if jstr(ev, "resourceType") != "AuditEvent" {
		t.Fatalf("not an AuditEvent: %v", ev)
	}
	if jstr(ev, "type", "system") != "http://terminology.hl7.org/CodeSystem/audit-event-type" || jstr(ev, "type", "code") != "rest" {
		errorf("type %v, want audit-event-type#rest", jat(ev, "type"))
	}
	if jstr(ev, "subtype", 0, "system") != sysRestful || jstr(ev, "subtype", 0, "code") != w.subtype {
		errorf("subtype %v, want restful-interaction#%s (R4 restful-interaction; docs/standards.md §4.1)", jat(ev, "subtype"), w.subtype)
	}
	if got := jstr(ev, "action"); got != w.action {
		errorf("action %q, want %q", got, w.action)
	}
	if got := jstr(ev, "outcome"); got != w.outcome {
		errorf("outcome %q, want %q", got, w.outcome)
	}
	if w.outcome != "0" && jstr(ev, "outcomeDesc") == "" {
		errorf("a failure without outcomeDesc (the reason)")
	}
	if jstr(ev, "recorded") == "" {
		errorf("no recorded instant")
	}
	// The profile claimed, and the subtypes that profile admits (BALP AllReadVS, AllSearchVS, ...).
	profiles := jlist(jat(ev, "meta", "profile"))
	if w.profile != "" && (len(profiles) != 1 || profiles[0] != balpBase+w.profile) {
		errorf("meta.profile %v, want %s%s", profiles, balpBase, w.profile)
	}
	for _, p := range profiles {
		name := strings.TrimPrefix(strings.TrimPrefix(p.(string), balpBase), "Patient")
		admits := map[string][]string{"Read": {"read", "vread"}, "Query": {"search", "search-type", "search-system"},
			"Create": {"create"}, "Update": {"update", "patch"}, "Delete": {"delete"}}[name]
		if admits != nil && !slices.Contains(admits, jstr(ev, "subtype", 0, "code")) {
			errorf("claims %s, whose subtype slice admits only %v (BALP AllReadVS, AllSearchVS...), with subtype %q", p, admits, jstr(ev, "subtype", 0, "code"))
		}
		if strings.Contains(p.(string), ".Patient") && w.patient == "" {
			errorf("claims %s without a patient", p)
		}
	}
	// Agents: client (requestor false, IP address), server (requestor false, URI), user (requestor true).
	agents := jlist(jat(ev, "agent"))
	if len(agents) < 2 {
		t.Fatalf("AuditEvent %s: %d agents", jstr(ev, "id"), len(agents))
	}
	coding := func(ag any) [2]string {
		return [2]string{jstr(ag, "type", "coding", 0, "system"), jstr(ag, "type", "coding", 0, "code")}
	}
	if got := coding(agents[0]); w.client != [2]string{} && got != w.client {
		errorf("client agent type %v, want %v (BALP %s, docs/standards.md §4.1)", got, w.client, w.profile)
	}
	if jat(agents[0], "requestor") != false || jstr(agents[0], "network", "type") != "2" || jstr(agents[0], "network", "address") == "" {
		errorf("client agent %v: want requestor false and an IP address (network type 2)", agents[0])
	}
	if jstr(agents[0], "who", "identifier", "value") != "matrix-app" {
		errorf("client agent who %v, want the token's client_id", jat(agents[0], "who"))
	}
	if got := coding(agents[1]); w.server != [2]string{} && got != w.server {
		errorf("server agent type %v, want %v (BALP %s, docs/standards.md §4.1)", got, w.server, w.profile)
	}
	if jat(agents[1], "requestor") != false || jstr(agents[1], "network", "type") != "5" || !strings.HasSuffix(jstr(agents[1], "network", "address"), "/fhir") {
		errorf("server agent %v: want requestor false and the base URL (network type 5)", agents[1])
	}
	if w.user != "" {
		if len(agents) < 3 {
			t.Fatalf("AuditEvent %s: no user agent", jstr(ev, "id"))
		}
		u := agents[2]
		if got := coding(u); got != [2]string{sysParticipant, w.user} {
			errorf("user agent type %v, want v3-ParticipationType#%s", got, w.user)
		}
		if jat(u, "requestor") != true || jat(u, "network") != nil {
			errorf("user agent %v: want requestor true and no network", u)
		}
		if w.userWho != "" && jstr(u, "who", "reference") != w.userWho {
			errorf("user agent who %v, want %s", jat(u, "who"), w.userWho)
		}
		if jstr(u, "who", "identifier", "value") == "" || !strings.HasSuffix(jstr(u, "who", "identifier", "system"), "/dev-issuer") {
			errorf("user agent who %v: want the token's iss/sub as identifier", jat(u, "who"))
		}
		pol := jlist(jat(u, "policy"))
		if len(pol) == 0 || !strings.HasPrefix(pol[0].(string), jtiPrefix) || len(pol[0].(string)) == len(jtiPrefix) {
			errorf("user agent policy %v, want the token id as %s<jti>", pol, jtiPrefix)
		}
		if w.purpose != "" && (jstr(u, "purposeOfUse", 0, "coding", 0, "code") != w.purpose || jstr(u, "purposeOfUse", 0, "coding", 0, "system") != sysActReason) {
			errorf("user purposeOfUse %v, want %s", jat(u, "purposeOfUse"), w.purpose)
		}
	}
	if w.purpose != "" && jstr(ev, "purposeOfEvent", 0, "coding", 0, "code") != w.purpose {
		errorf("purposeOfEvent %v, want %s", jat(ev, "purposeOfEvent"), w.purpose)
	}
	if jstr(ev, "source", "observer", "reference") != "Device/fhirgate" || jstr(ev, "source", "type", 0, "code") != "4" {
		errorf("source %v: want observer Device/fhirgate, type 4 (application server)", jat(ev, "source"))
	}
	// Entities.
	var patients, data, refused, consents []string
	var query, decision string
	requestID := false
	for _, e := range jlist(jat(ev, "entity")) {
		typ := [2]string{jstr(e, "type", "system"), jstr(e, "type", "code")}
		role := [2]string{jstr(e, "role", "system"), jstr(e, "role", "code")}
		switch {
		case typ == [2]string{sysEntityType, "1"} && role == [2]string{sysObjectRole, "1"}:
			patients = append(patients, jstr(e, "what", "reference"))
		case role == [2]string{sysObjectRole, "4"}:
			if typ != [2]string{sysEntityType, "2"} {
				errorf("data entity %v: type %v, want audit-entity-type 2", e, typ)
			}
			if jstr(e, "detail", 0, "valueString") == "refused" {
				refused = append(refused, jstr(e, "what", "reference"))
			} else {
				data = append(data, jstr(e, "what", "reference"))
			}
		case role == [2]string{sysObjectRole, "24"}:
			if jat(e, "what") != nil || jat(e, "name") != nil {
				errorf("query entity %v has a what or a name (BALP; R4 sev-1)", e)
			}
			q, err := base64.StdEncoding.DecodeString(jstr(e, "query"))
			if err != nil {
				errorf("query entity: query is not base64: %v", err)
			}
			query = string(q)
		case typ == [2]string{"http://hl7.org/fhir/resource-types", "Consent"}:
			if ref := jstr(e, "what", "reference"); ref != "" {
				consents = append(consents, ref)
			}
			for _, d := range jlist(jat(e, "detail")) {
				if jstr(d, "type") == "consent-decision" {
					decision = jstr(d, "valueString")
				}
			}
		case typ == [2]string{"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", "XrequestId"}:
			requestID = jstr(e, "what", "identifier", "value") != ""
		}
	}
	wantPatients := []string{}
	if w.patient != "" {
		wantPatients = []string{w.patient}
	}
	if !slices.Equal(nonNil(patients), wantPatients) {
		errorf("patient entities %v, want %v", patients, wantPatients)
	}
	if !sameSet(data, w.data) {
		errorf("data entities %v, want %v", data, w.data)
	}
	if !sameSet(refused, w.refused) {
		errorf("refused entities %v, want %v", refused, w.refused)
	}
	if w.query != "" && query != w.query {
		errorf("query entity encodes %q, want %q", query, w.query)
	}
	if w.query == "" && query != "" {
		errorf("unexpected query entity %q", query)
	}
	if decision != w.decision {
		errorf("consent decision %q, want %q", decision, w.decision)
	}
	if !sameSet(consents, w.consents) {
		errorf("Consent entities %v, want %v", consents, w.consents)
	}
	if !requestID {
		errorf("no X-Request-Id entity (BALP entity[transaction])")
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(nonNil(g), nonNil(w))
}

var (
	portRE      = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	uuidRE      = regexp.MustCompile(`([A-Z][A-Za-z]+)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(/_history/\d+)?`)
	eventIDRE   = regexp.MustCompile(`^\{"resourceType":"AuditEvent","id":"[^"]*"`)
	instantRE   = regexp.MustCompile(`"(recorded|lastUpdated)":"[^"]*"`)
	jtiRE       = regexp.MustCompile(`"urn:ietf:params:oauth:jti:[^"]*"`)
	clientIPRE  = regexp.MustCompile(`"address":"[^"]*","type":"2"`)
	requestIDRE = regexp.MustCompile(`\{"what":\{"identifier":\{"value":"[^"]*"\}\},"type":\{"system":"https://profiles\.ihe\.net/ITI/BALP/CodeSystem/BasicAuditEntityType","code":"XrequestId"`)
)

// maskAuditEvent replaces what changes from run to run — the event id and instants, the token id, the
// request id, the client's address, the test server's port, and the ids (and version ids) the server
// generated for created resources (numbered by first appearance across the scenario's events, so that
// the same resource keeps the same placeholder) — and indents the result. It works on the text, so
// that the golden files keep the product's element order; it then checks that every mask took.
func maskAuditEvent(t *testing.T, body []byte, generated map[string]string) []byte {
	t.Helper()
	s := eventIDRE.ReplaceAllString(string(body), `{"resourceType":"AuditEvent","id":"<id>"`)
	s = instantRE.ReplaceAllString(s, `"$1":"<instant>"`)
	s = jtiRE.ReplaceAllString(s, `"`+jtiPrefix+`<jti>"`)
	s = clientIPRE.ReplaceAllString(s, `"address":"<client-address>","type":"2"`)
	s = requestIDRE.ReplaceAllString(s, `{"what":{"identifier":{"value":"<request-id>"}},"type":{"system":"https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType","code":"XrequestId"`)
	s = portRE.ReplaceAllString(s, "127.0.0.1:<port>")
	s = uuidRE.ReplaceAllStringFunc(s, func(m string) string {
		p := uuidRE.FindStringSubmatch(m)
		name, ok := generated[p[2]]
		if !ok {
			name = fmt.Sprintf("<generated-%d>", len(generated)+1)
			generated[p[2]] = name
		}
		out := p[1] + "/" + name
		if p[3] != "" {
			out += "/_history/<vid>"
		}
		return out
	})
	var ev jobj
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		t.Fatalf("masked AuditEvent is not JSON: %v: %s", err, s)
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Fatalf("masking the %s failed (did the event's layout change?): %s", what, s)
		}
	}
	check("id", jstr(ev, "id") == "<id>")
	check("recorded instant", jstr(ev, "recorded") == "<instant>")
	check("lastUpdated", jat(ev, "meta", "lastUpdated") == nil || jstr(ev, "meta", "lastUpdated") == "<instant>")
	for _, ag := range jlist(ev["agent"]) {
		for _, p := range jlist(jat(ag, "policy")) {
			check("token id", !strings.HasPrefix(p.(string), jtiPrefix) || p == jtiPrefix+"<jti>")
		}
		check("client address", jstr(ag, "network", "type") != "2" || jstr(ag, "network", "address") == "<client-address>")
	}
	for _, e := range jlist(ev["entity"]) {
		check("request id", jstr(e, "type", "code") != "XrequestId" || jstr(e, "what", "identifier", "value") == "<request-id>")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "  ", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compareGolden compares the masked events with testdata/audit/<name>.json (or rewrites it with -update).
func compareGolden(t *testing.T, name string, events [][]byte) {
	t.Helper()
	got := []byte("[\n  " + string(bytes.Join(events, []byte(",\n  "))) + "\n]\n")
	path := filepath.Join("testdata", "audit", name+".json")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(go test ./gateway -run TestAuditGolden -update rewrites it; review the diff)", path, i+1, g, w)
		}
	}
}

// TestAuditGolden: the AuditEvents of each kind of interaction, checked against BALP and compared with
// the golden files.
func TestAuditGolden(t *testing.T) {
	a := newAuthServer(t)
	validator, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")
	house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house")
	auth := func(tok string) string { return "Authorization: Bearer " + tok }
	obs := func(id, subject string) []byte {
		idField := ""
		if id != "" {
			idField = `"id":"` + id + `",`
		}
		return []byte(`{"resourceType":"Observation",` + idField + `"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}],"text":"body weight"},"subject":{"reference":"` + subject + `"},"valueQuantity":{"value":61,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`)
	}
	put := func(t *testing.T, id, subject string) {
		t.Helper()
		r := a.do(t, "PUT", "/Observation/"+id, obs(id, subject), auth(house))
		if r.status != 200 && r.status != 201 {
			t.Fatalf("PUT Observation/%s: %d %s", id, r.status, r.body)
		}
	}
	read := [2]string{sysDCM, "110152"}  // Read: the client is the destination
	readS := [2]string{sysDCM, "110153"} // ... and the server the source
	src := [2]string{sysDCM, "110153"}   // Create, Update, Query: the client is the source
	dst := [2]string{sysDCM, "110152"}   // ... and the server the destination
	app := [2]string{sysDCM, "110150"}   // Delete: the client is the application
	custodian := [2]string{sysProvenance, "custodian"}

	for _, tc := range []struct {
		name   string
		status int
		run    func(t *testing.T) result
		want   []balpWant // one per event, in X-Audit-Event order
	}{
		{name: "read", status: 200,
			run: func(t *testing.T) result { return a.get(t, house, "/Patient/pat-alice") },
			want: []balpWant{{subtype: "read", action: "R", outcome: "0", profile: "PatientRead", client: read, server: readS,
				user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice",
				data: []string{"Patient/pat-alice/_history/1"}, decision: "permit", consents: []string{"Consent/consent-alice-1"}}}},
		{name: "vread", status: 200,
			run: func(t *testing.T) result { return a.get(t, house, "/Observation/obs-chloe-01/_history/1") },
			want: []balpWant{{subtype: "vread", action: "R", outcome: "0", profile: "PatientRead", client: read, server: readS,
				user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-chloe",
				data: []string{"Observation/obs-chloe-01/_history/1"}, decision: "permit", consents: []string{"Consent/consent-chloe-1"}}}},
		{name: "search-type", status: 200,
			// Cholesterol (LOINC 2093-3) of three patients: one event per patient, each with only that
			// patient's Observations.
			run: func(t *testing.T) result {
				return a.get(t, house, "/Observation?code=http://loinc.org|2093-3&patient=pat-alice,pat-chloe,pat-david")
			},
			want: func() []balpWant {
				q := "GET /fhir/Observation?code=http://loinc.org|2093-3&patient=pat-alice,pat-chloe,pat-david"
				base := balpWant{subtype: "search-type", action: "E", outcome: "0", profile: "PatientQuery", client: src, server: dst,
					user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT", query: q, decision: "permit"}
				alice, chloe, david := base, base, base
				alice.patient, alice.data, alice.consents = "Patient/pat-alice", []string{"Observation/obs-alice-09/_history/1"}, []string{"Consent/consent-alice-1"}
				chloe.patient, chloe.data, chloe.consents = "Patient/pat-chloe", []string{"Observation/obs-chloe-11/_history/1"}, []string{"Consent/consent-chloe-1"}
				david.patient, david.data, david.consents = "Patient/pat-david", []string{"Observation/obs-david-09/_history/1", "Observation/obs-david-35/_history/1"}, []string{"Consent/consent-david-1"}
				return []balpWant{alice, chloe, david}
			}()},
		{name: "search-type-withheld", status: 200,
			// The same search over every patient: Bob's Observation is withheld by his consent (he admits
			// only Dr Martin), which his own event records as a refusal.
			run: func(t *testing.T) result { return a.get(t, house, "/Observation?code=http://loinc.org|2093-3") },
			want: func() []balpWant {
				q := "GET /fhir/Observation?code=http://loinc.org|2093-3"
				base := balpWant{subtype: "search-type", action: "E", outcome: "0", profile: "PatientQuery", client: src, server: dst,
					user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT", query: q, decision: "permit"}
				alice, bob, chloe, david := base, base, base, base
				alice.patient, alice.data, alice.consents = "Patient/pat-alice", []string{"Observation/obs-alice-09/_history/1"}, []string{"Consent/consent-alice-1"}
				bob.patient, bob.refused, bob.consents, bob.outcome, bob.decision = "Patient/pat-bob", []string{"Observation/obs-bob-10"}, []string{"Consent/consent-bob-1"}, "4", "deny"
				chloe.patient, chloe.data, chloe.consents = "Patient/pat-chloe", []string{"Observation/obs-chloe-11/_history/1"}, []string{"Consent/consent-chloe-1"}
				david.patient, david.data, david.consents = "Patient/pat-david", []string{"Observation/obs-david-09/_history/1", "Observation/obs-david-35/_history/1"}, []string{"Consent/consent-david-1"}
				return []balpWant{alice, bob, chloe, david}
			}()},
		{name: "create", status: 201,
			run: func(t *testing.T) result {
				return a.do(t, "POST", "/Observation", obs("", "Patient/pat-alice"), auth(house))
			},
			want: []balpWant{{subtype: "create", action: "C", outcome: "0", profile: "PatientCreate", client: src, server: dst,
				user: "AUT", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice",
				data: []string{"Observation/<created>"}, decision: "permit", consents: []string{"Consent/consent-alice-1"}}}},
		{name: "update", status: 200,
			run: func(t *testing.T) result {
				put(t, "golden-update", "Patient/pat-alice")
				return a.do(t, "PUT", "/Observation/golden-update", obs("golden-update", "Patient/pat-alice"), auth(house))
			},
			want: []balpWant{{subtype: "update", action: "U", outcome: "0", profile: "PatientUpdate", client: src, server: dst,
				user: "AUT", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice",
				data: []string{"Observation/golden-update/_history/2"}, decision: "permit", consents: []string{"Consent/consent-alice-1"}}}},
		{name: "delete", status: 204,
			run: func(t *testing.T) result {
				put(t, "golden-delete", "Patient/pat-alice")
				return a.do(t, "DELETE", "/Observation/golden-delete", nil, auth(house))
			},
			want: []balpWant{{subtype: "delete", action: "D", outcome: "0", profile: "PatientDelete", client: app, server: custodian,
				user: "AUT", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice",
				data: []string{"Observation/golden-delete/_history/2"}, decision: "permit", consents: []string{"Consent/consent-alice-1"}}}},
		{name: "history-instance", status: 200,
			run: func(t *testing.T) result {
				put(t, "golden-history", "Patient/pat-alice")
				put(t, "golden-history", "Patient/pat-alice")
				return a.get(t, house, "/Observation/golden-history/_history")
			},
			want: []balpWant{{subtype: "history-instance", action: "R", outcome: "0", client: read, server: readS,
				user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice",
				data:     []string{"Observation/golden-history/_history/1", "Observation/golden-history/_history/2"},
				decision: "permit", consents: []string{"Consent/consent-alice-1"}}}},
		{name: "transaction", status: 200,
			// Two entries about two patients: a create for Alice, an update for Chloé.
			run: func(t *testing.T) result {
				put(t, "golden-tx-chloe", "Patient/pat-chloe")
				bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
					{"fullUrl":"urn:uuid:6f1c2a57-0a8e-4c0e-9d35-5d1f0b1c2a01","resource":` + string(obs("", "Patient/pat-alice")) + `,"request":{"method":"POST","url":"Observation"}},
					{"resource":` + string(obs("golden-tx-chloe", "Patient/pat-chloe")) + `,"request":{"method":"PUT","url":"Observation/golden-tx-chloe"}}]}`
				return a.do(t, "POST", "", []byte(bundle), auth(house))
			},
			want: []balpWant{
				// The Bundle itself: no patient; R4 restful-interaction has a "transaction" code.
				{subtype: "transaction", action: "E", outcome: "0", user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT",
					query: "POST /fhir"},
				// Then one event per entry, each with its patient and its resource.
				{subtype: "create", action: "C", outcome: "0", profile: "PatientCreate", client: src, server: dst,
					user: "AUT", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice",
					data: []string{"Observation/<created>"}, decision: "permit", consents: []string{"Consent/consent-alice-1"}},
				{subtype: "update", action: "U", outcome: "0", profile: "PatientUpdate", client: src, server: dst,
					user: "AUT", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-chloe",
					data: []string{"Observation/golden-tx-chloe/_history/2"}, decision: "permit", consents: []string{"Consent/consent-chloe-1"}},
			}},
		{name: "consent-refusal", status: 404,
			// Alice's consent denies the insurer, where prac-adviser works: 404, and an event saying so.
			run: func(t *testing.T) result {
				return a.get(t, a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser"), "/Patient/pat-alice")
			},
			want: []balpWant{{subtype: "read", action: "R", outcome: "4", profile: "PatientRead", client: read, server: readS,
				user: "IRCP", userWho: "Practitioner/prac-adviser", purpose: "TREAT", patient: "Patient/pat-alice",
				refused: []string{"Patient/pat-alice"}, decision: "deny", consents: []string{"Consent/consent-alice-1"}}}},
		{name: "scope-refusal", status: 403,
			// A token for Observations only reading a Patient.
			run: func(t *testing.T) result {
				return a.get(t, a.mint(t, "user/Observation.rs", "", "Practitioner/prac-house"), "/Patient/pat-alice")
			},
			want: []balpWant{{subtype: "read", action: "R", outcome: "4", profile: "PatientRead", client: read, server: readS,
				user: "IRCP", userWho: "Practitioner/prac-house", purpose: "TREAT", patient: "Patient/pat-alice"}}},
		{name: "break-the-glass", status: 200,
			run: func(t *testing.T) result {
				return a.get(t, a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser", "BTG"), "/Patient/pat-alice")
			},
			want: []balpWant{{subtype: "read", action: "R", outcome: "0", profile: "PatientRead", client: read, server: readS,
				user: "IRCP", userWho: "Practitioner/prac-adviser", purpose: "BTG", patient: "Patient/pat-alice",
				data: []string{"Patient/pat-alice/_history/1"}, decision: "permit-break-glass", consents: []string{"Consent/consent-alice-1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run(t)
			r.wantStatus(t, tc.status)
			raw := a.auditEventsOf(t, auditor, r)
			if len(raw) != len(tc.want) {
				for _, b := range raw {
					t.Logf("event: %s", b)
				}
				t.Fatalf("%d AuditEvents, want %d", len(raw), len(tc.want))
			}
			generated := map[string]string{}
			var evs []jobj
			var masked [][]byte
			for i, body := range raw {
				if err := validator.Validate(body); err != nil {
					t.Errorf("AuditEvent %d is not valid R4: %v\n%s", i, err, body)
				}
				var ev jobj
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				w := tc.want[i]
				// A created resource's id is the server's: take it from the response (or the Bundle).
				for j, d := range w.data {
					if d == "Observation/<created>" {
						w.data = slices.Clone(w.data)
						w.data[j] = createdRef(t, r, ev)
					}
				}
				checkBALP(t, ev, w)
				evs = append(evs, ev)
				masked = append(masked, maskAuditEvent(t, body, generated))
			}
			switch tc.name {
			case "break-the-glass":
				// Marked as break-the-glass, so that it stands out in the patient's access history.
				sec := jat(evs[0], "meta", "security")
				if !strings.Contains(fmt.Sprint(sec), "BTG") {
					t.Errorf("a break-the-glass access is not marked BTG in meta.security: %v", sec)
				}
				if r.header.Get("X-Consent-Decision") != "permit-break-glass" {
					t.Errorf("X-Consent-Decision %q", r.header.Get("X-Consent-Decision"))
				}
			case "consent-refusal":
				// The reason recorded is the real one: the audit trail is not the client, nothing is hidden
				// from it (docs/audit.md §1: refusals are recorded "with the outcome and the real reason").
				if d := jstr(evs[0], "outcomeDesc"); !strings.Contains(strings.ToLower(d), "consent") {
					t.Errorf("a consent refusal is recorded with outcomeDesc %q: the real reason, the patient's consent, is not said (docs/audit.md §1)", d)
				}
			case "scope-refusal":
				if d := jstr(evs[0], "outcomeDesc"); !strings.Contains(d, "scope") && !strings.Contains(d, "Patient") {
					t.Errorf("a scope refusal is recorded with outcomeDesc %q, which does not name the missing scope", d)
				}
			}
			compareGolden(t, tc.name, masked)
		})
	}
}

// createdRef returns "Observation/<id>/_history/1" of the Observation a create (or a transaction entry)
// made, from the response's Location or the event itself when the response is a Bundle.
func createdRef(t *testing.T, r result, ev jobj) string {
	t.Helper()
	if loc := r.header.Get("Location"); loc != "" {
		i := strings.Index(loc, "Observation/")
		if i < 0 {
			t.Fatalf("Location %q", loc)
		}
		return loc[i:]
	}
	var b struct {
		Entry []struct {
			Response struct{ Location string } `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", r.body)
	}
	for _, e := range b.Entry {
		if i := strings.Index(e.Response.Location, "Observation/"); i >= 0 && uuidRE.MatchString(e.Response.Location[i:]) {
			return e.Response.Location[i:]
		}
	}
	t.Fatalf("no created Observation in %s", r.body)
	return ""
}
