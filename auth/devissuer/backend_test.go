package devissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// backendKeys are the keys of the test's backend services.
type backendKeys struct {
	rsa, ec, stranger *jose.JSONWebKey
}

func newBackendKeys(t *testing.T) backendKeys {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return backendKeys{
		rsa:      &jose.JSONWebKey{Key: r, KeyID: "rsa-1", Algorithm: "RS384"},
		ec:       &jose.JSONWebKey{Key: ec, KeyID: "ec-1", Algorithm: "ES384"},
		stranger: &jose.JSONWebKey{Key: other, KeyID: "ec-1", Algorithm: "ES384"},
	}
}

// signAssertion signs claims with a key (alg taken from the key).
func signAssertion(t *testing.T, key *jose.JSONWebKey, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsignedJWT builds a JWT with any header and an HMAC or no signature, as an attacker would.
func unsignedJWT(header, claims map[string]any, hmacKey []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	if hmacKey == nil {
		return input + "."
	}
	m := hmac.New(sha256.New, hmacKey)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestBackendServices(t *testing.T) {
	keys := newBackendKeys(t)
	var jwksFetches atomic.Int32
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // 127.0.0.1
		jwksFetches.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{keys.ec.Public()}})
	}))
	t.Cleanup(jwksSrv.Close)
	e := newEnv(t, func(c *Config) {
		c.Clients = []Client{
			{ID: "backend-rsa", Type: ClientAsymmetric, JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{keys.rsa.Public()}}},
			{ID: "backend-url", Type: ClientAsymmetric, JWKSURL: jwksSrv.URL + "/jwks.json"},
			{ID: "backend-secret", Type: ClientSymmetric, Secret: "a-secret-of-32-characters-000000"},
		}
	})
	tokenURL := e.url + "/token"
	claims := func(client string, kv ...any) map[string]any {
		c := map[string]any{"iss": client, "sub": client, "aud": tokenURL, "exp": e.clock.Now().Add(4 * time.Minute).Unix(),
			"jti": randomString(12)}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	form := func(assertion string, kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
			"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}

	t.Run("valid assertions get a system token", func(t *testing.T) {
		for _, tt := range []struct {
			client string
			key    *jose.JSONWebKey
		}{{"backend-rsa", keys.rsa}, {"backend-url", keys.ec}} {
			resp, m := e.tokenJSON(t, form(signAssertion(t, tt.key, claims(tt.client))), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %v", tt.client, resp.StatusCode, m)
			}
			if m["scope"] != "system/*.rs" || m["token_type"] != "Bearer" || m["expires_in"] != float64(300) || m["refresh_token"] != nil {
				t.Errorf("%s: response %v", tt.client, m)
			}
			c, _ := verifyJWT(t, e.jwks(t), m["access_token"].(string), "at+jwt")
			checkClaims(t, c, map[string]any{"client_id": tt.client, "sub": tt.client, "scope": "system/*.rs"})
		}
	})

	reused := signAssertion(t, keys.rsa, claims("backend-rsa"))
	if resp, m := e.tokenJSON(t, form(reused), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("first use of an assertion: %d %v", resp.StatusCode, m)
	}
	fetchesBefore := jwksFetches.Load()
	refusals := []struct {
		name string
		form url.Values
		code string
	}{
		{"expired", form(signAssertion(t, keys.rsa, claims("backend-rsa", "exp", e.clock.Now().Add(-time.Minute).Unix()))), "invalid_client"},
		{"exp too far ahead", form(signAssertion(t, keys.rsa, claims("backend-rsa", "exp", e.clock.Now().Add(6*time.Minute).Unix()))), "invalid_client"},
		{"no exp", form(signAssertion(t, keys.rsa, claims("backend-rsa", "exp", nil))), "invalid_client"},
		{"reused jti", form(reused), "invalid_client"},
		{"no jti", form(signAssertion(t, keys.rsa, claims("backend-rsa", "jti", nil))), "invalid_client"},
		{"wrong aud", form(signAssertion(t, keys.rsa, claims("backend-rsa", "aud", "https://elsewhere.example/token"))), "invalid_client"},
		{"sub is not iss", form(signAssertion(t, keys.rsa, claims("backend-rsa", "sub", "backend-url"))), "invalid_client"},
		{"key not registered", form(signAssertion(t, keys.stranger, claims("backend-url"))), "invalid_client"},
		{"another client's key", form(signAssertion(t, keys.ec, claims("backend-rsa"))), "invalid_client"},
		{"unregistered client", form(signAssertion(t, keys.rsa, claims("nobody"))), "invalid_client"},
		{"symmetric client", form(signAssertion(t, keys.rsa, claims("backend-secret"))), "invalid_client"},
		{"alg none", form(unsignedJWT(map[string]any{"alg": "none", "typ": "JWT"}, claims("backend-rsa"), nil)), "invalid_client"},
		{"alg HS256", form(unsignedJWT(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims("backend-rsa"), []byte("guess"))), "invalid_client"},
		{"garbage", form("garbage"), "invalid_client"},
		{"client_id differs", form(signAssertion(t, keys.rsa, claims("backend-rsa")), "client_id", "backend-url"), "invalid_client"},
		{"no client_assertion_type", form(signAssertion(t, keys.rsa, claims("backend-rsa")), "client_assertion_type", ""), "invalid_request"},
		{"wrong client_assertion_type", form(signAssertion(t, keys.rsa, claims("backend-rsa")), "client_assertion_type", "urn:other"), "invalid_request"},
		{"no client_assertion", form("", "client_assertion", ""), "invalid_request"},
		{"no assertion at all", url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}, "client_id": {"backend-rsa"}}, "invalid_client"},
		{"non-system scope", form(signAssertion(t, keys.rsa, claims("backend-rsa")), "scope", "patient/*.rs"), "invalid_scope"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp, m := e.tokenJSON(t, tt.form, nil)
			if resp.StatusCode < 400 || m["error"] != tt.code || m["access_token"] != nil {
				t.Fatalf("%d %v, want %s and no token", resp.StatusCode, m, tt.code)
			}
		})
	}
	t.Run("a jwks_uri is fetched again at most every 10s", func(t *testing.T) {
		if got := jwksFetches.Load() - fetchesBefore; got != 0 {
			t.Errorf("the jwks_uri was fetched %d times within 10s of the last fetch, want 0", got)
		}
		e.clock.Advance(11 * time.Second)
		resp, m := e.tokenJSON(t, form(signAssertion(t, keys.stranger, claims("backend-url"))), nil)
		if resp.StatusCode != http.StatusUnauthorized || m["error"] != "invalid_client" {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
		if got := jwksFetches.Load() - fetchesBefore; got != 1 {
			t.Errorf("the jwks_uri was fetched %d times for an unknown key 11s later, want 1", got)
		}
	})
	t.Run("symmetric secret", func(t *testing.T) {
		ok := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}}
		resp, m := e.tokenJSON(t, ok, func(r *http.Request) { r.SetBasicAuth("backend-secret", "a-secret-of-32-characters-000000") })
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
		resp, m = e.tokenJSON(t, ok, func(r *http.Request) { r.SetBasicAuth("backend-secret", "a-secret-of-32-characters-000001") })
		if resp.StatusCode != http.StatusUnauthorized || m["error"] != "invalid_client" {
			t.Fatalf("a wrong secret: %d %v", resp.StatusCode, m)
		}
	})
}

func TestLoadClients(t *testing.T) {
	good := `{"clients":[{"client_id":"a","type":"public","redirect_uris":["http://127.0.0.1:9/cb"]},
		{"client_id":"b","type":"confidential-symmetric","client_secret":"0123456789abcdef"},
		{"client_id":"c","type":"confidential-asymmetric","jwks_uri":"http://127.0.0.1:9/jwks"}]}`
	if list, err := ParseClientsJSON([]byte(good)); err != nil || len(list) != 3 {
		t.Fatalf("ParseClientsJSON: %v %v", list, err)
	}
	for _, bad := range []string{
		`{"clients":[{"client_id":"a","type":"other"}]}`,
		`{"clients":[{"client_id":"a","type":"public","client_secret":"0123456789abcdef"}]}`,
		`{"clients":[{"client_id":"b","type":"confidential-symmetric","client_secret":"short"}]}`,
		`{"clients":[{"client_id":"c","type":"confidential-asymmetric"}]}`,
		`{"clients":[{"client_id":"c","type":"confidential-asymmetric","jwks_uri":"ftp://x/jwks"}]}`,
		`{"clients":[{"client_id":"a","type":"public"},{"client_id":"a","type":"public"}]}`,
		`{"clients":[{"client_id":"a","type":"public","redirect_uris":["/relative"]}]}`,
		`{"clients":[{"client_id":"a","type":"public","unknown":1}]}`,
		`{"clients":[{"client_id":"","type":"public"}]}`,
	} {
		if _, err := ParseClientsJSON([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		} else if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}
