package main

// TestSMARTHarness replays, against a real `fhirgate serve --dev`, the assertions of the Inferno SMART
// App Launch STU2 kit (inferno-framework/smart-app-launch-test-kit: discovery, standalone launch,
// OpenID Connect, token refresh, token introspection, backend services, EHR launch) and of the ONC
// (g)(10) kit's SMART 2.0 groups (the ONC certification g10 test kit, public source: required capabilities,
// invalid PKCE, invalid refresh token, invalid aud and launch, token revocation). Each check is named by
// the kit's test id (group/test when the kit's test is anonymous in its group) and checks what that
// test asserts; the code is this project's own. TLS checks are excepted: a deployment terminates TLS
// in front of fhirgate (README). The browser steps (the sign-in page) are driven over HTTP: the page's
// form is read and posted as a browser would.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	harnessRedirect     = "http://127.0.0.1:9/inferno/redirect"
	harnessConfidential = "inferno-confidential"
	harnessSecret       = "inferno-secret-0123456789abcdef"
	harnessPublic       = "inferno-public"
	harnessBackend      = "inferno-backend"
)

// harness is the state the kit's tests pass one another (tokens, codes, the configuration).
type harness struct {
	t            *testing.T
	server, base string
	hc           *http.Client
	backendKey   *jose.JSONWebKey

	wellKnown  map[string]any
	wellKnownH http.Header
	openid     map[string]any
	jwks       jose.JSONWebKeySet

	code, state, verifier string
	redirect              *url.URL
	tokenStatus           int
	tokenHeader           http.Header
	token                 map[string]any // the standalone launch's token response
	idClaims              map[string]any
	idHeader              map[string]any
	refreshed             map[string]any
	refreshedH            http.Header
	backendResp           map[string]any
	backendStatus         int
}

func TestSMARTHarness(t *testing.T) {
	rows, err := readKitRows(kitAssertionsFile, smartKit, g10Kit)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	checks := h.kitChecks()
	applicable := map[string]bool{}
	for _, r := range rows {
		if applicable[r.id] {
			t.Errorf("%s is listed twice", r.id)
		}
		applicable[r.id] = r.applicable
	}
	checked := map[string]bool{}
	passed := 0
	for _, c := range checks {
		if !applicable[c.id] {
			t.Errorf("check %s: not an applicable test of the list %s", c.id, kitAssertionsFile)
		}
		if checked[c.id] {
			t.Errorf("check %s twice", c.id)
		}
		checked[c.id] = true
		if err := c.run(); err != nil {
			t.Errorf("FAIL %s: %v", c.id, err)
			continue
		}
		passed++
		t.Logf("pass %s", c.id)
	}
	kits := map[string]int{}
	notApplicable := 0
	for _, r := range rows {
		switch {
		case r.applicable && !checked[r.id]:
			t.Errorf("%s (%s): applicable, and no check replays it", r.id, r.kit)
		case r.applicable:
			kits[r.kit]++
		default:
			notApplicable++
			t.Logf("n/a  %s: %s", r.id, r.reason)
		}
	}
	// This project's own (issue 18), not a kit's: counted apart.
	if err := h.refreshReuse(); err != nil {
		t.Errorf("FAIL a refresh token used twice revokes its grant: %v", err)
	}
	t.Logf("SMART harness: %d of %d applicable kit assertions pass (%s %d, %s %d); %d not applicable",
		passed, len(checks), smartKit, kits[smartKit], g10Kit, kits[g10Kit], notApplicable)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := &jose.JSONWebKey{Key: priv, KeyID: "inferno-ec", Algorithm: "ES384", Use: "sig"}
	clients := map[string]any{"clients": []any{
		map[string]any{"client_id": harnessConfidential, "type": "confidential-symmetric", "client_secret": harnessSecret,
			"redirect_uris": []string{harnessRedirect}},
		map[string]any{"client_id": harnessPublic, "type": "public", "redirect_uris": []string{harnessRedirect}},
		map[string]any{"client_id": harnessBackend, "type": "confidential-asymmetric",
			"jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}},
		map[string]any{"client_id": harnessAsymmetric, "type": "confidential-asymmetric", "redirect_uris": []string{harnessRedirect},
			"jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}},
	}}
	b, err := json.Marshal(clients)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, t.TempDir(), "--demo-data=true", "--dev-clients", file)
	return &harness{t: t, base: p.base, server: strings.TrimSuffix(p.base, "/fhir"), backendKey: key,
		hc: &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// send sends a request and returns the status, headers and body.
func (h *harness) send(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, resp.Header, body, err
}

func (h *harness) get(u string, header ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.send(req)
}

func (h *harness) postForm(u string, form url.Values, basic ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	return h.send(req)
}

// postJSON posts a form and decodes a JSON answer.
func (h *harness) postJSON(u string, form url.Values, basic ...string) (int, http.Header, map[string]any, error) {
	st, hdr, body, err := h.postForm(u, form, basic...)
	if err != nil {
		return 0, nil, nil, err
	}
	m := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			return st, hdr, nil, fmt.Errorf("answer %d is not JSON: %.200s", st, body)
		}
	}
	return st, hdr, m, nil
}

func (h *harness) tokenURL() string {
	s, _ := h.wellKnown["token_endpoint"].(string)
	if s == "" {
		return h.server + "/dev-issuer/token"
	}
	return s
}

func (h *harness) authorizeURL() string {
	s, _ := h.wellKnown["authorization_endpoint"].(string)
	if s == "" {
		return h.server + "/dev-issuer/authorize"
	}
	return s
}

func (h *harness) wellKnownEndpoint() error {
	st, hdr, body, err := h.get(h.base+"/.well-known/smart-configuration", "Accept", "application/json")
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d", st)
	}
	if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		return fmt.Errorf("Content-Type %q", hdr.Get("Content-Type"))
	}
	if err := json.Unmarshal(body, &h.wellKnown); err != nil {
		return err
	}
	h.wellKnownH = hdr
	for _, f := range []string{"authorization_endpoint", "token_endpoint"} {
		if s, _ := h.wellKnown[f].(string); s == "" {
			return fmt.Errorf("no %s", f)
		}
	}
	return nil
}

func strList(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (h *harness) wellKnownCapabilities() error {
	d := h.wellKnown
	caps, ok := d["capabilities"].([]any)
	if !ok {
		return errors.New("capabilities is not an array")
	}
	for _, c := range caps {
		if _, ok := c.(string); !ok {
			return errors.New("a capability is not a string")
		}
	}
	if m := strList(d["code_challenge_methods_supported"]); !slices.Contains(m, "S256") || slices.Contains(m, "plain") {
		return fmt.Errorf("code_challenge_methods_supported %v: want S256 and not plain", m)
	}
	if slices.Contains(strList(caps), "sso-openid-connect") {
		for _, f := range []string{"issuer", "jwks_uri"} {
			if s, _ := d[f].(string); s == "" {
				return fmt.Errorf("sso-openid-connect without %s", f)
			}
		}
	}
	if !slices.Contains(strList(d["grant_types_supported"]), "authorization_code") {
		return fmt.Errorf("grant_types_supported %v lacks authorization_code", d["grant_types_supported"])
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint"} {
		if s, _ := d[k].(string); s == "" {
			return fmt.Errorf("no %s", k)
		}
	}
	return nil
}

func (h *harness) corsWellKnown() error {
	if h.wellKnownH.Get("Access-Control-Allow-Origin") == "" {
		return errors.New("no Access-Control-Allow-Origin")
	}
	return nil
}

// harnessPKCE returns a verifier and its S256 challenge.
func harnessPKCE() (string, string) {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	return v, s256Challenge(v)
}

func s256Challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var harnessHidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// authorize sends an authorization request (GET or POST) and, as the user, allows it on the sign-in
// page; it returns the redirect (or the status of a refused request).
func (h *harness) authorize(method string, q url.Values, user, patient string) (*url.URL, int, error) {
	var st int
	var hdr http.Header
	var body []byte
	var err error
	if method == http.MethodPost {
		st, hdr, body, err = h.postForm(h.authorizeURL(), q)
	} else {
		st, hdr, body, err = h.get(h.authorizeURL() + "?" + q.Encode())
	}
	if err != nil {
		return nil, 0, err
	}
	if st == http.StatusSeeOther { // refused, and sent back to the app with an error
		u, err := url.Parse(hdr.Get("Location"))
		return u, st, err
	}
	if st != http.StatusOK {
		return nil, st, nil
	}
	form := url.Values{}
	for _, m := range harnessHidden.FindAllStringSubmatch(string(body), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	form.Set("user", user)
	if patient != "" {
		form.Set("patient", patient)
	}
	form.Set("action", "allow")
	st, hdr, _, err = h.postForm(h.authorizeURL(), form)
	if err != nil {
		return nil, 0, err
	}
	if st != http.StatusSeeOther {
		return nil, st, nil
	}
	u, err := url.Parse(hdr.Get("Location"))
	return u, st, err
}

func (h *harness) authQuery(client, challenge string, kv ...string) url.Values {
	h.state = "state-" + randomHex(8)
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {harnessRedirect},
		"scope": {"launch/patient openid fhirUser offline_access patient/*.rs"}, "state": {h.state}, "aud": {h.base},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func (h *harness) redirectStep(method, client, _ string) error {
	var challenge string
	h.verifier, challenge = harnessPKCE()
	u, st, err := h.authorize(method, h.authQuery(client, challenge), "Patient/pat-alice", "Patient/pat-alice")
	if err != nil {
		return err
	}
	if u == nil {
		return fmt.Errorf("no redirect (status %d)", st)
	}
	h.redirect = u
	return nil
}

func (h *harness) codeReceived() error {
	if h.redirect == nil {
		return errors.New("no redirect")
	}
	q := h.redirect.Query()
	if e := q.Get("error"); e != "" {
		return fmt.Errorf("error %s", e)
	}
	if q.Get("state") != h.state {
		return fmt.Errorf("state %q, want %q", q.Get("state"), h.state)
	}
	if !strings.HasPrefix(h.redirect.String(), harnessRedirect) {
		return fmt.Errorf("redirected to %s", h.redirect)
	}
	h.code = q.Get("code")
	if h.code == "" {
		return errors.New("no code")
	}
	return nil
}

func (h *harness) tokenExchange() error {
	st, hdr, m, err := h.postJSON(h.tokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {h.code},
		"redirect_uri": {harnessRedirect}, "code_verifier": {h.verifier}}, harnessConfidential, harnessSecret)
	if err != nil {
		return err
	}
	h.tokenStatus, h.tokenHeader, h.token = st, hdr, m
	if st != http.StatusOK {
		return fmt.Errorf("status %d: %v", st, m)
	}
	return nil
}

func (h *harness) tokenResponseBody() error {
	m := h.token
	for _, f := range []string{"access_token", "token_type", "scope", "patient", "refresh_token", "id_token"} {
		if s, _ := m[f].(string); s == "" {
			return fmt.Errorf("no %s in %v", f, keys(m))
		}
	}
	if !strings.EqualFold(m["token_type"].(string), "bearer") {
		return fmt.Errorf("token_type %v", m["token_type"])
	}
	if n, ok := m["expires_in"].(float64); !ok || n <= 0 {
		return fmt.Errorf("expires_in %v", m["expires_in"])
	}
	return nil
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func noStoreHeaders(h http.Header) error {
	if h == nil {
		return errors.New("no response")
	}
	if !strings.Contains(h.Get("Cache-Control"), "no-store") || !strings.Contains(h.Get("Pragma"), "no-cache") {
		return fmt.Errorf("Cache-Control %q, Pragma %q", h.Get("Cache-Control"), h.Get("Pragma"))
	}
	return nil
}

// decodeJWTParts decodes a JWT's header and payload without verifying it.
func decodeJWTParts(raw string) (map[string]any, map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a JWS compact serialization")
	}
	var out [2]map[string]any
	for i := range 2 {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, nil, err
		}
	}
	return out[0], out[1], nil
}

func (h *harness) decodeIDToken() error {
	raw, _ := h.token["id_token"].(string)
	var err error
	h.idHeader, h.idClaims, err = decodeJWTParts(raw)
	return err
}

func (h *harness) retrieveOpenID() error {
	iss, _ := h.idClaims["iss"].(string)
	st, _, body, err := h.get(strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d", st)
	}
	return json.Unmarshal(body, &h.openid)
}

func (h *harness) openIDFields() error {
	for _, f := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
		"subject_types_supported", "id_token_signing_alg_values_supported"} {
		if h.openid[f] == nil {
			return fmt.Errorf("no %s", f)
		}
	}
	if !slices.Contains(strList(h.openid["id_token_signing_alg_values_supported"]), "RS256") {
		return errors.New("RS256 is not among id_token_signing_alg_values_supported")
	}
	return nil
}

func (h *harness) retrieveJWKS() error {
	u, _ := h.openid["jwks_uri"].(string)
	st, _, body, err := h.get(u)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d", st)
	}
	if err := json.Unmarshal(body, &h.jwks); err != nil {
		return err
	}
	if len(h.jwks.Keys) == 0 {
		return errors.New("no keys")
	}
	return nil
}

func (h *harness) idTokenHeader() error {
	if h.idHeader["alg"] != "RS256" {
		return fmt.Errorf("alg %v", h.idHeader["alg"])
	}
	kid, _ := h.idHeader["kid"].(string)
	if len(h.jwks.Key(kid)) != 1 {
		return fmt.Errorf("kid %q is not one key of the JWKS", kid)
	}
	return nil
}

func (h *harness) idTokenPayload() error {
	raw, _ := h.token["id_token"].(string)
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return err
	}
	kid, _ := h.idHeader["kid"].(string)
	if _, err := jws.Verify(h.jwks.Key(kid)[0]); err != nil {
		return fmt.Errorf("signature: %v", err)
	}
	c := h.idClaims
	if c["iss"] != h.openid["issuer"] {
		return fmt.Errorf("iss %v, want %v", c["iss"], h.openid["issuer"])
	}
	if c["aud"] != harnessConfidential {
		return fmt.Errorf("aud %v", c["aud"])
	}
	for _, f := range []string{"sub", "exp", "iat"} {
		if c[f] == nil {
			return fmt.Errorf("no %s", f)
		}
	}
	if exp, _ := c["exp"].(float64); int64(exp) < time.Now().Unix() {
		return errors.New("expired")
	}
	return nil
}

func (h *harness) bearerGet(path, tok string) (int, []byte, error) {
	u := path
	if !strings.HasPrefix(u, "http") {
		u = h.base + "/" + path
	}
	st, _, body, err := h.get(u, "Authorization", "Bearer "+tok, "Accept", "application/fhir+json")
	return st, body, err
}

func (h *harness) fhirUserClaim() error {
	fu, _ := h.idClaims["fhirUser"].(string)
	if fu == "" {
		return errors.New("no fhirUser claim")
	}
	st, body, err := h.bearerGet(fu, h.token["access_token"].(string))
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.200s", fu, st, body)
	}
	return nil
}

func (h *harness) tokenRefresh() error {
	st, hdr, m, err := h.postJSON(h.tokenURL(), url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {h.token["refresh_token"].(string)}}, harnessConfidential, harnessSecret)
	if err != nil {
		return err
	}
	h.refreshed, h.refreshedH = m, hdr
	if st != http.StatusOK {
		return fmt.Errorf("status %d: %v", st, m)
	}
	return nil
}

func (h *harness) tokenRefreshBody() error {
	m := h.refreshed
	for _, f := range []string{"access_token", "token_type", "scope"} {
		if s, _ := m[f].(string); s == "" {
			return fmt.Errorf("no %s", f)
		}
	}
	if n, ok := m["expires_in"].(float64); !ok || n <= 0 {
		return fmt.Errorf("expires_in %v", m["expires_in"])
	}
	if m["scope"] != h.token["scope"] {
		return fmt.Errorf("scope %v, want the original %v", m["scope"], h.token["scope"])
	}
	if rt, _ := m["refresh_token"].(string); rt == "" || rt == h.token["refresh_token"] {
		return errors.New("no new refresh token")
	}
	return noStoreHeaders(h.refreshedH)
}

// assertion signs a client assertion for the backend client.
func (h *harness) assertion(kv ...any) (string, error) {
	c := map[string]any{"iss": harnessBackend, "sub": harnessBackend, "aud": h.tokenURL(),
		"exp": time.Now().Add(4 * time.Minute).Unix(), "jti": randomHex(16)}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: h.backendKey},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (h *harness) backendForm(kv ...any) (url.Values, error) {
	a, err := h.assertion(kv...)
	if err != nil {
		return nil, err
	}
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}, nil
}

func (h *harness) backendRefused(form url.Values, statuses ...int) error {
	st, _, m, err := h.postJSON(h.tokenURL(), form)
	if err != nil {
		return err
	}
	if !slices.Contains(statuses, st) || m["access_token"] != nil {
		return fmt.Errorf("status %d %v, want one of %v and no token", st, m, statuses)
	}
	return nil
}

func (h *harness) backendInvalidGrantType() error {
	f, err := h.backendForm()
	if err != nil {
		return err
	}
	f.Set("grant_type", "not_a_grant_type")
	return h.backendRefused(f, 400)
}

func (h *harness) backendInvalidAssertion() error {
	f, err := h.backendForm("iss", "not_a_client", "sub", "not_a_client")
	if err != nil {
		return err
	}
	return h.backendRefused(f, 400, 401)
}

func (h *harness) backendInvalidJWT() error {
	f, err := h.backendForm()
	if err != nil {
		return err
	}
	f.Set("client_assertion_type", "not_an_assertion_type")
	return h.backendRefused(f, 400)
}

func (h *harness) backendSuccess() error {
	f, err := h.backendForm()
	if err != nil {
		return err
	}
	st, _, m, err := h.postJSON(h.tokenURL(), f)
	if err != nil {
		return err
	}
	h.backendStatus, h.backendResp = st, m
	if st != http.StatusOK {
		return fmt.Errorf("status %d: %v", st, m)
	}
	return nil
}

func (h *harness) backendResponseBody() error {
	m := h.backendResp
	for _, f := range []string{"access_token", "token_type", "scope"} {
		if s, _ := m[f].(string); s == "" {
			return fmt.Errorf("no %s", f)
		}
	}
	if !strings.EqualFold(m["token_type"].(string), "bearer") {
		return fmt.Errorf("token_type %v", m["token_type"])
	}
	if n, ok := m["expires_in"].(float64); !ok || n <= 0 || n > 300 {
		return fmt.Errorf("expires_in %v", m["expires_in"])
	}
	st, body, err := h.bearerGet("Patient?_count=1", m["access_token"].(string))
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("the backend token reading Patient: %d %.200s", st, body)
	}
	return nil
}

func (h *harness) g10Capabilities() error {
	caps := strList(h.wellKnown["capabilities"])
	var missing []string
	for _, c := range []string{"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
		"client-confidential-asymmetric", "sso-openid-connect", "context-banner", "context-style", "context-ehr-patient",
		"context-ehr-encounter", "context-standalone-patient", "permission-offline", "permission-patient", "permission-user",
		"permission-v1", "permission-v2", "authorize-post"} {
		if !slices.Contains(caps, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing capabilities %v", missing)
	}
	return nil
}

func (h *harness) refreshReuse() error {
	verifier, challenge := harnessPKCE()
	u, st, err := h.authorize(http.MethodGet, h.authQuery(harnessPublic, challenge), "Patient/pat-alice", "Patient/pat-alice")
	if err != nil || u == nil {
		return fmt.Errorf("authorize: %d %v", st, err)
	}
	st, _, first, err := h.postJSON(h.tokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {harnessRedirect}, "code_verifier": {verifier}, "client_id": {harnessPublic}})
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("exchange: %d %v %v", st, first, err)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}, "client_id": {harnessPublic}}
	st, _, second, err := h.postJSON(h.tokenURL(), refresh)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("first refresh: %d %v %v", st, second, err)
	}
	for _, at := range []any{first["access_token"], second["access_token"]} {
		if st, _, err := h.bearerGet("Patient/pat-alice", at.(string)); err != nil || st != http.StatusOK {
			return fmt.Errorf("before the reuse: %d %v", st, err)
		}
	}
	st, _, again, err := h.postJSON(h.tokenURL(), refresh)
	if err != nil || st != http.StatusBadRequest || again["error"] != "invalid_grant" {
		return fmt.Errorf("reuse: %d %v %v, want 400 invalid_grant", st, again, err)
	}
	for n, at := range []any{first["access_token"], second["access_token"]} {
		if st, _, err := h.bearerGet("Patient/pat-alice", at.(string)); err != nil || st != http.StatusUnauthorized {
			return fmt.Errorf("access token %d after the reuse: %d %v, want 401", n+1, st, err)
		}
	}
	next := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second["refresh_token"].(string)}, "client_id": {harnessPublic}}
	if st, _, m, err := h.postJSON(h.tokenURL(), next); err != nil || st != http.StatusBadRequest {
		return fmt.Errorf("the newest refresh token after the reuse: %d %v %v, want 400", st, m, err)
	}
	return nil
}
