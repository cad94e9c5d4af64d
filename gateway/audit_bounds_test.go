package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// What one request can make the audit trail record is bounded, and what it records of the client is
// what the server saw.

// TestAuditBoundedRecords: a 600 KB query is refused at the door (414, nothing recorded); an 8 KB query
// of an authenticated client is kept as its first 2 KiB, its length and its SHA-256: it costs the event
// under 3 KB more than a short query does.
func TestAuditBoundedRecords(t *testing.T) {
	a := newAuthServer(t)
	before := a.changes(t, "AuditEvent")
	r := a.do(t, "GET", "/Patient?name="+strings.Repeat("x", 600<<10), nil)
	r.wantStatus(t, 414)
	if code, _, _ := r.issue(t); code != "too-long" {
		t.Fatalf("issue code %q", code)
	}
	if a.changes(t, "AuditEvent") != before {
		t.Fatal("the refused URL was recorded")
	}
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	event := func(path string) []byte {
		r := a.get(t, house, path)
		r.wantStatus(t, 200)
		refs := strings.Split(r.header.Get("X-Audit-Event"), ", ")
		if len(refs) != 1 {
			t.Fatalf("X-Audit-Event %v", refs)
		}
		ev, err := a.store.Read(t.Context(), "AuditEvent", strings.TrimPrefix(refs[0], "AuditEvent/"))
		if err != nil {
			t.Fatal(err)
		}
		return ev.Body
	}
	long := "/Patient?name=" + strings.Repeat("y", 8<<10)
	short, body := event("/Patient?name=y"), event(long)
	if extra := len(body) - len(short); extra >= 3000 {
		t.Fatalf("an 8 KB query costs its event %d bytes more than a short one (%d bytes in all)", extra, len(body))
	}
	ev := struct{ Body []byte }{body}
	for _, want := range []string{`"type":"length","valueString":"` + strconv.Itoa(len("/fhir"+long)) + `"`, `"type":"sha256"`} {
		if !strings.Contains(string(ev.Body), want) {
			t.Fatalf("the event does not keep %s: %s", want, ev.Body)
		}
	}
}

// TestAuditUnauthenticatedInAggregate: 10,000 requests without a token from one address in a minute make
// one event for the first and one summary counting the others (twice that if a minute ends meanwhile).
func TestAuditUnauthenticatedInAggregate(t *testing.T) {
	a := newAuthServer(t)
	auditor := a.mintAs(t, auditorClient, "system/AuditEvent.rs", "", "")
	before := a.changes(t, "AuditEvent")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	named := map[string]bool{}
	for i := range 10000 {
		req, _ := http.NewRequest("GET", a.base+"/Patient/pat-alice", nil)
		if i%2 == 1 {
			req.Header.Set("Authorization", "Bearer not-a-token")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		named[resp.Header.Get("X-Audit-Event")] = true
	}
	a.srv.audit.Close(t.Context()) // the minute's summary
	written := a.changes(t, "AuditEvent") - before
	if written < 2 || written > 4 {
		t.Fatalf("%d events for 10,000 refused unauthenticated requests", written)
	}
	if len(named) > 2 {
		t.Fatalf("the responses name %d events", len(named))
	}
	r := a.get(t, auditor, "/AuditEvent?address=127.0.0.1&outcome=4&_count=100")
	total := 0
	for _, e := range entriesOf(t, r.body) {
		if n := detailOf(e, "count"); n != "" {
			c, _ := strconv.Atoi(n)
			total += c
		} else {
			total++
		}
	}
	if total != 10000 {
		t.Fatalf("the events account for %d refused requests, not 10,000", total)
	}
}

// TestAuditClientAddress: the address recorded is the TCP peer; X-Forwarded-For counts only from a
// trusted proxy.
func TestAuditClientAddress(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	for _, tc := range []struct {
		name    string
		proxies []*net.IPNet
		want    string
	}{
		{"no trusted proxy", nil, "127.0.0.1"},
		{"the peer is a trusted proxy", []*net.IPNet{loopback}, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, proxies: tc.proxies})
			house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
			r := a.do(t, "GET", "/Patient/pat-alice", nil, bearer(house), "X-Forwarded-For: 203.0.113.9", "X-Real-IP: 198.51.100.7")
			r.wantStatus(t, 200)
			ev, err := a.store.Read(t.Context(), "AuditEvent", strings.TrimPrefix(r.header.Get("X-Audit-Event"), "AuditEvent/"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(ev.Body), `"network":{"address":"`+tc.want+`"`) {
				t.Fatalf("recorded address is not %s: %s", tc.want, ev.Body)
			}
		})
	}
}

// entriesOf returns the resources of a Bundle's entries.
func entriesOf(t *testing.T, body []byte) []jobj {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource jobj `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", body)
	}
	var out []jobj
	for _, e := range b.Entry {
		out = append(out, e.Resource)
	}
	return out
}

// detailOf returns the valueString of an AuditEvent's entity detail of a type ("" when none).
func detailOf(ev jobj, typ string) string {
	for _, e := range asSlice(ev["entity"]) {
		for _, d := range asSlice(jat(e, "detail")) {
			if jstr(d, "type") == typ {
				return jstr(d, "valueString")
			}
		}
	}
	return ""
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
