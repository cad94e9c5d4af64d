package gateway

import (
	"slices"
	"testing"
)

// TestAuditFailedAttemptsNamePatient: an attempt on a resource the client could see that fails — an
// update with a stale If-Match, a read of what was deleted — is in the patient's access history, as a
// failure; an attempt on a resource the client may not see is recorded as a refusal (ADR 0005), and one
// on nothing names no patient.
func TestAuditFailedAttemptsNamePatient(t *testing.T) {
	a := newAuthServer(t)
	house := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house", "TREAT")
	alice := a.mint(t, "patient/AuditEvent.rs", "pat-alice", "Patient/pat-alice")
	obs := []byte(`{"resourceType":"Observation","id":"obs-alice-01","status":"amended","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}}`)

	stale := a.do(t, "PUT", "/Observation/obs-alice-01", obs, "Authorization: Bearer "+house, `If-Match: W/"99"`)
	stale.wantStatus(t, 412)
	a.do(t, "DELETE", "/Observation/obs-alice-02", nil, "Authorization: Bearer "+house).wantStatus(t, 204)
	gone := a.get(t, house, "/Observation/obs-alice-02")
	gone.wantStatus(t, 410)
	missing := a.get(t, house, "/Observation/no-such-observation")
	missing.wantStatus(t, 404)

	history := a.auditSearch(t, alice, "patient=Patient/pat-alice&_count=100")
	failed := map[string]bool{}
	for _, e := range history {
		if e.Outcome != "0" {
			failed[e.ID] = true
		}
	}
	for name, r := range map[string]result{"the stale update": stale, "the read of the deletion": gone} {
		ids := auditRefs(t, r)
		if len(ids) != 1 || !failed[ids[0]] {
			t.Errorf("%s (AuditEvent %v) is not among Alice's failed accesses", name, ids)
		}
	}
	for _, e := range history {
		if slices.Contains(auditRefs(t, missing), e.ID) {
			t.Errorf("the read of a missing Observation is in Alice's history: %s", e.Raw)
		}
	}
}
