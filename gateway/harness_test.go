package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"fhirgate/auth"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
)

// testServer is a real server on 127.0.0.1 over a real embedded store in a temporary directory.
type testServer struct {
	*httptest.Server
	base  string
	store store.Store
	svc   *rest.Service
}

type serverOption func(*Config)

func newTestServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := &testServer{store: st}
	ts.Server = httptest.NewUnstartedServer(nil)
	t.Cleanup(ts.Server.Close)
	ts.base = "http://" + ts.Server.Listener.Addr().String() + "/fhir"
	cfg := Config{BaseURL: ts.base, Limits: Limits{MaxBody: 1 << 20}}
	for _, o := range opts {
		o(&cfg)
	}
	// Assembled as the serve command assembles a server, without tokens, consent or audit.
	app, err := Assemble(Assembly{Store: st, Gateway: cfg, Policy: OpenPolicy{}, NoConsent: true, NoAudit: true})
	if err != nil {
		t.Fatal(err)
	}
	ts.svc = app.Service
	ts.Server.Config = app.Server.HTTPServer(nil)
	ts.Server.Start()
	return ts
}

// result is a response with its body read.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %v: %s", r.status, err, r.body)
	}
	return m
}

// do sends a request; headers are "Name: value" strings.
func (ts *testServer) do(t testing.TB, method, path string, body []byte, headers ...string) result {
	t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = ts.base + path
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// issue returns the first issue of an OperationOutcome body.
func (r result) issue(t testing.TB) (code, expression, details string) {
	t.Helper()
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code       string   `json:"code"`
			Expression []string `json:"expression"`
			Details    struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(r.body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("expected an OperationOutcome, got %d: %s", r.status, r.body)
	}
	if len(oo.Issue[0].Expression) > 0 {
		expression = oo.Issue[0].Expression[0]
	}
	return oo.Issue[0].Code, expression, oo.Issue[0].Details.Text
}

func (r result) wantStatus(t testing.TB, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

func (r result) wantFHIRJSON(t testing.TB) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Fatalf("Content-Type %q, want application/fhir+json", ct)
	}
}

// OpenPolicy authorizes everything: the REST behaviour tests exercise the FHIR layer without tokens
// (the enforcement tests exercise tokens).
type OpenPolicy struct{}

// GuardFor implements Policy.
func (OpenPolicy) GuardFor(*http.Request) (Guard, error) { return openGuard{}, nil }

// openGuard allows everything and decides no consent.
type openGuard struct{ rest.AllowAll }

func (openGuard) Principal() *auth.Principal { return nil }
func (openGuard) Decisions() []auth.Decision { return nil }
