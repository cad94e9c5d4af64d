package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestIntrospect(t *testing.T) {
	exp := time.Unix(2000000000, 0)
	ts := newTestServer(t, func(c *Config) {
		c.Introspection = &Introspection{
			Verify: func(_ context.Context, raw string) (*TokenInfo, error) {
				if raw != "good-token" {
					return nil, errors.New("refused")
				}
				return &TokenInfo{Issuer: "http://issuer.test", Subject: "Practitioner/p1", ClientID: "app", Scope: "patient/*.rs",
					Patient: "pat-1", FHIRUser: "Practitioner/p1", Expiry: exp}, nil
			},
			Caller: func(r *http.Request, _ url.Values) (string, error) {
				if u, p, ok := r.BasicAuth(); ok && u == "rs" && p == "secret" {
					return u, nil
				}
				return "", errors.New("unknown client")
			},
		}
	})
	endpoint := strings.TrimSuffix(ts.base, "/fhir") + IntrospectPath
	post := func(t *testing.T, body string, auth bool, contentType string) result {
		t.Helper()
		h := []string{"Content-Type: " + contentType}
		if auth {
			h = append(h, "Authorization: Basic cnM6c2VjcmV0") // rs:secret
		}
		req := ts.do(t, http.MethodPost, endpoint, []byte(body), h...)
		if req.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", req.header.Get("Cache-Control"))
		}
		return req
	}
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		body        string
		auth        bool
		contentType string
		status      int
		want        map[string]any
	}{
		{"active", "token=good-token", true, form, 200, map[string]any{"active": true, "scope": "patient/*.rs", "client_id": "app",
			"sub": "Practitioner/p1", "exp": float64(exp.Unix()), "patient": "pat-1", "fhirUser": "Practitioner/p1", "iss": "http://issuer.test"}},
		{"inactive", "token=bad-token", true, form, 200, map[string]any{"active": false, "scope": nil, "client_id": nil}},
		{"anonymous caller learns nothing", "token=good-token", false, form, 200, map[string]any{"active": false, "scope": nil, "client_id": nil}},
		{"unknown caller", "token=good-token&client_id=x&client_secret=y", false, form, 401, map[string]any{"error": "invalid_client", "active": nil}},
		{"no token", "token_type_hint=access_token", true, form, 400, map[string]any{"error": "invalid_request"}},
		{"JSON body", `{"token":"good-token"}`, true, "application/json", 400, map[string]any{"error": "invalid_request", "active": nil}},
		{"token twice", "token=good-token&token=bad-token", true, form, 400, map[string]any{"error": "invalid_request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.body, tt.auth, tt.contentType)
			r.wantStatus(t, tt.status)
			m := r.json(t)
			for k, v := range tt.want {
				got, ok := m[k]
				if v == nil {
					if ok {
						t.Errorf("%s = %v, want none", k, got)
					}
					continue
				}
				if got != v {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
		})
	}
	if r := ts.do(t, http.MethodGet, endpoint, nil); r.status == http.StatusOK {
		t.Errorf("GET %s answered 200", IntrospectPath)
	}
}

// FuzzIntrospect posts arbitrary bodies (with and without credentials) to the introspection endpoint:
// no panic, no 5xx, always JSON, and "active": true only for the good token of an authenticated caller.
func FuzzIntrospect(f *testing.F) {
	for _, s := range []string{"token=good-token", "token=good-token&token=x", "token=%zz", "", "=&&=", "client_secret=y&token=good-token",
		"client_assertion=a.b.c&client_assertion_type=x&token=good-token", strings.Repeat("a", 70000)} {
		f.Add(s, true)
		f.Add(s, false)
	}
	ts := newTestServer(f, func(c *Config) {
		c.Introspection = &Introspection{
			Verify: func(_ context.Context, raw string) (*TokenInfo, error) {
				if raw != "good-token" {
					return nil, errors.New("refused")
				}
				return &TokenInfo{ClientID: "app", Scope: "s", Expiry: time.Unix(2000000000, 0)}, nil
			},
			Caller: func(r *http.Request, _ url.Values) (string, error) {
				if u, p, ok := r.BasicAuth(); ok && u == "rs" && p == "secret" {
					return u, nil
				}
				return "", errors.New("unknown client")
			},
		}
	})
	endpoint := strings.TrimSuffix(ts.base, "/fhir") + IntrospectPath
	f.Fuzz(func(t *testing.T, body string, auth bool) {
		h := []string{"Content-Type: application/x-www-form-urlencoded"}
		if auth {
			h = append(h, "Authorization: Basic cnM6c2VjcmV0")
		}
		r := ts.do(t, http.MethodPost, endpoint, []byte(body), h...)
		if r.status >= 500 {
			t.Fatalf("status %d for %q", r.status, body)
		}
		m := r.json(t)
		if m["active"] == true && !auth {
			t.Fatalf("active for an anonymous caller: %q", body)
		}
	})
}
