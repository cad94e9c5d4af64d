package devissuer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get(t, "/.well-known/openid-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field string
		want  any
	}{
		{"issuer", e.url},
		{"jwks_uri", e.url + "/jwks"},
		{"authorization_endpoint", e.url + "/authorize"},
		{"token_endpoint", e.url + "/token"},
		{"response_types_supported", []string{"code"}},
		{"grant_types_supported", []string{"authorization_code", "refresh_token", "client_credentials"}},
		{"revocation_endpoint", e.url + "/revoke"},
		{"subject_types_supported", []string{"public"}},
		{"id_token_signing_alg_values_supported", []string{"RS256"}},
		{"code_challenge_methods_supported", []string{"S256"}},
		{"token_endpoint_auth_methods_supported", []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"}},
		{"token_endpoint_auth_signing_alg_values_supported", []string{"RS384", "ES384"}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			checkClaims(t, doc, map[string]any{tt.field: tt.want})
		})
	}
	t.Run("scopes_supported", func(t *testing.T) {
		list, _ := doc["scopes_supported"].([]any)
		have := map[string]bool{}
		for _, s := range list {
			have[s.(string)] = true
		}
		for _, s := range []string{"openid", "fhirUser", "launch", "launch/patient", "offline_access",
			"patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs"} {
			if !have[s] {
				t.Errorf("scopes_supported lacks %s", s)
			}
		}
	})
	t.Run("endpoints are served", func(t *testing.T) {
		for _, field := range []string{"jwks_uri"} {
			u := doc[field].(string)
			r, err := e.client.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %s", u, r.Status)
			}
		}
	})
}

func TestJWKSVerifiesTokens(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get(t, "/jwks")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(raw.Keys))
	}
	k := raw.Keys[0]
	for _, tt := range []struct{ field, want string }{{"kty", "RSA"}, {"use", "sig"}, {"alg", "RS256"}} {
		t.Run(tt.field, func(t *testing.T) {
			if k[tt.field] != tt.want {
				t.Errorf("%s = %v, want %s", tt.field, k[tt.field], tt.want)
			}
		})
	}
	t.Run("public only", func(t *testing.T) {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("the JWKS publishes the private parameter %s", private)
			}
		}
	})
	t.Run("verifies a token from /token", func(t *testing.T) {
		set := e.jwks(t)
		if !set.Keys[0].IsPublic() || set.Keys[0].KeyID == "" {
			t.Fatalf("unusable key %+v", set.Keys[0])
		}
		_, m := e.tokenJSON(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "scope": {"system/*.rs"}}, nil)
		tok, _ := m["access_token"].(string)
		claims, kid := verifyJWT(t, set, tok, "at+jwt")
		if kid != set.Keys[0].KeyID {
			t.Errorf("kid %s, want %s", kid, set.Keys[0].KeyID)
		}
		checkClaims(t, claims, map[string]any{"iss": e.url, "aud": audience, "sub": "svc", "client_id": "svc", "scope": "system/*.rs"})
	})
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now().Unix()
	tests := []struct {
		name      string
		form      url.Values
		basic     [2]string // client_secret_basic credentials
		expiresIn int64
		claims    map[string]any // nil value: absent
		patient   string         // the response's patient ("" absent)
	}{
		{
			name: "all optional claims",
			form: url.Values{"client_id": {"backend"}, "scope": {"system/*.rs patient/*.rs"}, "patient": {"pat-alice"},
				"fhirUser": {"Practitioner/prac-house"}, "purpose_of_use": {"TREAT ETREAT"},
				"organization": {"Organization/org-hopital-nord"}, "lifetime": {"600"}},
			expiresIn: 600,
			claims: map[string]any{"sub": "Practitioner/prac-house", "client_id": "backend", "azp": "backend",
				"scope": "system/*.rs patient/*.rs", "patient": "pat-alice", "fhirUser": "Practitioner/prac-house",
				"purpose_of_use": []string{"TREAT", "ETREAT"}, "organization": "Organization/org-hopital-nord",
				"iat": now, "nbf": now, "exp": now + 600},
			patient: "pat-alice",
		},
		{
			name:      "minimal",
			form:      url.Values{"client_id": {"backend"}, "scope": {"system/*.rs"}},
			expiresIn: 3600,
			claims: map[string]any{"sub": "backend", "client_id": "backend", "scope": "system/*.rs", "exp": now + 3600,
				"patient": nil, "fhirUser": nil, "purpose_of_use": nil, "organization": nil},
		},
		{
			name: "comma-separated purposes and a Patient reference",
			form: url.Values{"client_id": {"backend"}, "scope": {"system/*.rs"}, "patient": {"Patient/pat-bob"},
				"purpose_of_use": {"TREAT,HPAYMT, TREAT"}},
			expiresIn: 3600,
			claims:    map[string]any{"patient": "pat-bob", "purpose_of_use": []string{"TREAT", "HPAYMT"}},
			patient:   "pat-bob",
		},
		{
			name:      "client_secret_basic",
			form:      url.Values{"scope": {"system/Patient.rs"}},
			basic:     [2]string{"my%20client", "s3cret"},
			expiresIn: 3600,
			claims:    map[string]any{"client_id": "my client", "sub": "my client"},
		},
		{
			name:      "client_secret_post and the longest lifetime",
			form:      url.Values{"client_id": {"backend"}, "client_secret": {"whatever"}, "scope": {"system/*.rs"}, "lifetime": {"86400"}},
			expiresIn: 86400,
			claims:    map[string]any{"exp": now + 86400},
		},
	}
	set := e.jwks(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", "client_credentials")
			var edit func(*http.Request)
			if tt.basic[0] != "" {
				edit = func(r *http.Request) { r.SetBasicAuth(tt.basic[0], tt.basic[1]) }
			}
			resp, m := e.tokenJSON(t, tt.form, edit)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %s: %v", resp.Status, m)
			}
			for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			checkClaims(t, m, map[string]any{"token_type": "Bearer", "expires_in": tt.expiresIn, "scope": tt.form.Get("scope")})
			if tt.patient != "" {
				checkClaims(t, m, map[string]any{"patient": tt.patient})
			} else if _, ok := m["patient"]; ok {
				t.Errorf("patient %v beside the token, want none", m["patient"])
			}
			claims, _ := verifyJWT(t, set, m["access_token"].(string), "at+jwt")
			checkClaims(t, claims, map[string]any{"iss": e.url, "aud": audience})
			checkClaims(t, claims, tt.claims)
			if jti, _ := claims["jti"].(string); len(jti) < 16 {
				t.Errorf("jti %q is not a random id", jti)
			}
		})
	}
	t.Run("jti differs between tokens", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"a"}, "scope": {"system/*.rs"}}
		_, m1 := e.tokenJSON(t, form, nil)
		_, m2 := e.tokenJSON(t, form, nil)
		c1, _ := verifyJWT(t, set, m1["access_token"].(string), "at+jwt")
		c2, _ := verifyJWT(t, set, m2["access_token"].(string), "at+jwt")
		if c1["jti"] == c2["jti"] {
			t.Errorf("two tokens share the jti %v", c1["jti"])
		}
	})
}

func TestTokenErrors(t *testing.T) {
	e := newEnv(t, nil)
	cc := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {"backend"}, "scope": {"system/*.rs"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name    string
		method  string
		body    string
		edit    func(*http.Request)
		status  int
		errCode string
	}{
		{name: "missing client_id", body: cc("client_id", "").Encode(), status: 400, errCode: "invalid_request"},
		{name: "bad grant_type", body: cc("grant_type", "password").Encode(), status: 400, errCode: "unsupported_grant_type"},
		{name: "missing grant_type", body: cc("grant_type", "").Encode(), status: 400, errCode: "invalid_request"},
		{name: "GET instead of POST", method: http.MethodGet, status: 405, errCode: "invalid_request"},
		{name: "PUT instead of POST", method: http.MethodPut, body: cc().Encode(), status: 405, errCode: "invalid_request"},
		{name: "lifetime too long", body: cc("lifetime", "86401").Encode(), status: 400, errCode: "invalid_request"},
		{name: "lifetime zero", body: cc("lifetime", "0").Encode(), status: 400, errCode: "invalid_request"},
		{name: "lifetime negative", body: cc("lifetime", "-5").Encode(), status: 400, errCode: "invalid_request"},
		{name: "lifetime not a number", body: cc("lifetime", "1h").Encode(), status: 400, errCode: "invalid_request"},
		{name: "lifetime overflowing", body: cc("lifetime", "99999999999999999999999").Encode(), status: 400, errCode: "invalid_request"},
		{name: "missing scope", body: cc("scope", "").Encode(), status: 400, errCode: "invalid_request"},
		{name: "malformed scope", body: cc("scope", `system/*.rs "x"`).Encode(), status: 400, errCode: "invalid_scope"},
		{name: "bad patient id", body: cc("patient", "pat alice").Encode(), status: 400, errCode: "invalid_request"},
		{name: "bad fhirUser", body: cc("fhirUser", "javascript:alert(1)").Encode(), status: 400, errCode: "invalid_request"},
		{name: "bad organization", body: cc("organization", "org 1").Encode(), status: 400, errCode: "invalid_request"},
		{name: "bad purpose code", body: cc("purpose_of_use", "TREAT;DROP").Encode(), status: 400, errCode: "invalid_request"},
		{name: "client_id with a control character", body: cc("client_id", "a\x00b").Encode(), status: 400, errCode: "invalid_request"},
		{name: "parameter repeated", body: cc().Encode() + "&scope=user/*.rs", status: 400, errCode: "invalid_request"},
		{name: "malformed form", body: "grant_type=client_credentials&client_id=%zz", status: 400, errCode: "invalid_request"},
		{name: "body too large", body: cc("scope", strings.Repeat("a", maxForm)).Encode(), status: 400, errCode: "invalid_request"},
		{name: "JSON body", body: `{"grant_type":"client_credentials"}`,
			edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, status: 400, errCode: "invalid_request"},
		{name: "Basic client differs from client_id", body: cc().Encode(),
			edit: func(r *http.Request) { r.SetBasicAuth("other", "x") }, status: 400, errCode: "invalid_request"},
		{name: "Basic and client_secret together", body: cc("client_secret", "x").Encode(),
			edit: func(r *http.Request) { r.SetBasicAuth("backend", "x") }, status: 400, errCode: "invalid_request"},
		{name: "Authorization header not Basic", body: cc().Encode(),
			edit: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, status: 401, errCode: "invalid_client"},
		{name: "code grant without code", body: url.Values{"grant_type": {"authorization_code"}, "client_id": {"app"},
			"redirect_uri": {"http://127.0.0.1/cb"}, "code_verifier": {strings.Repeat("v", 43)}}.Encode(), status: 400, errCode: "invalid_request"},
		{name: "code grant with an unknown code", body: url.Values{"grant_type": {"authorization_code"}, "client_id": {"app"}, "code": {"nope"},
			"redirect_uri": {"http://127.0.0.1/cb"}, "code_verifier": {strings.Repeat("v", 43)}}.Encode(), status: 400, errCode: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, e.url+"/token", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.edit != nil {
				tt.edit(req)
			}
			resp, body := e.do(t, req)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			var m map[string]string
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("not a JSON error: %q", body)
			}
			if m["error"] != tt.errCode || m["error_description"] == "" {
				t.Errorf("error %q (%q), want %q with a description", m["error"], m["error_description"], tt.errCode)
			}
			if _, ok := m["access_token"]; ok {
				t.Error("an access token came with the error")
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tt.status == 405 && !strings.Contains(resp.Header.Get("Allow"), "POST") {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestTokenMethod(t *testing.T) {
	e := newEnv(t, nil)
	set := e.jwks(t)
	t.Run("mints a verifiable access token", func(t *testing.T) {
		raw, err := e.iss.Token(TokenRequest{ClientID: "cli", Scope: "user/*.rs  user/*.rs openid", FHIRUser: "Practitioner/prac-house",
			Patient: "Patient/pat-alice", Organization: "Organization/org-hopital-nord", Purpose: []string{"TREAT"}, Lifetime: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now().Unix()
		claims, _ := verifyJWT(t, set, raw, "at+jwt")
		checkClaims(t, claims, map[string]any{"iss": e.url, "aud": audience, "sub": "Practitioner/prac-house", "client_id": "cli",
			"scope": "user/*.rs openid", "patient": "pat-alice", "purpose_of_use": []string{"TREAT"},
			"organization": "Organization/org-hopital-nord", "exp": now + 300})
	})
	tests := []struct {
		name string
		req  TokenRequest
	}{
		{"no client", TokenRequest{Scope: "system/*.rs"}},
		{"no scope", TokenRequest{ClientID: "c"}},
		{"lifetime too long", TokenRequest{ClientID: "c", Scope: "system/*.rs", Lifetime: MaxLifetime + time.Second}},
		{"negative lifetime", TokenRequest{ClientID: "c", Scope: "system/*.rs", Lifetime: -time.Second}},
		{"purpose with a space", TokenRequest{ClientID: "c", Scope: "system/*.rs", Purpose: []string{"TREAT ETREAT"}}},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if raw, err := e.iss.Token(tt.req); err == nil {
				t.Errorf("got a token %s", raw)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := seededKeyDir(t)
	base := Config{Issuer: "http://localhost:8080/dev-issuer", Audience: audience, KeyDir: dir}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"relative issuer", func(c *Config) { c.Issuer = "/dev-issuer" }},
		{"issuer with a query", func(c *Config) { c.Issuer = "http://localhost/x?a=1" }},
		{"no audience", func(c *Config) { c.Audience = "" }},
		{"no key directory", func(c *Config) { c.KeyDir = "" }},
		{"user without reference", func(c *Config) { c.Users = []Choice{{Label: "Nobody"}} }},
		{"duplicate user", func(c *Config) { c.Users = []Choice{demoUsers[0], demoUsers[0]} }},
		{"patient that is not a Patient", func(c *Config) { c.Patients = []Choice{{Ref: "Practitioner/x", Label: "X"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("New accepted the configuration")
			}
		})
	}
	t.Run("a patient may also be a user", func(t *testing.T) {
		cfg := base
		cfg.Users = []Choice{{Ref: "Patient/pat-alice", Label: "Alice Dupont"}}
		cfg.Patients = []Choice{{Ref: "Patient/pat-alice", Label: "Alice Dupont"}}
		if _, err := New(cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("trailing slash dropped", func(t *testing.T) {
		cfg := base
		cfg.Issuer += "/"
		i, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i.URL() != "http://localhost:8080/dev-issuer" {
			t.Errorf("URL %q", i.URL())
		}
	})
}
