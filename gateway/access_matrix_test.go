package gateway

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"fhirgate/fhir/rest"
)

// TestAccessMatrix: who may do what, as one table per kind of data: every principal of ADR 0005 against
// every interaction, over HTTP with real signed tokens, on both engines. The data is Eve's, whose
// Consent refuses Dr House and the insurer, and hides PSY-labelled data from everyone but Dr Martin.
// For every write the cell refuses, the test checks that nothing changed in the store; for every write it
// allows, that something did.
//
// Notation: an HTTP status; for searches, + (the resource is in the result) or - (it is not); 204- is a
// delete that changed nothing (answered as for a resource that does not exist); for a conditional create,
// 200 returns the match and 201 creates; n/a where no search leads to the resource. The batch entry
// reads the resource (the entry's status); the transaction entry updates one (the response's status).
func TestAccessMatrix(t *testing.T) {
	interactions := []string{"read", "search", "include", "everything", "create", "update", "patch", "delete",
		"ccreate", "cupdate", "cdelete", "batch", "tx"}
	principals := []string{"self", "other", "permitted", "refused", "insurer", "btg", "system", "admin", "auditor"}
	tables := map[string]string{
		//          read search include everything create update patch delete ccreate cupdate cdelete batch tx
		"ordinary": `
		self        200  +  +  +    201 200 200 204   200 200 204   200 200
		other       404  -  -  404  403 403 404 204-  403 403 204-  404 403
		permitted   200  +  +  +    201 200 200 204   200 200 204   200 200
		refused     404  -  -  404  404 404 404 204-  404 404 204-  404 404
		insurer     404  -  -  404  404 404 404 204-  404 404 204-  404 404
		btg         200  +  +  +    201 200 200 204   200 200 204   200 200
		system      200  +  +  +    201 200 200 204   200 200 204   200 200
		admin       200  +  +  +    201 200 200 204   200 200 204   200 200
		auditor     200  +  +  +    201 200 200 204   200 200 204   200 200`,
		"psy": `
		self        200  +  +  +    201 200 200 204   200 200 204   200 200
		other       404  -  -  404  403 403 404 204-  403 403 204-  404 403
		permitted   200  +  +  +    201 200 200 204   200 200 204   200 200
		refused     404  -  -  404  404 404 404 204-  404 404 204-  404 404
		insurer     404  -  -  404  404 404 404 204-  404 404 204-  404 404
		btg         200  +  +  +    201 200 200 204   200 200 204   200 200
		system      404  -  -  -    403 403 404 204-  403 403 204-  404 403
		admin       404  -  -  -    403 403 404 204-  403 403 204-  404 403
		auditor     404  -  -  -    403 403 404 204-  403 403 204-  404 403`,
		"consent": `
		self        200  +  +  +    201 200 200 204   200 200 204   200 200
		other       404  -  -  404  403 403 404 204-  403 403 204-  404 403
		permitted   200  +  +  +    403 403 403 403   403 403 403   200 403
		refused     404  -  -  404  403 403 403 403   403 403 403   404 403
		insurer     404  -  -  404  403 403 403 403   403 403 403   404 403
		btg         200  +  +  +    403 403 403 403   403 403 403   200 403
		system      200  +  +  +    403 403 403 403   403 403 403   200 403
		admin       200  +  +  +    201 200 200 204   200 200 204   200 200
		auditor     200  +  +  +    403 403 403 403   403 403 403   200 403`,
		"role": `
		self        200  +  +  +    403 403 403 403   403 403 403   200 403
		other       200  +  +  404  403 403 403 403   403 403 403   200 403
		permitted   200  +  +  +    403 403 403 403   403 403 403   200 403
		refused     200  +  +  404  403 403 403 403   403 403 403   200 403
		insurer     200  +  +  404  403 403 403 403   403 403 403   200 403
		btg         200  +  +  +    403 403 403 403   403 403 403   200 403
		system      200  +  +  +    403 403 403 403   403 403 403   200 403
		admin       200  +  +  +    201 200 200 204   200 200 204   200 200
		auditor     200  +  +  +    403 403 403 403   403 403 403   200 403`,
		"audit": `
		self        200  +  +  +    403 405 405 405   403 405 405   200 405
		other       404  -  -  404  403 405 405 405   403 405 405   404 405
		permitted   403  403 -  -   403 405 405 405   403 405 405   403 405
		refused     403  403 -  404 403 405 405 405   403 405 405   403 405
		insurer     403  403 -  404 403 405 405 405   403 405 405   403 405
		btg         403  403 -  -   403 405 405 405   403 405 405   403 405
		system      403  403 -  -   403 405 405 405   403 405 405   403 405
		admin       403  403 -  -   403 405 405 405   403 405 405   403 405
		auditor     200  +  +  +    403 405 405 405   403 405 405   200 405`,
		"binary": `
		self        200  +  +  n/a  201 200 200 204   200 200 204   200 200
		other       404  -  -  n/a  404 404 404 204-  404 404 204-  404 404
		permitted   200  +  +  n/a  201 200 200 204   200 200 204   200 200
		refused     404  -  -  n/a  404 404 404 204-  404 404 204-  404 404
		insurer     404  -  -  n/a  404 404 404 204-  404 404 204-  404 404
		btg         200  +  +  n/a  201 200 200 204   200 200 204   200 200
		system      200  +  +  n/a  201 200 200 204   200 200 204   200 200
		admin       200  +  +  n/a  201 200 200 204   200 200 204   200 200
		auditor     200  +  +  n/a  201 200 200 204   200 200 204   200 200`,
	}
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, engine: engine})
		m := newMatrix(t, a)
		tokens := map[string]string{
			"self":      a.mint(t, "patient/*.cruds", "pat-eve", "Patient/pat-eve"),
			"other":     a.mint(t, "patient/*.cruds", "pat-alice", "Patient/pat-alice"),
			"permitted": a.mint(t, "user/*.cruds", "", "Practitioner/prac-martin"),
			"refused":   a.mint(t, "user/*.cruds", "", "Practitioner/prac-house"),
			"insurer":   a.mint(t, "user/*.cruds", "", "Practitioner/prac-adviser"),
			"btg":       a.mint(t, "user/*.cruds", "", "Practitioner/prac-house", "BTG"),
			"system":    a.mint(t, "system/*.cruds", "", ""),
			"admin":     a.mintAs(t, adminClient, "system/*.cruds", "", ""),
			"auditor":   a.mintAs(t, auditorClient, "system/*.cruds", "", ""),
		}
		for _, kind := range []string{"ordinary", "psy", "consent", "role", "audit", "binary"} {
			rows := parseMatrix(t, tables[kind], principals, interactions)
			t.Run(kind, func(t *testing.T) {
				for _, who := range principals {
					for i, in := range interactions {
						want := rows[who][i]
						if want == "n/a" {
							continue
						}
						if got := m.cell(t, kinds[kind], who, tokens[who], in, want); got != want {
							t.Errorf("%s × %s × %s: %s, want %s", kind, who, in, got, want)
						}
					}
				}
			})
		}
	})
}

// parseMatrix reads a table: one row per principal, one column per interaction.
func parseMatrix(t *testing.T, table string, principals, interactions []string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		f := strings.Fields(line)
		if len(f) != len(interactions)+1 {
			t.Fatalf("matrix row %q has %d cells, want %d", line, len(f)-1, len(interactions))
		}
		rows[f[0]] = f[1:]
	}
	for _, p := range principals {
		if rows[p] == nil {
			t.Fatalf("matrix without a row for %s", p)
		}
	}
	return rows
}

// matrixKind is one kind of data of the matrix: its type, the resource the reads are about, how to make
// one (for the writes, each on a fresh resource), and the searches that reach it.
type matrixKind struct {
	typ, id string
	body    func(id string) string // a resource of the kind ("" id: none)
	patch   string                 // a JSON Patch that changes it
	include string                 // a search that includes it (from a resource every principal may see)
	every   string                 // the $everything that returns it ("" for none)
}

const eveConsent = `{"resourceType":"Consent","id":"m-consent","status":"active",
	"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
	"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
	"patient":{"reference":"Patient/pat-eve"},"policy":[{"uri":"http://example.org/policy"}],
	"provision":{"type":"permit","provision":[
		{"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/prac-house"}}]},
		{"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/org-insurer"}}]},
		{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}],
		 "provision":[{"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/prac-martin"}}]}]}]}}`

func withID(id, rest string) string {
	if id == "" {
		return rest
	}
	return `"id":"` + id + `",` + rest
}

var kinds = map[string]matrixKind{
	"ordinary": {typ: "Observation", id: "m-obs",
		body: func(id string) string {
			return `{"resourceType":"Observation",` + withID(id, `"status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/pat-eve"}}`)
		},
		patch:   `[{"op":"replace","path":"/status","value":"amended"}]`,
		include: "/PractitionerRole?_id=m-role&_revinclude=Observation:performer",
		every:   "/Patient/pat-eve/$everything?_type=Observation&_count=1000"},
	"psy": {typ: "Observation", id: "m-psy",
		body: func(id string) string {
			return `{"resourceType":"Observation",` + withID(id, `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"status":"final","code":{"text":"PHQ-9"},"subject":{"reference":"Patient/pat-eve"}}`)
		},
		patch:   `[{"op":"replace","path":"/status","value":"amended"}]`,
		include: "/PractitionerRole?_id=m-role&_revinclude=Observation:performer",
		every:   "/Patient/pat-eve/$everything?_type=Observation&_count=1000"},
	"consent": {typ: "Consent", id: "m-extra",
		body: func(id string) string {
			return `{"resourceType":"Consent",` + withID(id, `"status":"inactive",
				"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
				"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
				"patient":{"reference":"Patient/pat-eve"},"policy":[{"uri":"http://example.org/policy"}],"provision":{"type":"permit"}}`)
		},
		patch:   `[{"op":"replace","path":"/status","value":"rejected"}]`,
		include: "/Patient?_id=pat-eve&_revinclude=Consent:patient",
		every:   "/Patient/pat-eve/$everything?_type=Consent&_count=1000"},
	"role": {typ: "PractitionerRole", id: "m-role",
		body: func(id string) string {
			return `{"resourceType":"PractitionerRole",` + withID(id, `"active":true,"practitioner":{"reference":"Practitioner/prac-matrix"}}`)
		},
		patch:   `[{"op":"replace","path":"/active","value":false}]`,
		include: "/Practitioner?_id=prac-matrix&_revinclude=PractitionerRole:practitioner",
		every:   "/Patient/pat-eve/$everything?_type=Observation&_count=1000"},
	"audit": {typ: "AuditEvent", // id: the first event about Eve, found at set-up
		body: func(id string) string {
			return `{"resourceType":"AuditEvent",` + withID(id, `"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},
				"recorded":"2026-01-02T03:04:05Z","outcome":"0","agent":[{"who":{"reference":"Practitioner/prac-martin"},"requestor":true}],
				"source":{"observer":{"display":"elsewhere"}},
				"entity":[{"what":{"reference":"Patient/pat-eve"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}`)
		},
		patch:   `[{"op":"replace","path":"/outcome","value":"4"}]`,
		include: "/Patient?_id=pat-eve&_revinclude=AuditEvent:patient",
		every:   "/Patient/pat-eve/$everything?_type=AuditEvent&_count=1000"},
	"binary": {typ: "Binary", id: "m-bin",
		body: func(id string) string {
			return `{"resourceType":"Binary",` + withID(id, `"contentType":"text/plain","securityContext":{"reference":"Observation/m-obs"},"data":"RXZlJ3Mgc2Nhbg=="}`)
		},
		patch:   `[{"op":"replace","path":"/contentType","value":"text/csv"}]`,
		include: "/Provenance?_id=m-prov&_include=Provenance:target"},
}

// matrix is the matrix's server, with Eve's data loaded.
type matrix struct {
	a       *authServer
	auditID string
	n       int
}

func newMatrix(t *testing.T, a *authServer) *matrix {
	t.Helper()
	ctx := context.Background()
	var entries []string
	for _, res := range []string{
		`{"resourceType":"Patient","id":"pat-eve","name":[{"family":"Martin","given":["Eve"]}]}`,
		eveConsent,
		`{"resourceType":"Practitioner","id":"prac-matrix","name":[{"family":"Matrix"}]}`,
		kinds["role"].body("m-role"),
		strings.Replace(kinds["ordinary"].body("m-obs"), `"subject"`, `"performer":[{"reference":"PractitionerRole/m-role"}],"subject"`, 1),
		strings.Replace(kinds["psy"].body("m-psy"), `"subject"`, `"performer":[{"reference":"PractitionerRole/m-role"}],"subject"`, 1),
		kinds["consent"].body("m-extra"),
		kinds["binary"].body("m-bin"),
		`{"resourceType":"Provenance","id":"m-prov","target":[{"reference":"Binary/m-bin"}],"recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/prac-martin"}}]}`,
	} {
		var head struct{ ResourceType, ID string }
		mustJSON(t, []byte(res), &head)
		entries = append(entries, `{"resource":`+res+`,"request":{"method":"PUT","url":"`+head.ResourceType+"/"+head.ID+`"}}`)
	}
	if _, err := a.svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: txBundle(entries...)}); err != nil {
		t.Fatal(err)
	}
	// An access to Eve's record leaves an AuditEvent about her.
	r := a.get(t, a.mint(t, "user/*.rs", "", "Practitioner/prac-martin"), "/Patient/pat-eve")
	r.wantStatus(t, 200)
	m := &matrix{a: a, auditID: strings.TrimPrefix(strings.Split(r.header.Get("X-Audit-Event"), ",")[0], "AuditEvent/")}
	return m
}

// fresh creates a resource of the kind for one write cell, past the API.
func (m *matrix) fresh(t *testing.T, k matrixKind) string {
	t.Helper()
	m.n++
	id := fmt.Sprintf("m-fresh-%d", m.n)
	if k.typ == "AuditEvent" {
		return m.auditID // refused before any lookup: the event itself
	}
	if _, err := m.a.svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Update, Type: k.typ, ID: id,
		Body: []byte(k.body(id))}); err != nil {
		t.Fatal(err)
	}
	return id
}

// cell runs one interaction of one principal on one kind and returns its outcome in the table's notation;
// for a write, it also checks that the store changed exactly when the outcome says so.
func (m *matrix) cell(t *testing.T, k matrixKind, who, tok, in, want string) string {
	t.Helper()
	a := m.a
	id := k.id
	if k.typ == "AuditEvent" {
		id = m.auditID
	}
	present := func(r result, ref string) string {
		if r.status != 200 {
			return fmt.Sprint(r.status)
		}
		for _, got := range refs(t, r.body, "") {
			if got == ref {
				return "+"
			}
		}
		return "-"
	}
	ref := k.typ + "/" + id
	switch in {
	case "read":
		return fmt.Sprint(a.get(t, tok, "/"+ref).status)
	case "search":
		return present(a.get(t, tok, "/"+k.typ+"?_id="+id), ref)
	case "include":
		return present(a.get(t, tok, k.include), ref)
	case "everything":
		return present(a.get(t, tok, k.every), ref)
	case "batch":
		r := a.do(t, "POST", "", []byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"`+ref+`"}}]}`), bearer(tok))
		if r.status != 200 {
			return fmt.Sprint(r.status)
		}
		st := entryStatuses(t, r.body)
		if len(st) != 1 {
			t.Fatalf("batch: %s", r.body)
		}
		code, _, _ := strings.Cut(st[0], " ")
		return code
	}
	// The writes, each on a fresh resource (the reads' resource when it is the subject of the cell).
	target := m.fresh(t, k)
	changes := a.changes(t, k.typ)
	before := a.versionOf(t, k.typ, target)
	var r result
	switch in {
	case "create":
		r = a.do(t, "POST", "/"+k.typ, []byte(k.body("")), bearer(tok))
	case "update":
		r = a.do(t, "PUT", "/"+k.typ+"/"+target, []byte(k.body(target)), bearer(tok))
	case "patch":
		r = a.do(t, "PATCH", "/"+k.typ+"/"+target, []byte(k.patch), bearer(tok), "Content-Type: application/json-patch+json")
	case "delete":
		r = a.do(t, "DELETE", "/"+k.typ+"/"+target, nil, bearer(tok))
	case "ccreate":
		r = a.do(t, "POST", "/"+k.typ, []byte(k.body("")), bearer(tok), "If-None-Exist: _id="+id)
	case "cupdate":
		r = a.do(t, "PUT", "/"+k.typ+"?_id="+url.QueryEscape(target), []byte(k.body("")), bearer(tok))
	case "cdelete":
		r = a.do(t, "DELETE", "/"+k.typ+"?_id="+url.QueryEscape(target), nil, bearer(tok))
	case "tx":
		r = a.do(t, "POST", "", txBundle(`{"resource":`+k.body(target)+`,"request":{"method":"PUT","url":"`+k.typ+"/"+target+`"}}`), bearer(tok))
	default:
		t.Fatalf("unknown interaction %s", in)
	}
	got := fmt.Sprint(r.status)
	changed := a.changes(t, k.typ) != changes || a.versionOf(t, k.typ, target) != before
	if k.typ == "AuditEvent" { // every request writes AuditEvents: only the event itself can tell
		changed = a.versionOf(t, k.typ, target) != before
	}
	if (in == "delete" || in == "cdelete") && got == "204" && !changed {
		got = "204-"
	}
	wantChange := strings.HasPrefix(want, "20") && want != "204-" && !(in == "ccreate" && want == "200")
	if got == want && changed != wantChange {
		t.Errorf("%s × %s × %s (%s): the store changed %v, want %v", k.typ, who, in, got, changed, wantChange)
	}
	return got
}
