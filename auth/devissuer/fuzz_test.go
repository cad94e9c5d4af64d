package devissuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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
