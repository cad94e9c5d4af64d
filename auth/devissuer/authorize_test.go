package devissuer

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const redirectURI = "http://127.0.0.1:9/callback?app=1"

// pkcePair returns a verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	verifier = randomString(40) // 54 characters
	return verifier, s256(verifier)
}

// authQuery is a valid authorization request; kv overrides parameters ("" removes one).
func authQuery(challenge string, kv ...string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {"smart-app"}, "redirect_uri": {redirectURI},
		"scope": {"openid fhirUser launch/patient patient/*.rs"}, "state": {"st-" + randomString(6)},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "aud": {audience}, "nonce": {"n-0S6_WzA2Mj"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consentForm gets the consent page of a request and returns the form it would post (its hidden
// fields), checking the page on the way.
func (e *env) consentForm(t *testing.T, q url.Values) (url.Values, string) {
	t.Helper()
	resp, body := e.get(t, "/authorize?"+q.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /authorize: %s: %s", resp.Status, body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return form, string(body)
}

// authorize drives the browser side: consent page, then the choices posted; it returns the code.
func (e *env) authorize(t *testing.T, q url.Values, user, patient string) string {
	t.Helper()
	form, _ := e.consentForm(t, q)
	form.Set("user", user)
	if patient != "" {
		form.Set("patient", patient)
	}
	form.Set("action", "allow")
	resp, body := e.post(t, "/authorize", form, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /authorize: %s: %s", resp.Status, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	back := loc.Query()
	if back.Get("state") != q.Get("state") {
		t.Errorf("state %q, want %q", back.Get("state"), q.Get("state"))
	}
	if back.Get("code") == "" {
		t.Fatalf("no code in %s", loc)
	}
	return back.Get("code")
}

func exchange(code, verifier string, kv ...string) url.Values {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {"smart-app"}, "code_verifier": {verifier}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func TestAuthorizationCodeFlow(t *testing.T) {
	e := newEnv(t, nil)
	set := e.jwks(t)
	verifier, challenge := pkcePair()
	q := authQuery(challenge)

	t.Run("consent page", func(t *testing.T) {
		resp, body := e.get(t, "/authorize?"+q.Encode())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s", resp.Status)
		}
		page := string(body)
		headers := []struct{ name, prefix string }{
			{"Content-Type", "text/html; charset=utf-8"},
			{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
			{"X-Frame-Options", "DENY"},
			{"Cache-Control", "no-store"},
		}
		for _, h := range headers {
			if got := resp.Header.Get(h.name); !strings.HasPrefix(got, h.prefix) {
				t.Errorf("%s: %q, want %q…", h.name, got, h.prefix)
			}
		}
		// Browsers check the redirect that follows a form submission against form-action too.
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9;") {
			t.Errorf("the CSP %q does not let the form's redirect reach the client", csp)
		}
		contains := []string{
			"Dr Gregory House (Hôpital Nord)", "Dr Marie Martin (Clinique Sud)", "Alice Dupont", "Bob Martin",
			`<form method="post"`, `type="radio" id="user-0" name="user" value="Practitioner/prac-house"`,
			`<label for="user-0">`, `name="patient" value="Patient/pat-alice"`, `<label for="patient-0">`,
			"<legend>Sign in as</legend>", "smart-app", `<html lang="en">`,
		}
		for _, s := range contains {
			if !strings.Contains(page, s) {
				t.Errorf("the page lacks %s", s)
			}
		}
		for _, s := range []string{"<script", "src=", "href=", "@import", "url("} {
			if strings.Contains(page, s) {
				t.Errorf("the page holds %s: no scripts or external resources", s)
			}
		}
	})

	t.Run("code exchanged for tokens", func(t *testing.T) {
		code := e.authorize(t, q, "Practitioner/prac-house", "Patient/pat-alice")
		resp, m := e.tokenJSON(t, exchange(code, verifier), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s: %v", resp.Status, m)
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
			t.Errorf("caching headers %v", resp.Header)
		}
		checkClaims(t, m, map[string]any{"token_type": "Bearer", "expires_in": 3600, "patient": "pat-alice",
			"scope": "openid fhirUser launch/patient patient/*.rs"})
		now := e.clock.Now().Unix()
		at, _ := verifyJWT(t, set, m["access_token"].(string), "at+jwt")
		checkClaims(t, at, map[string]any{"iss": e.url, "aud": audience, "sub": "Practitioner/prac-house",
			"client_id": "smart-app", "azp": "smart-app", "fhirUser": "Practitioner/prac-house", "patient": "pat-alice",
			"scope": "openid fhirUser launch/patient patient/*.rs", "iat": now, "exp": now + 3600, "auth_time": now,
			"nonce": nil})
		idToken, _ := m["id_token"].(string)
		id, _ := verifyJWT(t, set, idToken, "JWT")
		checkClaims(t, id, map[string]any{"iss": e.url, "aud": "smart-app", "sub": "Practitioner/prac-house",
			"fhirUser": "Practitioner/prac-house", "nonce": "n-0S6_WzA2Mj", "iat": now, "exp": now + 3600,
			"scope": nil, "patient": nil})
	})

	t.Run("the client's redirect_uri query is kept", func(t *testing.T) {
		form, _ := e.consentForm(t, q)
		form.Set("user", "Practitioner/prac-martin")
		form.Set("patient", "Patient/pat-bob")
		form.Set("action", "allow")
		resp, _ := e.post(t, "/authorize", form, nil)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(loc.String(), "http://127.0.0.1:9/callback?app=1&") || loc.Query().Get("app") != "1" {
			t.Errorf("Location %s", loc)
		}
	})

	failures := []struct {
		name    string
		form    func(code string) url.Values
		advance time.Duration
		twice   bool // the first exchange succeeds, the second is refused
		status  int
		errCode string
	}{
		{name: "wrong verifier", form: func(c string) url.Values { v, _ := pkcePair(); return exchange(c, v) },
			status: 400, errCode: "invalid_grant"},
		{name: "verifier too short", form: func(c string) url.Values { return exchange(c, verifier[:42]) },
			status: 400, errCode: "invalid_grant"},
		{name: "challenge sent as verifier", form: func(c string) url.Values { return exchange(c, challenge) },
			status: 400, errCode: "invalid_grant"},
		{name: "code reused", form: func(c string) url.Values { return exchange(c, verifier) }, twice: true,
			status: 400, errCode: "invalid_grant"},
		{name: "code expired", form: func(c string) url.Values { return exchange(c, verifier) }, advance: CodeLifetime + time.Second,
			status: 400, errCode: "invalid_grant"},
		{name: "wrong redirect_uri", form: func(c string) url.Values {
			return exchange(c, verifier, "redirect_uri", "http://127.0.0.1:9/callback")
		}, status: 400, errCode: "invalid_grant"},
		{name: "another client", form: func(c string) url.Values { return exchange(c, verifier, "client_id", "evil-app") },
			status: 400, errCode: "invalid_grant"},
		{name: "missing verifier", form: func(c string) url.Values { return exchange(c, verifier, "code_verifier", "") },
			status: 400, errCode: "invalid_request"},
		{name: "missing redirect_uri", form: func(c string) url.Values { return exchange(c, verifier, "redirect_uri", "") },
			status: 400, errCode: "invalid_request"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			code := e.authorize(t, q, "Practitioner/prac-house", "Patient/pat-alice")
			e.clock.Advance(tt.advance)
			if tt.twice {
				if resp, m := e.tokenJSON(t, tt.form(code), nil); resp.StatusCode != http.StatusOK {
					t.Fatalf("first exchange: %s: %v", resp.Status, m)
				}
			}
			resp, m := e.tokenJSON(t, tt.form(code), nil)
			if resp.StatusCode != tt.status || m["error"] != tt.errCode {
				t.Errorf("%s %v, want %d %s", resp.Status, m, tt.status, tt.errCode)
			}
			if _, ok := m["access_token"]; ok {
				t.Error("an access token was issued")
			}
		})
	}

	t.Run("a failed exchange consumes the code", func(t *testing.T) {
		code := e.authorize(t, q, "Practitioner/prac-house", "Patient/pat-alice")
		wrong, _ := pkcePair()
		e.tokenJSON(t, exchange(code, wrong), nil)
		if resp, m := e.tokenJSON(t, exchange(code, verifier), nil); m["error"] != "invalid_grant" {
			t.Errorf("%s %v, want invalid_grant", resp.Status, m)
		}
	})

	t.Run("code still good just before it expires", func(t *testing.T) {
		code := e.authorize(t, q, "Practitioner/prac-house", "Patient/pat-alice")
		e.clock.Advance(CodeLifetime)
		if resp, m := e.tokenJSON(t, exchange(code, verifier), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s %v", resp.Status, m)
		}
	})

	t.Run("user scopes without openid", func(t *testing.T) {
		uq := authQuery(challenge, "scope", "fhirUser user/*.rs")
		_, page := e.consentForm(t, uq)
		if strings.Contains(page, "Alice Dupont") {
			t.Error("a patient picker without a patient scope")
		}
		code := e.authorize(t, uq, "Practitioner/prac-martin", "")
		resp, m := e.tokenJSON(t, exchange(code, verifier), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %v", resp.Status, m)
		}
		checkClaims(t, m, map[string]any{"id_token": nil, "patient": nil, "scope": "fhirUser user/*.rs"})
		at, _ := verifyJWT(t, set, m["access_token"].(string), "at+jwt")
		checkClaims(t, at, map[string]any{"sub": "Practitioner/prac-martin", "fhirUser": "Practitioner/prac-martin", "patient": nil})
	})
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t, nil)
	_, challenge := pkcePair()
	tests := []struct {
		name   string
		query  url.Values
		status int
		says   string
	}{
		{"missing code_challenge", authQuery(challenge, "code_challenge", ""), 400, "code_challenge"},
		{"plain challenge method", authQuery(challenge, "code_challenge_method", "plain"), 400, "S256"},
		{"missing challenge method", authQuery(challenge, "code_challenge_method", ""), 400, "S256"},
		{"malformed challenge", authQuery(challenge, "code_challenge", "short"), 400, "code_challenge"},
		{"aud mismatch", authQuery(challenge, "aud", "http://other.test/fhir"), 400, "aud"},
		{"missing aud", authQuery(challenge, "aud", ""), 400, "aud"},
		{"response_type token", authQuery(challenge, "response_type", "token"), 400, "response_type"},
		{"missing client_id", authQuery(challenge, "client_id", ""), 400, "client_id"},
		{"missing redirect_uri", authQuery(challenge, "redirect_uri", ""), 400, "redirect_uri"},
		{"javascript redirect_uri", authQuery(challenge, "redirect_uri", "javascript:alert(1)"), 400, "redirect_uri"},
		{"custom-scheme redirect_uri", authQuery(challenge, "redirect_uri", "com.example.app:/cb"), 400, "redirect_uri"},
		{"redirect_uri with a fragment", authQuery(challenge, "redirect_uri", "http://127.0.0.1:9/cb#x"), 400, "redirect_uri"},
		{"redirect_uri with user info", authQuery(challenge, "redirect_uri", "http://u:p@127.0.0.1:9/cb"), 400, "redirect_uri"},
		{"missing scope", authQuery(challenge, "scope", ""), 400, "scope"},
		{"missing state", authQuery(challenge, "state", ""), 400, "state"},
		{"repeated parameter", func() url.Values { q := authQuery(challenge); q.Add("scope", "user/*.rs"); return q }(), 400, "more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(t, "/authorize?"+tt.query.Encode())
			if resp.StatusCode != tt.status {
				t.Errorf("status %s, want %d", resp.Status, tt.status)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("redirected to %s", loc)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
				resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", resp.Header)
			}
			page := string(body)
			if !strings.Contains(page, tt.says) || !strings.Contains(page, "Authorization request refused") {
				t.Errorf("the page does not explain (%s): %s", tt.says, page)
			}
			if strings.Contains(page, "<form") {
				t.Error("an error page with a form")
			}
		})
	}

	t.Run("no patients configured", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Patients = nil })
		resp, body := e.get(t, "/authorize?"+authQuery(challenge).Encode())
		if resp.StatusCode == http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "patient") {
			t.Errorf("%s %s", resp.Status, body)
		}
	})
}

func TestAuthorizeDecisionRefusals(t *testing.T) {
	e := newEnv(t, nil)
	_, challenge := pkcePair()
	q := authQuery(challenge)
	form, _ := e.consentForm(t, q)
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("user", "Practitioner/prac-house")
		f.Set("patient", "Patient/pat-alice")
		f.Set("action", "allow")
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	tests := []struct {
		name string
		form url.Values
	}{
		{"unknown user", with("user", "Practitioner/intruder")},
		{"no user", with("user", "")},
		{"unknown patient", with("patient", "Patient/pat-mallory")},
		{"no patient for a patient scope", with("patient", "")},
		{"tampered aud", with("aud", "http://other.test/fhir")},
		{"tampered challenge method", with("code_challenge_method", "plain")},
		{"unknown action", with("action", "maybe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(t, "/authorize", tt.form, nil)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%s, Location %q: %s", resp.Status, resp.Header.Get("Location"), body)
			}
		})
	}
	t.Run("cancel", func(t *testing.T) {
		resp, _ := e.post(t, "/authorize", with("action", "deny"), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %s", resp.Status)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if back := loc.Query(); back.Get("error") != "access_denied" || back.Get("state") != q.Get("state") || back.Has("code") {
			t.Errorf("Location %s", loc)
		}
	})
}

func TestRedirectKeepsTheClientsURI(t *testing.T) {
	e := newEnv(t, nil)
	_, challenge := pkcePair()
	tests := []struct{ name, redirect, prefix string }{
		{"no query", "http://127.0.0.1:9/cb", "http://127.0.0.1:9/cb?code="},
		{"empty query", "http://127.0.0.1:9/cb?", "http://127.0.0.1:9/cb?code="},
		{"own query", "https://app.test/cb?b=2&a=1", "https://app.test/cb?b=2&a=1&code="},
		{"escaped path", "http://localhost:3000/a%2Fb/cb", "http://localhost:3000/a%2Fb/cb?code="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authQuery(challenge, "redirect_uri", tt.redirect)
			form, _ := e.consentForm(t, q)
			form.Set("user", "Practitioner/prac-house")
			form.Set("patient", "Patient/pat-alice")
			form.Set("action", "allow")
			resp, body := e.post(t, "/authorize", form, nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %s", resp.Status, body)
			}
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, tt.prefix) || !strings.HasSuffix(loc, "&state="+url.QueryEscape(q.Get("state"))) {
				t.Errorf("Location %s, want %s…&state=%s", loc, tt.prefix, q.Get("state"))
			}
		})
	}
}
