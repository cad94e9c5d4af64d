package devissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzTokenForm posts arbitrary form bodies to the token endpoint: it must never panic nor answer
// 500, and must always answer an OAuth JSON object, with a valid token on success.
func FuzzTokenForm(f *testing.F) {
	seeds := []string{
		"grant_type=client_credentials&client_id=backend&scope=system%2F*.rs",
		"grant_type=client_credentials&client_id=b&scope=system/*.rs&patient=pat-alice&fhirUser=Practitioner/prac-house&purpose_of_use=TREAT,ETREAT&organization=Organization/1&lifetime=600",
		"grant_type=client_credentials&client_id=b&scope=x&lifetime=86401",
		"grant_type=client_credentials&client_id=b&scope=x&lifetime=-1",
		"grant_type=client_credentials&client_id=b&scope=x&patient=Patient/",
		"grant_type=authorization_code&code=abc&redirect_uri=http://127.0.0.1/cb&client_id=app&code_verifier=" + strings.Repeat("a", 43),
		"grant_type=password&username=a&password=b",
		"grant_type=refresh_token&refresh_token=abc&client_id=app",
		"grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c",
		"grant_type=client_credentials&grant_type=client_credentials",
		"client_id=%zz",
		"a;b=c",
		"",
		"=&&==",
		"grant_type=client_credentials&client_id=%C3%28&scope=%00",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	dir := seededKeyDir(f)
	iss, err := New(Config{Issuer: "http://127.0.0.1/dev-issuer", Audience: audience, KeyDir: dir, Users: demoUsers, Patients: demoPatients})
	if err != nil {
		f.Fatal(err)
	}
	h := http.StripPrefix(prefix, iss.Handler())
	set := iss.publicKeys()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1"+prefix+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("status %d, not JSON: %q", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			if s, _ := m["error"].(string); s == "" {
				t.Fatalf("status %d without an error code: %v", rec.Code, m)
			}
			return
		}
		raw, _ := m["access_token"].(string)
		claims, _, err := tryVerifyJWT(set, raw, "at+jwt")
		if err != nil {
			t.Fatalf("a token that does not verify for %q: %v", body, err)
		}
		form, _ := url.ParseQuery(body)
		if claims["client_id"] != form.Get("client_id") || claims["iss"] != iss.URL() || claims["aud"] != audience {
			t.Fatalf("claims %v for %q", claims, body)
		}
	})
}

// FuzzClientAssertion posts arbitrary client assertions (and assertion types) to the token endpoint of
// an issuer with a registered asymmetric client: no panic, no 500, and never a token, since no input
// can carry the client's signature.
func FuzzClientAssertion(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJiYWNrZW5kIn0.",
		"eyJhbGciOiJFUzM4NCIsImtpZCI6ImsifQ.eyJpc3MiOiJiYWNrZW5kIiwic3ViIjoiYmFja2VuZCJ9.AAAA",
		"a.b.c", "....", "", "eyJ9.eyJ9.x", strings.Repeat("A", 20000),
	} {
		f.Add(s, jwtBearer)
		f.Add(s, "")
	}
	k := newBackendKeysFor(f)
	iss, err := New(Config{Issuer: "http://127.0.0.1/dev-issuer", Audience: audience, KeyDir: seededKeyDir(f), Users: demoUsers,
		Clients: []Client{{ID: "backend", Type: ClientAsymmetric, JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.Public()}}}}})
	if err != nil {
		f.Fatal(err)
	}
	h := http.StripPrefix(prefix, iss.Handler())
	f.Fuzz(func(t *testing.T, assertion, typ string) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}, "client_assertion": {assertion},
			"client_assertion_type": {typ}}
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1"+prefix+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK || rec.Code >= 500 || strings.Contains(rec.Body.String(), "access_token") {
			t.Fatalf("status %d for %q: %s", rec.Code, assertion, rec.Body)
		}
	})
}

// newBackendKeysFor returns a P-384 public key of a client.
func newBackendKeysFor(tb testing.TB) *jose.JSONWebKey {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &jose.JSONWebKey{Key: priv, KeyID: "k", Algorithm: "ES384"}
}
