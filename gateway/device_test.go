package gateway

import (
	"regexp"
	"strings"
	"testing"
)

// TestServerDeviceResolves: the server's own Device, named by every AuditEvent (its observer and agent)
// and every notice (their sender), is readable, by a patient resolving the references of her own access
// history too; no client writes it, not even an administration client.
func TestServerDeviceResolves(t *testing.T) {
	a := newAuthServer(t)
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	alice := a.mint(t, "patient/*.rs", "pat-alice", "Patient/pat-alice")
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")

	r := a.get(t, martin, "/Device/fhirgate")
	r.wantStatus(t, 200)
	if !strings.Contains(string(r.body), `"deviceName":[{"name":"fhirgate"`) {
		t.Fatalf("the server's Device: %s", r.body)
	}
	// Alice resolves every reference of an event of her history.
	a.get(t, martin, "/Observation/obs-alice-01").wantStatus(t, 200)
	events := a.get(t, alice, "/AuditEvent?patient=Patient/pat-alice&_count=1")
	events.wantStatus(t, 200)
	refs := regexp.MustCompile(`"reference":"([A-Za-z]+/[A-Za-z0-9\-.]+)"`).FindAllStringSubmatch(string(events.body), -1)
	if len(refs) < 3 {
		t.Fatalf("an AuditEvent with %d references: %s", len(refs), events.body)
	}
	seenDevice := false
	for _, m := range refs {
		ref := strings.Split(m[1], "/_history")[0]
		seenDevice = seenDevice || ref == "Device/fhirgate"
		if c := a.get(t, alice, "/"+ref).status; c != 200 {
			t.Errorf("Alice resolves %s of her AuditEvent: %d", ref, c)
		}
	}
	if !seenDevice {
		t.Fatalf("the event names no Device/fhirgate: %s", events.body)
	}
	// Nobody writes it.
	body := []byte(`{"resourceType":"Device","id":"fhirgate","status":"inactive"}`)
	a.do(t, "PUT", "/Device/fhirgate", body, "Authorization: Bearer "+admin).wantStatus(t, 403)
	a.do(t, "DELETE", "/Device/fhirgate", nil, "Authorization: Bearer "+admin).wantStatus(t, 403)
	patch := []byte(`[{"op":"replace","path":"/status","value":"inactive"}]`)
	a.do(t, "PATCH", "/Device/fhirgate", patch, "Authorization: Bearer "+admin, "Content-Type: application/json-patch+json").wantStatus(t, 403)
	if r := a.get(t, martin, "/Device/fhirgate"); !strings.Contains(string(r.body), `"status":"active"`) || r.header.Get("ETag") != `W/"1"` {
		t.Fatalf("the server's Device changed: %s %s", r.header.Get("ETag"), r.body)
	}
}
