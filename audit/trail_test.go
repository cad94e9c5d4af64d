package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/auth/scope"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
	"fhirgate/population"
)

// The trail on its own: interactions run through the FHIR service with the access decision point, no
// HTTP, their events recorded by a sink that keeps them.

// keeper is a sink that keeps what it is given (and fails when told to).
type keeper struct {
	mu   sync.Mutex
	recs []Record
	err  error
	wait time.Duration
}

func (k *keeper) Append(ctx context.Context, events []Record) error {
	if k.wait > 0 {
		select {
		case <-time.After(k.wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	k.recs = append(k.recs, events...)
	return nil
}

func (k *keeper) all() []Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Record(nil), k.recs...)
}

// demo is the FHIR service over the demo population, and its decision point.
type demo struct {
	svc    *rest.Service
	st     store.Store
	access *auth.Access
}

func newDemo(t testing.TB) *demo {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost:8080/fhir"}, st, v)
	if err != nil {
		t.Fatal(err)
	}
	consents := auth.AttachConsent(svc, consent.Permit)
	for _, b := range population.Demo() {
		if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: b}); err != nil {
			t.Fatal(err)
		}
	}
	return &demo{svc: svc, st: st, access: auth.NewAccess(svc.Engine(), auth.Options{Consent: consents})}
}

// run performs an interaction as p (nil: without a token) and describes it as the server would.
func (d *demo) run(p *auth.Principal, method, target string) *Interaction {
	in := &Interaction{Method: method, Target: "/fhir/" + target, Principal: p, ClientAddr: "192.0.2.7", RequestID: "req-1"}
	if p == nil {
		in.Err = auth.Unauthorized("login", "an access token is required")
		return in
	}
	req, err := rest.Match(method, target)
	if err != nil {
		in.Err = err
		return in
	}
	req.Ledger = rest.NewLedger()
	if method == "POST" || method == "PUT" {
		req.Body = []byte(`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/pat-alice"}}`)
	}
	g := d.access.Guard(p)
	in.Request = req
	in.Response, in.Err = d.svc.Do(context.Background(), g, req)
	in.Decisions = g.Decisions()
	return in
}

func practitioner(user string, purposes ...string) *auth.Principal {
	if len(purposes) == 0 {
		purposes = []string{"TREAT"}
	}
	return &auth.Principal{Subject: user, Issuer: "https://idp.example", ClientID: "app", TokenID: "jti-1", User: user,
		PurposeOfUse: purposes, Scopes: scope.Parse("user/*.cruds")}
}

func newTrail(t testing.TB, d *demo, sink Sink, mut func(*Config)) *Trail {
	t.Helper()
	cfg := Config{Sink: sink, Indexer: d.svc, BaseURL: "http://localhost:8080/fhir"}
	if mut != nil {
		mut(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close(context.Background()) })
	return tr
}

// TestEventsAreWhatTheirJSONSays: every event the trail builds — reads with consent, a search over
// several patients with refusals, a refusal, a write, a request without a token, break-the-glass, a
// transaction — is exactly what encoding/json gives for it, indexes as the generic indexer indexes its
// JSON (or a search would not find what it says), and stamps without parsing as a parsed stamp does.
func TestEventsAreWhatTheirJSONSays(t *testing.T) {
	d := newDemo(t)
	k := &keeper{}
	tr := newTrail(t, d, k, nil)
	ctx := context.Background()
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}},"request":{"method":"POST","url":"Observation"}}]}`
	for _, in := range []*Interaction{
		d.run(practitioner("Practitioner/prac-house"), "GET", "Patient/pat-alice"),
		d.run(practitioner("Practitioner/prac-house"), "GET", "Observation?code=http://loinc.org|2093-3"),
		d.run(practitioner("Practitioner/prac-adviser"), "GET", "Patient/pat-alice"),
		d.run(practitioner("Practitioner/prac-adviser", "BTG"), "GET", "Patient/pat-alice"),
		d.run(practitioner("Practitioner/prac-house"), "POST", "Observation"),
		d.run(nil, "GET", "Patient/pat-alice"),
		func() *Interaction {
			in := d.run(practitioner("Practitioner/prac-house"), "GET", "metadata")
			req := &rest.Request{Interaction: rest.Transaction, Body: []byte(tx), Ledger: rest.NewLedger()}
			in.Request, in.Method, in.Target = req, "POST", "/fhir"
			in.Response, in.Err = d.svc.Do(ctx, d.access.Guard(in.Principal), req)
			return in
		}(),
	} {
		if _, err := tr.Record(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	recs := k.all()
	if len(recs) < 10 {
		t.Fatalf("%d events for 7 interactions", len(recs))
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 5e6, time.UTC)
	for _, rec := range recs {
		var ev auditEvent
		if err := json.Unmarshal(rec.Body, &ev); err != nil {
			t.Fatalf("%v: %s", err, rec.Body)
		}
		if enc := fhir.MustJSON(&ev); !bytes.Equal(enc, rec.Body) {
			t.Errorf("the event is not the bytes encoding/json gives:\n%s\n%s", rec.Body, enc)
		}
		if !bytes.Equal(ev.encode(), rec.Body) {
			t.Errorf("decoding and encoding the event again changes it:\n%s", rec.Body)
		}
		want, err := d.svc.IndexEntries("AuditEvent", rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		if w, g := entrySet(want), entrySet(rec.Index); !slices.Equal(w, g) {
			t.Errorf("its JSON indexes as\n  %s\nthe trail described\n  %s", strings.Join(w, "\n  "), strings.Join(g, "\n  "))
		}
		stamped, err := fhir.Stamp(rec.Body, rec.ID, 1, at)
		if rec.Template == nil || err != nil || !bytes.Equal(rec.Template.Render(1, at), stamped) {
			t.Errorf("not stamped as a parsed stamp would (template %v, %v)", rec.Template != nil, err)
		}
	}
}

func entrySet(es []store.IndexEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %q", e.Param, e.Value))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestTrailFailsClosed: events that cannot be stored, or not in time, make a 503 (no data leaves); failing
// open, the response goes on without events named.
func TestTrailFailsClosed(t *testing.T) {
	d := newDemo(t)
	in := d.run(practitioner("Practitioner/prac-house"), "GET", "Patient/pat-alice")
	for _, tc := range []struct {
		name     string
		sink     *keeper
		failOpen bool
		status   int
	}{
		{"the store refuses", &keeper{err: errors.New("disk full")}, false, 503},
		{"the store does not answer in time", &keeper{wait: time.Second}, false, 503},
		{"failing open", &keeper{err: errors.New("disk full")}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrail(t, d, tc.sink, func(c *Config) { c.FailOpen, c.Deadline = tc.failOpen, 100*time.Millisecond })
			refs, err := tr.Record(context.Background(), in)
			if got := fhir.KindOf(err).Status(); tc.status != 0 && got != tc.status {
				t.Fatalf("status %d, want %d (%v)", got, tc.status, err)
			}
			if tc.status == 0 && (err != nil || refs != nil) {
				t.Fatalf("failing open: %v %v", refs, err)
			}
		})
	}
}

// TestUnauthenticatedInAggregate: refusals without a token are recorded once per address and minute, and
// the others counted in one summary when the minute is over.
func TestUnauthenticatedInAggregate(t *testing.T) {
	d := newDemo(t)
	k := &keeper{}
	now := time.Date(2026, 6, 1, 9, 0, 10, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tr := newTrail(t, d, k, func(c *Config) { c.Now = clock })
	ctx := context.Background()
	refuse := func(addr string) []string {
		in := d.run(nil, "GET", "Patient/pat-alice")
		in.ClientAddr = addr
		refs, err := tr.Record(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return refs
	}
	first := refuse("198.51.100.1")
	for range 99 {
		if got := refuse("198.51.100.1"); !slices.Equal(got, first) {
			t.Fatalf("a later refusal names %v, not the minute's first event %v", got, first)
		}
	}
	for range 5 {
		refuse("198.51.100.2")
	}
	if n := len(k.all()); n != 2 {
		t.Fatalf("%d events for one minute of refusals from two addresses", n)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	refuse("198.51.100.1") // a new minute: the last one's summaries, then this one's first event
	recs := k.all()
	if len(recs) != 5 {
		t.Fatalf("%d events, want 2 first, 2 summaries, 1 new first", len(recs))
	}
	counts := map[string]string{}
	for _, r := range recs[2:4] {
		var ev auditEvent
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		counts[ev.Agent[0].Network.Address] = ev.Entity[0].Detail[0].ValueString
	}
	if counts["198.51.100.1"] != "99" || counts["198.51.100.2"] != "4" {
		t.Fatalf("the summaries count %v", counts)
	}
}

// TestAsReported: what a client submits is recorded as reported by it.
func TestAsReported(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	in := `{"resourceType":"AuditEvent","id":"x","meta":{"tag":[{"system":"` + auth.ReportedSystem + `","code":"observed"},{"system":"s","code":"kept"}]},
		"recorded":"2020-01-01T00:00:00Z","source":{"site":"ehr-2","observer":{"reference":"Device/fhirgate"}}}`
	out, err := AsReported([]byte(in), "lab-app", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := auth.ReportedBy(out); got != "lab-app" {
		t.Fatalf("reported by %q: %s", got, out)
	}
	var ev map[string]any
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("as reported: %v: %s", err, out)
	}
	if ev["id"] != nil || ev["recorded"] != "2026-06-01T09:00:00.000Z" || !strings.Contains(string(out), `"period":{"end":"2020-01-01T00:00:00Z","start":"2020-01-01T00:00:00Z"}`) ||
		!strings.Contains(string(out), `"site":"ehr-2"`) || strings.Contains(string(out), "Device/fhirgate") || !strings.Contains(string(out), `"code":"kept"`) {
		t.Fatalf("as reported: %s", out)
	}
	if same, _ := AsReported([]byte(`{"resourceType":"Patient"}`), "lab-app", now); string(same) != `{"resourceType":"Patient"}` {
		t.Fatalf("not an AuditEvent, changed: %s", same)
	}
}
