package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	prefix   = "/dev-issuer"
	audience = "http://fhir.test/fhir"
)

var (
	demoUsers = []Choice{
		{Ref: "Practitioner/prac-house", Label: "Dr Gregory House (Hôpital Nord)"},
		{Ref: "Practitioner/prac-martin", Label: "Dr Marie Martin (Clinique Sud)"},
	}
	demoPatients = []Choice{
		{Ref: "Patient/pat-alice", Label: "Alice Dupont"},
		{Ref: "Patient/pat-bob", Label: "Bob Martin"},
	}
)

// testKeyPEM is one RSA key generated for the whole test run, so that most tests need not pay for a
// key generation; tests of key creation use empty directories instead.
var testKeyPEM = sync.OnceValue(func() []byte {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
})

// seededKeyDir returns a new directory holding the shared test key.
func seededKeyDir(t testing.TB) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFile), testKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeClock is an adjustable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an issuer mounted under prefix on a real HTTP server on 127.0.0.1.
type env struct {
	srv    *httptest.Server
	iss    *Issuer
	url    string // the issuer URL
	clock  *fakeClock
	client *http.Client // follows no redirect
}

// newEnv starts an issuer; edit may change its configuration (KeyDir is a seeded directory unless edit
// sets another).
func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	e := &env{srv: srv, url: srv.URL + prefix, clock: newClock()}
	cfg := Config{Issuer: e.url, Audience: audience, Users: demoUsers, Patients: demoPatients, Now: e.clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.KeyDir == "" {
		cfg.KeyDir = seededKeyDir(t)
	}
	iss, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.iss = iss
	mux.Handle(prefix+"/", http.StripPrefix(prefix, iss.Handler()))
	e.client = &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e
}

// do sends a request and returns the response with its body read.
func (e *env) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (e *env) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

// post sends a form; edit may change the request (headers) before it is sent.
func (e *env) post(t *testing.T, path string, form url.Values, edit func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return e.do(t, req)
}

// tokenJSON posts to /token and decodes the JSON answer.
func (e *env) tokenJSON(t *testing.T, form url.Values, edit func(*http.Request)) (*http.Response, map[string]any) {
	t.Helper()
	resp, body := e.post(t, "/token", form, edit)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("token endpoint answered %d with non-JSON %q", resp.StatusCode, body)
	}
	return resp, m
}

func (e *env) jwks(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	resp, body := e.get(t, "/jwks")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /jwks: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("GET /jwks: %v", err)
	}
	return set
}

// verifyJWT checks a token's signature against a JWKS and its typ header, and returns its claims and
// key id.
func verifyJWT(t *testing.T, set jose.JSONWebKeySet, raw, typ string) (map[string]any, string) {
	t.Helper()
	claims, kid, err := tryVerifyJWT(set, raw, typ)
	if err != nil {
		t.Fatal(err)
	}
	return claims, kid
}

type verifyError string

func (e verifyError) Error() string { return string(e) }

func tryVerifyJWT(set jose.JSONWebKeySet, raw, typ string) (map[string]any, string, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, "", err
	}
	if len(jws.Signatures) != 1 {
		return nil, "", verifyError("want one signature")
	}
	h := jws.Signatures[0].Header
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); got != typ {
		return nil, "", verifyError("typ header " + got + ", want " + typ)
	}
	if h.Algorithm != string(jose.RS256) {
		return nil, "", verifyError("alg " + h.Algorithm)
	}
	keys := set.Key(h.KeyID)
	if h.KeyID == "" || len(keys) != 1 {
		return nil, "", verifyError("the JWKS has no single key " + h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return nil, "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, "", err
	}
	return claims, h.KeyID, nil
}

// checkClaims compares claims with the wanted values; a nil wanted value means the claim must be
// absent.
func checkClaims(t *testing.T, claims map[string]any, want map[string]any) {
	t.Helper()
	for name, w := range want {
		got, ok := claims[name]
		if w == nil {
			if ok {
				t.Errorf("claim %s = %v, want none", name, got)
			}
			continue
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(w)
		if !ok || string(gotJSON) != string(wantJSON) {
			t.Errorf("claim %s = %s, want %s", name, gotJSON, wantJSON)
		}
	}
}
