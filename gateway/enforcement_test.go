package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/audit"
	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/auth/devissuer"
	"fhirgate/auth/token"
	"fhirgate/conformance"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/redis"
	"fhirgate/fhir/store/redis/redistest"
	"fhirgate/fhir/validation"
	"fhirgate/gateway/throttle"
	"fhirgate/internal/sharedtest"
	"fhirgate/population"
)

// authServer is a real server with token verification (the development issuer's real keys, verified by
// the production verifier) over the demo population.
type authServer struct {
	*testServer
	issuer  *devissuer.Issuer
	srv     *Server
	notices *audit.Notifier // nil without notices
	metrics *Metrics
	// sinkChecks are the checks of the events stored (nil in benchmarks and without a trail).
	sinkChecks *sinkChecks
	exports    *rest.Exports // nil without bulk export
	// issuerLag is how far behind the present the issuer's clock is (mintExpired sets it for a moment).
	issuerLag *atomic.Int64
}

// authOptions vary the consent configuration of an authServer.
type authOptions struct {
	consentDefault consent.Decision            // default permit
	denyStatus     int                         // default 404
	audit          *audit.Config               // Sink, Deadline, FailOpen (default: the store, checked)
	notify         *audit.NotifyConfig         // default: no notices
	noAudit        bool                        // no audit trail at all (benchmark baselines)
	noConsent      bool                        // no consent enforcement (benchmark baselines)
	open           bool                        // no token verification: OpenPolicy (benchmark baselines)
	engine         string                      // "redis" for the Redis engine (default: embedded)
	export         *rest.ExportConfig          // bulk export (default: none)
	exportYieldAt  int                         // Assembly.ExportYieldAt
	wrapSink       func(audit.Sink) audit.Sink // wraps the checked store sink (tests that hold a request)
	// fixed makes the server deterministic: every clock stops at this instant and ids are counters, so
	// that two servers given the same requests answer the same bytes.
	fixed time.Time
	// demo replaces the demo population's transaction Bundles.
	demo [][]byte
	// proxies are the trusted reverse proxies.
	proxies []*net.IPNet
	// limits and throttle bound the requests (default: the defaults, with a 1 MiB body, and no throttle);
	// service adjusts the FHIR service's configuration.
	limits   *Limits
	throttle *throttle.Limiter
	service  func(*rest.Config)
	// listener wraps the server's listener (to count what it reads).
	listener func(net.Listener) net.Listener
	// auditClock, when set, is the audit trail's clock (the instant events are recorded).
	auditClock func() time.Time
}

// openTestStore opens an empty store of the engine: the embedded one in a temporary directory, or a
// fresh key prefix of the test Redis (removed when the test ends).
func openTestStore(t testing.TB, engine string, now func() time.Time) store.Store {
	t.Helper()
	if engine == "redis" {
		url := sharedtest.RedisURL(t)
		prefix := "fhirgate-gw-test:" + rest.NewUUID() + ":"
		st, err := redis.Open(context.Background(), redis.Config{URL: url, Prefix: prefix, AcceptDataLoss: true, Now: now,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := errors.Join(st.Close(), redistest.Drop(context.Background(), url, prefix)); err != nil {
				t.Error(err)
			}
		})
		return st
	}
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// steppingClock returns a clock that starts at start and moves on by step at every reading.
func steppingClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

// counter returns an id maker giving prefix-1, prefix-2...
func counter(prefix string) func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("%s-%d", prefix, n)
	}
}

func newAuthServer(t testing.TB, opts ...authOptions) *authServer {
	t.Helper()
	o := authOptions{consentDefault: consent.Permit, denyStatus: 404}
	if len(opts) > 0 {
		o = opts[0]
	}
	var now func() time.Time
	rcfg := rest.Config{}
	if !o.fixed.IsZero() {
		now = func() time.Time { return o.fixed }
		rcfg.Now, rcfg.NewID = now, counter("id")
	}
	st := openTestStore(t, o.engine, now)
	ts := &testServer{store: st}
	ts.Server = httptest.NewUnstartedServer(nil) // served below by the gateway's own HTTP server
	t.Cleanup(ts.Server.Close)
	origin := "http://" + ts.Server.Listener.Addr().String()
	ts.base = origin + "/fhir"
	rcfg.BaseURL = ts.base
	loadPopulation(t, st, rcfg, o.demo) // whatever the server's limits
	if o.service != nil {
		o.service(&rcfg)
	}
	issuerLag := new(atomic.Int64)
	iss, err := devissuer.New(devissuer.Config{Issuer: origin + "/dev-issuer", Audience: ts.base, KeyDir: t.TempDir(),
		Now: func() time.Time { return time.Now().Add(-time.Duration(issuerLag.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.New(context.Background(), token.Config{Issuer: iss.URL(), Audience: ts.base,
		HTTPClient: &http.Client{Transport: iss.Transport()}})
	if err != nil {
		t.Fatal(err)
	}
	limits := Limits{MaxBody: 1 << 20}
	if o.limits != nil {
		limits = *o.limits
	}
	// The server is assembled as the serve command assembles it; only the options differ.
	asm := Assembly{
		Store: st,
		Gateway: Config{BaseURL: ts.base, Limits: limits, Throttle: o.throttle, DevIssuer: iss.Handler(), TrustedProxies: o.proxies,
			SMART: conformance.SMARTFromDiscovery(verifier.Discovery()), CORSOrigins: []string{"https://app.example"}},
		Service:       rcfg,
		Authenticator: auth.NewAuthenticator(verifier, ts.base),
		Access: auth.Options{DenyStatus: o.denyStatus, AdminClients: []string{adminClient}, AuditorClients: []string{auditorClient},
			AuditSourceClients: []string{sourceClient}, Now: now},
		ConsentDefault: o.consentDefault,
		NoConsent:      o.noConsent,
		NoAudit:        o.noAudit,
		Notify:         o.notify,
		Checkpoints:    &audit.CheckpointConfig{Signer: audit.EphemeralSigner(), Logger: slog.New(slog.DiscardHandler)},
		Metrics:        NewMetrics(nil),
		Export:         o.export,
		ExportYieldAt:  o.exportYieldAt,
	}
	if o.open {
		asm.Policy = OpenPolicy{}
	}
	var checks *sinkChecks
	if o.audit != nil {
		asm.Audit = *o.audit
	} else if _, bench := t.(*testing.B); !bench { // benchmarks measure the trail as it runs in production
		checks = &sinkChecks{}
		checkEventsOf(t, checks)
		asm.AuditSink = func(svc *rest.Service) audit.Sink {
			var sink audit.Sink = checkedSink{audit.NewStoreSink(st, svc), svc, checks}
			if o.wrapSink != nil {
				sink = o.wrapSink(sink)
			}
			return sink
		}
	}
	if now != nil {
		asm.Audit.Now, asm.Audit.NewID = now, counter("audit")
	}
	if o.auditClock != nil {
		asm.Audit.Now = o.auditClock
	}
	app, err := Assemble(asm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close(context.Background()) })
	ts.svc = app.Service
	ts.Server.Config = app.Server.HTTPServer(nil)
	if o.listener != nil {
		ts.Server.Listener = o.listener(ts.Server.Listener)
	}
	ts.Server.Start()
	return &authServer{testServer: ts, issuer: iss, issuerLag: issuerLag, srv: app.Server, notices: app.Notices, metrics: asm.Metrics, sinkChecks: checks,
		exports: app.Exports}
}

// loadPopulation loads the demo population (or the given transaction Bundles) into st, through a plain
// FHIR service of configuration cfg: the data every test starts from.
func loadPopulation(t testing.TB, st store.Store, cfg rest.Config, bundles [][]byte) {
	t.Helper()
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rest.New(cfg, st, v)
	if err != nil {
		t.Fatal(err)
	}
	if bundles == nil {
		bundles = population.Demo()
	}
	for _, b := range bundles {
		if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: b}); err != nil {
			t.Fatal(err)
		}
	}
}

// The clients an authServer knows as administration client and as auditor.
const (
	adminClient   = "admin-app"
	auditorClient = "auditor-app"
	sourceClient  = "source-app"
)

// mint returns a signed access token of an ordinary client; user is "" or a fhirUser reference; purposes
// are v3 ActReason codes.
func (a *authServer) mint(t testing.TB, scopes, patient, user string, purposes ...string) string {
	t.Helper()
	return a.mintAs(t, "matrix-app", scopes, patient, user, purposes...)
}

// mintAs returns a signed access token of a given client.
func (a *authServer) mintAs(t testing.TB, client, scopes, patient, user string, purposes ...string) string {
	t.Helper()
	tok, err := a.issuer.Token(devissuer.TokenRequest{ClientID: client, Scope: scopes, Patient: patient, FHIRUser: user, Purpose: purposes, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mintExpired returns a token of a given client, signed by the server's issuer, that expired an hour ago.
func (a *authServer) mintExpired(t testing.TB, client, scopes, user string) string {
	t.Helper()
	a.issuerLag.Store(int64(2 * time.Hour))
	defer a.issuerLag.Store(0)
	tok, err := a.issuer.Token(devissuer.TokenRequest{ClientID: client, Scope: scopes, FHIRUser: user, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// refs lists the "Type/id" of a Bundle's entries of a search mode ("" for all).
func refs(t testing.TB, body []byte, mode string) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct{ ResourceType, ID string } `json:"resource"`
			Search   struct{ Mode string }             `json:"search"`
			Response struct{ Status string }           `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", body)
	}
	var out []string
	for _, e := range b.Entry {
		if mode == "" || e.Search.Mode == mode {
			out = append(out, e.Resource.ResourceType+"/"+e.Resource.ID)
		}
	}
	slices.Sort(out)
	return out
}

func onlyOf(refs []string, prefixes ...string) bool {
	for _, r := range refs {
		ok := false
		for _, p := range prefixes {
			ok = ok || strings.HasPrefix(r, p)
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestEnforcementMatrix: scope x interaction x own patient / other patient / non-compartment type, over
// real HTTP with real signed tokens, asserting statuses and the ids returned.
func TestEnforcementMatrix(t *testing.T) {
	a := newAuthServer(t)
	alice := a.mint(t, "patient/*.rs", "pat-alice", "Patient/pat-alice")
	aliceObs := a.mint(t, "patient/Observation.rs", "pat-alice", "")
	aliceLab := a.mint(t, "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", "pat-alice", "")
	aliceWrite := a.mint(t, "patient/Observation.cu patient/Observation.rs", "pat-alice", "")
	aliceV1 := a.mint(t, "patient/*.read", "pat-alice", "")
	house := a.mint(t, "user/*.rs", "", "Practitioner/prac-house")
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin") // Bob's consent admits only Dr Martin
	houseWrite := a.mint(t, "user/*.cruds", "", "Practitioner/prac-house")
	backend := a.mint(t, "system/*.read", "", "")
	none := a.mint(t, "openid fhirUser", "", "Practitioner/prac-house")
	obs := func(subject string) []byte {
		return []byte(`{"resourceType":"Observation","status":"final","code":{"text":"note"},"subject":{"reference":"` + subject + `"}}`)
	}

	for _, tc := range []struct {
		name, token, method, path string
		body                      []byte
		status                    int
		want                      []string // exact matches (search) when set
		only                      []string // every returned entry starts with one of these
		includes                  []string
		exclude                   []string // no returned id contains these
		count                     int      // exact number of entries, when set
	}{
		{name: "no token", method: "GET", path: "/Patient/pat-alice", status: 401},
		{name: "garbage token", token: "not.a.jwt", method: "GET", path: "/Patient/pat-alice", status: 401},
		{name: "no resource scope", token: none, method: "GET", path: "/Patient/pat-alice", status: 403},

		{name: "patient reads own Patient", token: alice, method: "GET", path: "/Patient/pat-alice", status: 200},
		{name: "patient reads another Patient", token: alice, method: "GET", path: "/Patient/pat-bob", status: 404},
		{name: "patient reads own Observation", token: alice, method: "GET", path: "/Observation/obs-alice-01", status: 200},
		{name: "patient reads another's Observation", token: alice, method: "GET", path: "/Observation/obs-bob-01", status: 404},
		{name: "patient vreads another's Observation", token: alice, method: "GET", path: "/Observation/obs-bob-01/_history/1", status: 404},
		{name: "patient history of another's Observation", token: alice, method: "GET", path: "/Observation/obs-bob-01/_history", status: 404},
		{name: "patient reads a Practitioner (no compartment)", token: alice, method: "GET", path: "/Practitioner/prac-house", status: 200},
		{name: "patient reads an Organization", token: alice, method: "GET", path: "/Organization/org-insurer", status: 200},
		{name: "patient searches Observations: own only", token: alice, method: "GET", path: "/Observation?_count=100", status: 200, only: []string{"Observation/obs-alice-"}},
		{name: "patient searches another patient's Observations", token: alice, method: "GET", path: "/Observation?patient=pat-bob", status: 200, want: []string{}},
		{name: "patient searches Patients", token: alice, method: "GET", path: "/Patient", status: 200, want: []string{"Patient/pat-alice"}},
		{name: "patient compartment of another patient", token: alice, method: "GET", path: "/Patient/pat-bob/Observation", status: 200, want: []string{}},
		{name: "patient include stays in the compartment", token: alice, method: "GET", path: "/Observation?_id=obs-alice-01,obs-bob-01&_include=Observation:subject",
			status: 200, want: []string{"Observation/obs-alice-01"}, includes: []string{"Patient/pat-alice"}},
		{name: "patient revinclude stays in the compartment", token: alice, method: "GET", path: "/Practitioner?_id=prac-house&_revinclude=Encounter:participant",
			status: 200, only: []string{"Practitioner/prac-house", "Encounter/enc-alice-"}},
		{name: "patient $everything own", token: alice, method: "GET", path: "/Patient/pat-alice/$everything", status: 200,
			only: []string{"Patient/pat-alice", "Observation/obs-alice-", "Encounter/enc-alice-", "Condition/cond-alice-", "MedicationRequest/medreq-alice-", "Consent/consent-alice-", "Practitioner/", "Organization/", "PractitionerRole/"}},
		{name: "patient $everything of another", token: alice, method: "GET", path: "/Patient/pat-bob/$everything", status: 404},
		{name: "patient type history: own only", token: alice, method: "GET", path: "/Observation/_history?_count=200", status: 200, only: []string{"Observation/obs-alice-"}},
		{name: "patient cannot create", token: alice, method: "POST", path: "/Observation", body: obs("Patient/pat-alice"), status: 403},
		{name: "v1 patient/*.read reads own", token: aliceV1, method: "GET", path: "/Observation/obs-alice-02", status: 200},
		{name: "v1 patient/*.read cannot write", token: aliceV1, method: "PUT", path: "/Observation/obs-alice-02", body: nil, status: 403},

		{name: "Observation-only scope refuses Patient", token: aliceObs, method: "GET", path: "/Patient/pat-alice", status: 403},
		{name: "Observation-only scope reads Observation", token: aliceObs, method: "GET", path: "/Observation/obs-alice-08", status: 200},
		{name: "granular: lab read", token: aliceLab, method: "GET", path: "/Observation/obs-alice-08", status: 200},
		{name: "granular: vital-signs read refused", token: aliceLab, method: "GET", path: "/Observation/obs-alice-01", status: 404},
		{name: "granular: search returns only labs", token: aliceLab, method: "GET", path: "/Observation", status: 200,
			want: []string{"Observation/obs-alice-08", "Observation/obs-alice-09", "Observation/obs-alice-10", "Observation/obs-alice-11", "Observation/obs-alice-12"}},

		{name: "patient write scope creates own data", token: aliceWrite, method: "POST", path: "/Observation", body: obs("Patient/pat-alice"), status: 201},
		{name: "patient write scope cannot write another's data", token: aliceWrite, method: "POST", path: "/Observation", body: obs("Patient/pat-bob"), status: 403},
		{name: "patient write scope cannot delete", token: aliceWrite, method: "DELETE", path: "/Observation/obs-alice-03", status: 403},

		{name: "practitioner reads any patient", token: martin, method: "GET", path: "/Patient/pat-bob", status: 200},
		{name: "practitioner searches all patients", token: martin, method: "GET", path: "/Patient", status: 200,
			want: []string{"Patient/pat-alice", "Patient/pat-bob", "Patient/pat-chloe", "Patient/pat-david"}},
		{name: "practitioner without write scope", token: house, method: "POST", path: "/Observation", body: obs("Patient/pat-bob"), status: 403},
		{name: "practitioner with write scope", token: houseWrite, method: "POST", path: "/Observation", body: obs("Patient/pat-alice"), status: 201},
		{name: "practitioner writing for a patient who refuses him", token: houseWrite, method: "POST", path: "/Observation", body: obs("Patient/pat-bob"), status: 404},
		{name: "backend system/*.read searches", token: backend, method: "GET", path: "/Patient?_summary=count", status: 200},
		{name: "backend system/*.read system history", token: backend, method: "GET", path: "/_history?_count=1", status: 200},
		{name: "patient system history: own data only, full pages", token: alice, method: "GET", path: "/_history?_count=10", status: 200,
			exclude: []string{"bob", "chloe", "david"}, count: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.token != "" {
				headers = append(headers, "Authorization: Bearer "+tc.token)
			}
			body := tc.body
			if tc.method == "PUT" && body == nil {
				body = []byte(`{"resourceType":"Observation","id":"obs-alice-02","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}}`)
			}
			r := a.do(t, tc.method, tc.path, body, headers...)
			if r.status != tc.status {
				t.Fatalf("%s %s: status %d, want %d: %.400s", tc.method, tc.path, r.status, tc.status, r.body)
			}
			switch r.status {
			case 401:
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
				}
				if tc.token != "" && !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
					t.Fatalf("bad token without error=invalid_token: %q", r.header.Get("WWW-Authenticate"))
				}
				r.issue(t)
			case 403:
				if code, _, _ := r.issue(t); code != "forbidden" {
					t.Fatalf("403 issue code %q", code)
				}
			case 404:
				r.issue(t)
			}
			if tc.want != nil && !slices.Equal(refs(t, r.body, "match"), append([]string{}, tc.want...)) {
				t.Fatalf("matches %v, want %v", refs(t, r.body, "match"), tc.want)
			}
			if tc.only != nil {
				got := refs(t, r.body, "")
				if len(got) == 0 || !onlyOf(got, tc.only...) {
					t.Fatalf("returned %v, want only %v", got, tc.only)
				}
			}
			for _, x := range tc.exclude {
				for _, ref := range refs(t, r.body, "") {
					if strings.Contains(ref, x) {
						t.Fatalf("returned %s", ref)
					}
				}
			}
			if tc.count > 0 && len(refs(t, r.body, "")) != tc.count {
				t.Fatalf("%d entries, want a full page of %d", len(refs(t, r.body, "")), tc.count)
			}
			if tc.includes != nil && !slices.Equal(refs(t, r.body, "include"), tc.includes) {
				t.Fatalf("includes %v, want %v", refs(t, r.body, "include"), tc.includes)
			}
		})
	}

	t.Run("403 names the scope that was needed", func(t *testing.T) {
		r := a.do(t, "POST", "/Observation", obs("Patient/pat-bob"), "Authorization: Bearer "+house)
		if wa := r.header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="user/Observation.c"`) {
			t.Fatalf("WWW-Authenticate %q", wa)
		}
	})

	t.Run("batch entries are authorized one by one", func(t *testing.T) {
		bundle := `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"Patient/pat-alice"}},
			{"request":{"method":"GET","url":"Patient/pat-bob"}},
			{"request":{"method":"POST","url":"Observation"},"resource":` + string(obs("Patient/pat-alice")) + `},
			{"request":{"method":"GET","url":"Observation?patient=pat-bob"}}]}`
		r := a.do(t, "POST", "", []byte(bundle), "Authorization: Bearer "+alice)
		r.wantStatus(t, 200)
		var b struct {
			Entry []struct {
				Response struct{ Status string } `json:"response"`
				Resource json.RawMessage         `json:"resource"`
			} `json:"entry"`
		}
		mustJSON(t, r.body, &b)
		var got []string
		for _, e := range b.Entry {
			got = append(got, strings.Fields(e.Response.Status)[0])
		}
		if !slices.Equal(got, []string{"200", "404", "403", "200"}) {
			t.Fatalf("entry statuses %v: %s", got, r.body)
		}
		if n := len(refs(t, b.Entry[3].Resource, "match")); n != 0 {
			t.Fatalf("a batch search leaked %d of another patient's Observations", n)
		}
	})

	t.Run("a transaction with one forbidden entry writes nothing", func(t *testing.T) {
		bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"request":{"method":"PUT","url":"Observation/tx-ok"},"resource":{"resourceType":"Observation","id":"tx-ok","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-alice"}}},
			{"request":{"method":"PUT","url":"Observation/tx-bad"},"resource":{"resourceType":"Observation","id":"tx-bad","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-bob"}}}]}`
		r := a.do(t, "POST", "", []byte(bundle), "Authorization: Bearer "+aliceWrite)
		r.wantStatus(t, 403)
		if c := a.do(t, "GET", "/Observation/tx-ok", nil, "Authorization: Bearer "+house).status; c != 404 {
			t.Fatalf("the allowed entry of a refused transaction was written (%d)", c)
		}
	})

	t.Run("public endpoints need no token", func(t *testing.T) {
		for _, p := range []string{"/metadata", "/.well-known/smart-configuration"} {
			if c := a.do(t, "GET", p, nil).status; c != 200 {
				t.Fatalf("%s: %d", p, c)
			}
		}
	})
}
