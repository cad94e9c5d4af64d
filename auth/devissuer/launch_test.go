package devissuer

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestAuthorizeByPost(t *testing.T) {
	e := newEnv(t, nil)
	verifier, challenge := pkcePair()
	q := authQuery(challenge)
	resp, body := e.post(t, "/authorize", q, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Sign in as") {
		t.Fatalf("POST /authorize with a request: %s %s", resp.Status, body)
	}
	code := e.authorize(t, q, "Practitioner/prac-house", "Patient/pat-alice")
	if resp, m := e.tokenJSON(t, exchange(code, verifier), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %v", m)
	}
	bad := authQuery(challenge, "code_challenge_method", "plain")
	resp, body = e.post(t, "/authorize", bad, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "S256") {
		t.Fatalf("POST /authorize with plain PKCE: %s %s", resp.Status, body)
	}
}

func TestRegisteredRedirectURI(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []Client{{ID: "smart-app", Type: ClientPublic, RedirectURIs: []string{redirectURI}}}
	})
	_, challenge := pkcePair()
	for _, uri := range []string{redirectURI + "&x=1", "http://127.0.0.1:9/callback", "http://evil.example/callback?app=1"} {
		resp, _ := e.get(t, "/authorize?"+authQuery(challenge, "redirect_uri", uri).Encode())
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %s: %s, want 400 and no redirect", uri, resp.Status)
		}
	}
	if resp, body := e.get(t, "/authorize?"+authQuery(challenge).Encode()); resp.StatusCode != http.StatusOK {
		t.Errorf("the registered redirect_uri: %s %s", resp.Status, body)
	}
	// Past the redirect_uri check, errors go back to the registered redirect_uri (RFC 6749 §4.1.2.1).
	for _, tt := range []struct{ name, key, value, code string }{
		{"plain PKCE", "code_challenge_method", "plain", "invalid_request"},
		{"another aud", "aud", "https://elsewhere.example/fhir", "invalid_request"},
		{"bad scope", "scope", "patient/*.rs \"bad\"", "invalid_scope"},
	} {
		q := authQuery(challenge, tt.key, tt.value)
		resp, _ := e.get(t, "/authorize?"+q.Encode())
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), redirectURI+"&") ||
			loc.Query().Get("error") != tt.code || loc.Query().Get("state") != q.Get("state") || loc.Query().Has("code") {
			t.Errorf("%s: %s to %q, want the error %s sent back with the state", tt.name, resp.Status, resp.Header.Get("Location"), tt.code)
		}
	}
}

func TestEHRLaunch(t *testing.T) {
	e := newEnv(t, nil)
	resp, m := e.tokenJSONAt(t, "/launch", url.Values{"patient": {"pat-bob"}, "encounter": {"enc-1"},
		"smart_style_url": {"http://127.0.0.1:9/style.json"}, "need_patient_banner": {"false"}})
	if resp.StatusCode != http.StatusOK || m["launch"] == "" {
		t.Fatalf("POST /launch: %d %v", resp.StatusCode, m)
	}
	launch := m["launch"].(string)
	verifier, challenge := pkcePair()
	q := authQuery(challenge, "scope", "launch openid fhirUser patient/*.rs", "launch", launch)
	form, page := e.consentForm(t, q)
	if strings.Contains(page, `name="patient"`) || !strings.Contains(page, "Patient/pat-bob") {
		t.Errorf("the consent page of an EHR launch offers a patient picker or hides the launch patient")
	}
	form.Set("user", "Practitioner/prac-house")
	form.Set("patient", "Patient/pat-alice") // ignored: the EHR chose the patient
	form.Set("action", "allow")
	resp, body := e.post(t, "/authorize", form, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %s %s", resp.Status, body)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, tok := e.tokenJSON(t, exchange(loc.Query().Get("code"), verifier), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %v", tok)
	}
	checkClaims(t, tok, map[string]any{"patient": "pat-bob", "encounter": "enc-1",
		"fhirContext": []any{map[string]any{"reference": "Encounter/enc-1"}}, "need_patient_banner": false,
		"smart_style_url": "http://127.0.0.1:9/style.json"})

	for _, tt := range []struct{ name, scope, launch string }{
		{"launch scope without launch", "launch patient/*.rs", ""},
		{"launch without launch scope", "patient/*.rs", launch},
		{"unknown launch", "launch patient/*.rs", "not-a-launch"},
	} {
		q := authQuery(challenge, "scope", tt.scope, "launch", tt.launch)
		if resp, _ := e.get(t, "/authorize?"+q.Encode()); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", tt.name, resp.Status)
		}
	}
	if resp, m := e.tokenJSONAt(t, "/launch", url.Values{"encounter": {"enc-1"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a launch without patient: %d %v", resp.StatusCode, m)
	}
}

// tokenJSONAt posts a form to path and decodes the JSON answer.
func (e *env) tokenJSONAt(t *testing.T, path string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	resp, body := e.post(t, path, form, nil)
	m := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q", path, resp.StatusCode, body)
		}
	}
	return resp, m
}

func TestLaunchPage(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get(t, "/launch")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `value="Patient/pat-alice"`) {
		t.Fatalf("GET /launch: %s %s", resp.Status, body)
	}
	resp, body = e.post(t, "/launch", url.Values{"patient": {"Patient/pat-bob"}, "encounter": {"enc-9"},
		"app": {"http://127.0.0.1:9/app/launch.html?x=1"}}, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("POST /launch from the page: %s (a link is shown, no redirect)", resp.Status)
	}
	m := regexp.MustCompile(`href="([^"]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no link in %s", body)
	}
	link, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || link.Host != "127.0.0.1:9" || link.Query().Get("iss") != audience || link.Query().Get("x") != "1" {
		t.Fatalf("link %s", m[1])
	}
	if l := e.iss.launch(link.Query().Get("launch")); l == nil || l.patient != "pat-bob" || l.encounter != "enc-9" {
		t.Fatalf("the link's launch is %+v", l)
	}
	for _, app := range []string{"javascript:alert(1)", "//evil.example/x", "http://user:pw@127.0.0.1/"} {
		if resp, _ := e.post(t, "/launch", url.Values{"patient": {"pat-bob"}, "app": {app}}, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("app %q: %s, want 400", app, resp.Status)
		}
	}
}
