package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/auth/consent"
	"fhirgate/fhir/store"
	"fhirgate/fhir/validation"
)

// webhookRecorder is a webhook receiver on 127.0.0.1 that keeps what it was sent.
type webhookRecorder struct {
	*httptest.Server
	mu    sync.Mutex
	calls []map[string]any
}

func newWebhook(t *testing.T) *webhookRecorder {
	w := &webhookRecorder{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body is not JSON: %s", b)
		}
		w.mu.Lock()
		w.calls = append(w.calls, m)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhookRecorder) got() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.calls...)
}

// notices returns the patient's notices of a kind once the notifier has handled every access recorded
// so far (it works off the request path).
func notices(t *testing.T, a *authServer, patient, kind string) []*store.Version {
	t.Helper()
	settle(a)
	vs, err := a.svc.Engine().Find(context.Background(), "Communication", map[string][]string{"recipient": {patient}, "category": {audit.NoticeTopicSystem + "|" + kind}})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// settle waits until the notifier has handled every access recorded so far (webhook calls included), so
// that a test can assert that nothing more comes.
func settle(a *authServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.notices.Settle(ctx); err != nil {
		panic("the notifier did not settle: " + err.Error())
	}
}

func TestNoticeFirstAccessOnce(t *testing.T) {
	hook := newWebhook(t)
	a := newAuthServer(t, authOptions{consentDefault: consent.Permit, denyStatus: 404, notify: &audit.NotifyConfig{Tell: NoticeWebhook(hook.URL, nil)}})
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin")
	alice := a.mint(t, "patient/*.rs", "pat-alice", "Patient/pat-alice")

	a.get(t, alice, "/Patient/pat-alice").wantStatus(t, 200) // the patient herself: no notice
	a.get(t, martin, "/Patient/pat-alice").wantStatus(t, 200)
	a.get(t, martin, "/Observation?patient=pat-alice").wantStatus(t, 200)
	a.get(t, martin, "/Patient/pat-alice").wantStatus(t, 200)
	vs := notices(t, a, "Patient/pat-alice", audit.NoticeFirstAccess)
	if len(vs) != 1 {
		t.Fatalf("%d first-access notices for Dr Martin's three accesses, want 1", len(vs))
	}
	var c struct {
		Subject   struct{ Reference string }   `json:"subject"`
		Recipient []struct{ Reference string } `json:"recipient"`
		About     []struct{ Reference string } `json:"about"`
		Received  string                       `json:"received"`
		Priority  string                       `json:"priority"`
	}
	mustJSON(t, vs[0].Body, &c)
	if c.Subject.Reference != "Patient/pat-alice" || len(c.Recipient) != 1 || c.Recipient[0].Reference != "Patient/pat-alice" ||
		len(c.About) != 2 || c.About[1].Reference != "Practitioner/prac-martin" || c.Received != "" || c.Priority != "routine" {
		t.Fatalf("notice: %s", vs[0].Body)
	}
	// It names the first of the three accesses.
	ev, err := a.store.Read(context.Background(), "AuditEvent", c.About[0].Reference[len("AuditEvent/"):])
	if err != nil || !json.Valid(ev.Body) {
		t.Fatalf("the notice's AuditEvent: %v", err)
	}
	v, _ := validation.New(validation.Config{})
	if err := v.Validate(vs[0].Body); err != nil {
		t.Fatalf("the notice is not valid R4: %v\n%s", err, vs[0].Body)
	}
	// The patient reads her notices with her own token.
	if got := refs(t, a.get(t, alice, "/Communication?recipient=Patient/pat-alice").body, "match"); len(got) != 1 {
		t.Fatalf("Alice sees notices %v", got)
	}
	// Dr Martin on another patient: another notice; nothing for Chloé from Alice's.
	a.get(t, martin, "/Patient/pat-chloe").wantStatus(t, 200)
	if vs := notices(t, a, "Patient/pat-chloe", audit.NoticeFirstAccess); len(vs) != 1 {
		t.Fatalf("Chloé has %d first-access notices", len(vs))
	}
	// The webhook heard of both, and of nothing clinical.
	settle(a)
	calls := hook.got()
	if len(calls) != 2 {
		t.Fatalf("webhook calls: %v", calls)
	}
	for _, call := range calls {
		var keys []string
		for k := range call {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) != 4 || keys[0] != "communication" || keys[1] != "event" || keys[2] != "patient" || keys[3] != "sent" || call["event"] != audit.NoticeFirstAccess {
			t.Fatalf("webhook body %v", call)
		}
	}
}

func TestNoticeBreakTheGlassEveryTime(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: consent.Permit, denyStatus: 404, notify: &audit.NotifyConfig{}})
	btg := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser", "BTG")
	adviser := a.mint(t, "user/*.rs", "", "Practitioner/prac-adviser")
	a.get(t, adviser, "/Patient/pat-alice").wantStatus(t, 404) // refused: not an access, no notice
	a.get(t, btg, "/Patient/pat-alice").wantStatus(t, 200)
	a.get(t, btg, "/Patient/pat-alice").wantStatus(t, 200)
	if vs := notices(t, a, "Patient/pat-alice", audit.NoticeBreakTheGlass); len(vs) != 2 {
		t.Fatalf("%d break-the-glass notices for two accesses", len(vs))
	}
	// The first break-the-glass access is also the adviser's first access (the refusal did not count).
	if vs := notices(t, a, "Patient/pat-alice", audit.NoticeFirstAccess); len(vs) != 1 {
		t.Fatalf("%d first-access notices", len(vs))
	}
}

// Concurrent first accesses by the same professional: exactly one notice.
func TestNoticeConcurrentFirstAccesses(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: consent.Permit, denyStatus: 404, notify: &audit.NotifyConfig{}})
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() { a.get(t, house, "/Patient/pat-david").wantStatus(t, 200) })
	}
	wg.Wait()
	if vs := notices(t, a, "Patient/pat-david", audit.NoticeFirstAccess); len(vs) != 1 {
		t.Fatalf("%d first-access notices for 12 concurrent first accesses", len(vs))
	}
}
