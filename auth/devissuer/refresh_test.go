package devissuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// grantTokens runs an authorization code flow for scope and returns the token response.
func (e *env) grantTokens(t *testing.T, scope string, kv ...string) map[string]any {
	t.Helper()
	verifier, challenge := pkcePair()
	code := e.authorize(t, authQuery(challenge, append([]string{"scope", scope}, kv...)...), "Practitioner/prac-house", "Patient/pat-alice")
	resp, m := e.tokenJSON(t, exchange(code, verifier), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("code exchange: %d %v", resp.StatusCode, m)
	}
	return m
}

func refreshForm(token string, kv ...string) url.Values {
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {"smart-app"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestRefreshTokenIssuedFor(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		scope   string
		refresh bool
	}{
		{"openid fhirUser launch/patient patient/*.rs offline_access", true},
		{"launch/patient patient/*.rs online_access", true},
		{"launch/patient patient/*.rs", false},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			m := e.grantTokens(t, tt.scope)
			got, _ := m["refresh_token"].(string)
			if (got != "") != tt.refresh {
				t.Fatalf("refresh_token %q, want one: %v", got, tt.refresh)
			}
		})
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t, nil)
	first := e.grantTokens(t, "launch/patient patient/*.rs offline_access")
	rt1 := first["refresh_token"].(string)
	at1 := first["access_token"].(string)

	resp, second := e.tokenJSON(t, refreshForm(rt1), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first refresh: %d %v", resp.StatusCode, second)
	}
	rt2, _ := second["refresh_token"].(string)
	at2, _ := second["access_token"].(string)
	if rt2 == "" || rt2 == rt1 {
		t.Fatalf("the refresh token was not rotated: %q", rt2)
	}
	if second["patient"] != "pat-alice" || second["scope"] != "launch/patient patient/*.rs offline_access" {
		t.Errorf("refreshed response %v lost the grant's context or scope", second)
	}
	claims, _ := verifyJWT(t, e.jwks(t), at2, "at+jwt")
	checkClaims(t, claims, map[string]any{"patient": "pat-alice", "fhirUser": "Practitioner/prac-house", "client_id": "smart-app"})
	for _, at := range []string{at1, at2} {
		c, _ := e.iss.ownAccessToken(at)
		if e.iss.Revoked(c.ID) {
			t.Fatal("an access token is revoked before any reuse")
		}
	}

	// The old refresh token again: refused, and the family is gone.
	resp, m := e.tokenJSON(t, refreshForm(rt1), nil)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v, want 400 invalid_grant", resp.StatusCode, m)
	}
	resp, m = e.tokenJSON(t, refreshForm(rt2), nil)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("the newest refresh token after a reuse: %d %v, want invalid_grant", resp.StatusCode, m)
	}
	for n, at := range []string{at1, at2} {
		c, ok := e.iss.ownAccessToken(at)
		if !ok || !e.iss.Revoked(c.ID) {
			t.Errorf("access token %d of the family is not revoked after the reuse", n+1)
		}
	}
}

func TestRefreshRefusals(t *testing.T) {
	e := newEnv(t, nil)
	// A confidential client's family: its refresh token is refused to anyone not authenticated as it.
	verifier, challenge := pkcePair()
	code := e.authorize(t, authQuery(challenge, "client_id", "demo-confidential-app", "scope", "launch/patient patient/*.rs offline_access"),
		"Practitioner/prac-house", "Patient/pat-alice")
	basic := func(r *http.Request) { r.SetBasicAuth("demo-confidential-app", "demo-secret-not-for-production") }
	resp, m := e.tokenJSON(t, exchange(code, verifier, "client_id", ""), basic)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confidential exchange: %d %v", resp.StatusCode, m)
	}
	confidentialRT := m["refresh_token"].(string)
	tests := []struct {
		name    string
		form    func(rt string) url.Values
		errCode string
	}{
		{"scope widened", func(rt string) url.Values { return refreshForm(rt, "scope", "patient/*.rs patient/*.cruds") }, "invalid_scope"},
		{"another client", func(rt string) url.Values { return refreshForm(rt, "client_id", "other-app") }, "invalid_grant"},
		{"unknown token", func(string) url.Values { return refreshForm("not-a-refresh-token") }, "invalid_grant"},
		{"no token", func(string) url.Values { return refreshForm("") }, "invalid_request"},
		{"confidential family, unauthenticated", func(string) url.Values { return refreshForm(confidentialRT, "client_id", "") }, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := e.grantTokens(t, "launch/patient patient/*.rs offline_access")["refresh_token"].(string)
			form := tt.form(rt)
			if form.Get("refresh_token") == "" {
				form.Del("refresh_token")
			}
			resp, m := e.tokenJSON(t, form, nil)
			if resp.StatusCode < 400 || m["error"] != tt.errCode || m["access_token"] != nil {
				t.Fatalf("%d %v, want 400 %s", resp.StatusCode, m, tt.errCode)
			}
		})
	}
	t.Run("confidential family, authenticated", func(t *testing.T) {
		resp, m := e.tokenJSON(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {confidentialRT}}, basic)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
	})
	t.Run("public client without client_id (RFC 6749 §6)", func(t *testing.T) {
		rt := e.grantTokens(t, "launch/patient patient/*.rs offline_access")["refresh_token"].(string)
		resp, m := e.tokenJSON(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil)
		if resp.StatusCode != http.StatusOK || m["refresh_token"] == nil {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
	})
	t.Run("narrowed scope", func(t *testing.T) {
		rt := e.grantTokens(t, "launch/patient patient/*.rs patient/*.cruds offline_access")["refresh_token"].(string)
		resp, m := e.tokenJSON(t, refreshForm(rt, "scope", "patient/*.rs offline_access"), nil)
		if resp.StatusCode != http.StatusOK || m["scope"] != "patient/*.rs offline_access" {
			t.Fatalf("%d %v, want the narrowed scope", resp.StatusCode, m)
		}
	})
	t.Run("expired family", func(t *testing.T) {
		rt := e.grantTokens(t, "launch/patient patient/*.rs online_access")["refresh_token"].(string)
		e.clock.Advance(OnlineLifetime + time.Second)
		defer e.clock.Advance(-OnlineLifetime - time.Second)
		resp, m := e.tokenJSON(t, refreshForm(rt), nil)
		if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("%d %v, want invalid_grant", resp.StatusCode, m)
		}
	})
}

func TestRevocation(t *testing.T) {
	e := newEnv(t, nil)
	revoke := func(t *testing.T, form url.Values) {
		t.Helper()
		resp, body := e.post(t, "/revoke", form, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %s %s", resp.Status, body)
		}
	}
	t.Run("refresh token revokes the family", func(t *testing.T) {
		m := e.grantTokens(t, "launch/patient patient/*.rs offline_access")
		revoke(t, url.Values{"token": {m["refresh_token"].(string)}, "token_type_hint": {"refresh_token"}, "client_id": {"smart-app"}})
		c, _ := e.iss.ownAccessToken(m["access_token"].(string))
		if !e.iss.Revoked(c.ID) {
			t.Error("the access token of a revoked family is still valid")
		}
		resp, out := e.tokenJSON(t, refreshForm(m["refresh_token"].(string)), nil)
		if resp.StatusCode != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("a revoked refresh token: %d %v", resp.StatusCode, out)
		}
	})
	t.Run("access token", func(t *testing.T) {
		m := e.grantTokens(t, "launch/patient patient/*.rs")
		revoke(t, url.Values{"token": {m["access_token"].(string)}, "client_id": {"smart-app"}})
		c, _ := e.iss.ownAccessToken(m["access_token"].(string))
		if !e.iss.Revoked(c.ID) {
			t.Error("the access token is not revoked")
		}
	})
	t.Run("another client's token is left alone", func(t *testing.T) {
		m := e.grantTokens(t, "launch/patient patient/*.rs offline_access")
		revoke(t, url.Values{"token": {m["access_token"].(string)}, "client_id": {"intruder"}})
		revoke(t, url.Values{"token": {m["refresh_token"].(string)}, "client_id": {"intruder"}})
		c, _ := e.iss.ownAccessToken(m["access_token"].(string))
		if e.iss.Revoked(c.ID) {
			t.Error("another client revoked the token")
		}
		if resp, out := e.tokenJSON(t, refreshForm(m["refresh_token"].(string)), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the refresh token no longer works: %v", out)
		}
	})
	t.Run("unknown token answers 200", func(t *testing.T) {
		revoke(t, url.Values{"token": {"nothing-like-a-token"}, "client_id": {"smart-app"}})
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			form url.Values
			code string
		}{
			{url.Values{"client_id": {"smart-app"}}, "invalid_request"},
			{url.Values{"token": {"x"}}, "invalid_request"},
			{url.Values{"token": {"x"}, "client_id": {"demo-confidential-app"}}, "invalid_client"},
		} {
			resp, body := e.post(t, "/revoke", tt.form, nil)
			if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), tt.code) {
				t.Errorf("%v: %s %s, want %s", tt.form, resp.Status, body, tt.code)
			}
		}
	})
}
