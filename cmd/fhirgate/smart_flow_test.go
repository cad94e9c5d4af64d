package main

// One SMART launch as a kit's group replays it: each group of the kits that launches (standalone,
// public, asymmetric, EHR, the introspection's own launch) gets a flow of its own, so that a code or
// a refresh token is never shared between groups, as in Inferno where each group launches anew.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Client authentication at the token endpoint.
const (
	authSymmetric  = "symmetric"  // HTTP Basic with the client secret
	authPublic     = "public"     // client_id in the form
	authAsymmetric = "asymmetric" // private_key_jwt (RFC 7523)
)

// flow is one launch: its request, the authorization server's answers and what the tests derive.
type flow struct {
	h                  *harness
	client, auth       string
	method             string // of the authorization request: GET or POST
	scope, user, pat   string
	launchURL, launch  string // EHR launch: the app's launch URL as the EHR opens it, and its launch id
	encounter          string // EHR launch: the encounter put in context
	redirect           *url.URL
	redirectStatus     int
	state, verifier    string
	code               string
	tokSt              int
	tokH               http.Header
	tok                map[string]any
	refSt              int
	refH               http.Header
	ref                map[string]any
	idHeader, idClaims map[string]any
	openid             map[string]any
	jwks               jose.JSONWebKeySet
}

func (h *harness) newFlow(client, auth, method, scope, user, patient string) *flow {
	return &flow{h: h, client: client, auth: auth, method: method, scope: scope, user: user, pat: patient}
}

// tokenPost posts a token request, authenticating as the flow's client.
func (f *flow) tokenPost(form url.Values) (int, http.Header, map[string]any, error) {
	switch f.auth {
	case authSymmetric:
		return f.h.postJSON(f.h.tokenURL(), form, harnessConfidential, harnessSecret)
	case authAsymmetric:
		a, err := f.h.assertion("iss", f.client, "sub", f.client)
		if err != nil {
			return 0, nil, nil, err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	default:
		form.Set("client_id", f.client)
	}
	return f.h.postJSON(f.h.tokenURL(), form)
}

// appLaunch is smart_app_launch: the EHR opens the app's launch URL with iss (the FHIR base) and
// launch; `fhirgate launch --app` prints that URL.
func (f *flow) appLaunch() error {
	var out, errOut bytes.Buffer
	args := []string{"launch", "--server", f.h.server, "--patient", f.pat, "--app", harnessLaunchURI}
	if f.encounter != "" {
		args = append(args, "--encounter", f.encounter)
	}
	if code := run(args, &out, &errOut); code != 0 {
		return fmt.Errorf("fhirgate launch: %d %s", code, errOut.String())
	}
	f.launchURL = strings.TrimSpace(out.String())
	return nil
}

// launchReceived is smart_launch_received: the launch request carries iss and launch.
func (f *flow) launchReceived() error {
	u, err := url.Parse(f.launchURL)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(f.launchURL, harnessLaunchURI+"?") {
		return fmt.Errorf("launch URL %q is not the app's", f.launchURL)
	}
	if u.Query().Get("iss") != f.h.base {
		return fmt.Errorf("iss %q, want %q", u.Query().Get("iss"), f.h.base)
	}
	f.launch = u.Query().Get("launch")
	if f.launch == "" {
		return errors.New("no launch parameter")
	}
	return nil
}

// redirectStep is smart_app_redirect(_stu2): the authorization request (PKCE S256, aud the FHIR base)
// and the user's consent; kv overrides the request's parameters (aud, launch).
func (f *flow) redirectStep(kv ...string) func() error {
	return func() error {
		var challenge string
		f.verifier, challenge = harnessPKCE()
		if f.launch != "" {
			kv = append([]string{"launch", f.launch}, kv...)
		}
		q := f.h.authQuery(f.client, challenge, append([]string{"scope", f.scope}, kv...)...)
		f.state = f.h.state
		u, st, err := f.h.authorize(f.method, q, f.user, f.pat)
		if err != nil {
			return err
		}
		f.redirect, f.redirectStatus = u, st
		if u == nil && st != http.StatusBadRequest {
			return fmt.Errorf("no redirect and no refusal (status %d)", st)
		}
		return nil
	}
}

// codeReceived is smart_code_received: the redirect carries the state and a code, no error.
func (f *flow) codeReceived() error {
	if f.redirect == nil {
		return fmt.Errorf("no redirect (status %d)", f.redirectStatus)
	}
	q := f.redirect.Query()
	if e := q.Get("error"); e != "" {
		return fmt.Errorf("error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		return fmt.Errorf("state %q, want %q", q.Get("state"), f.state)
	}
	f.code = q.Get("code")
	if f.code == "" {
		return errors.New("no code")
	}
	return nil
}

// noCode is the invalid aud and invalid launch groups' last test: the app got no code.
func (f *flow) noCode() error {
	if f.redirect != nil && f.redirect.Query().Get("code") != "" {
		return errors.New("authorization succeeded: the app received a code")
	}
	return nil
}

// exchange is smart_token_exchange: the code and its verifier for a token, 200.
func (f *flow) exchange() error {
	st, hdr, m, err := f.tokenPost(url.Values{"grant_type": {"authorization_code"}, "code": {f.code},
		"redirect_uri": {harnessRedirect}, "code_verifier": {f.verifier}})
	if err != nil {
		return err
	}
	f.tokSt, f.tokH, f.tok = st, hdr, m
	if st != http.StatusOK {
		return fmt.Errorf("status %d: %v", st, m)
	}
	return nil
}

// responseBody is smart_token_response_body: the token response's fields, and the context the
// scopes ask for (patient for launch/patient or launch, id_token for openid, refresh_token for
// offline_access).
func (f *flow) responseBody() error {
	return tokenBody(f.tok, f.scope)
}

func tokenBody(m map[string]any, requested string) error {
	if m == nil {
		return errors.New("no token response")
	}
	want := []string{"access_token", "token_type", "scope"}
	scopes := strings.Fields(requested)
	if slices.Contains(scopes, "launch/patient") || slices.Contains(scopes, "launch") {
		want = append(want, "patient")
	}
	if slices.Contains(scopes, "openid") {
		want = append(want, "id_token")
	}
	if slices.Contains(scopes, "offline_access") || slices.Contains(scopes, "online_access") {
		want = append(want, "refresh_token")
	}
	for _, k := range want {
		if s, _ := m[k].(string); s == "" {
			return fmt.Errorf("no %s in %v", k, keys(m))
		}
	}
	if !strings.EqualFold(fmt.Sprint(m["token_type"]), "bearer") {
		return fmt.Errorf("token_type %v", m["token_type"])
	}
	if n, ok := m["expires_in"].(float64); !ok || n <= 0 {
		return fmt.Errorf("expires_in %v", m["expires_in"])
	}
	return tokenFieldTypes(m)
}

// tokenFieldTypes checks the JSON types of a token response's fields, when present.
func tokenFieldTypes(m map[string]any) error {
	for _, k := range []string{"access_token", "id_token", "refresh_token", "patient", "encounter", "scope", "intent", "smart_style_url"} {
		if v, ok := m[k]; ok {
			if _, isString := v.(string); !isString {
				return fmt.Errorf("%s is not a string: %v", k, v)
			}
		}
	}
	if v, ok := m["need_patient_banner"]; ok {
		if _, isBool := v.(bool); !isBool {
			return fmt.Errorf("need_patient_banner is not a boolean: %v", v)
		}
	}
	return nil
}

func (f *flow) responseHeaders() error { return noStoreHeaders(f.tokH) }

// idTokenPresent is g10_public_launch_id_token / g10_asymmetric_launch_id_token.
func (f *flow) idTokenPresent() error {
	if s, _ := f.tok["id_token"].(string); s == "" {
		return errors.New("no id_token")
	}
	return nil
}

func (f *flow) accessToken() string { s, _ := f.tok["access_token"].(string); return s }

// readAs reads TYPE/ID with a token and checks 200 and the resource type (g10_patient_context,
// g10_encounter_context).
func (f *flow) readAs(typ, id, tok string) error {
	if tok == "" || id == "" {
		return fmt.Errorf("no token or no %s id in context", typ)
	}
	st, body, err := f.h.bearerGet(typ+"/"+id, tok)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("GET %s/%s: %d %.200s", typ, id, st, body)
	}
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ResourceType != typ {
		return fmt.Errorf("GET %s/%s: resourceType %q %v", typ, id, r.ResourceType, err)
	}
	return nil
}

func (f *flow) patientContext() error {
	p, _ := f.tok["patient"].(string)
	return f.readAs("Patient", p, f.accessToken())
}

// refreshedPatientContext is g10_patient_context after the refresh: the new access token reads the patient.
func (f *flow) refreshedPatientContext() error {
	if f.refSt != http.StatusOK {
		return fmt.Errorf("the token was not refreshed (status %d)", f.refSt)
	}
	p, _ := f.tok["patient"].(string)
	at, _ := f.ref["access_token"].(string)
	return f.readAs("Patient", p, at)
}

func (f *flow) encounterContext() error {
	e, _ := f.tok["encounter"].(string)
	if e == "" {
		return errors.New("no encounter in the token response")
	}
	return f.readAs("Encounter", e, f.accessToken())
}

// unauthorizedAccess is g10_unauthorized_access: the patient in context read without a token is 401.
func (f *flow) unauthorizedAccess() error {
	p, _ := f.tok["patient"].(string)
	st, _, _, err := f.h.get(f.h.base+"/Patient/"+p, "Accept", "application/fhir+json")
	if err != nil {
		return err
	}
	if st != http.StatusUnauthorized {
		return fmt.Errorf("status %d, want 401", st)
	}
	return nil
}

// g10Scopes is g10_smart_scopes: the required scopes requested and granted, every other scope of the
// form KIND/TYPE.PERMS (v2 permissions), and access to the patient compartment's types granted.
func (f *flow) g10Scopes(kind string, required ...string) func() error {
	return func() error {
		if f.tokSt != http.StatusOK {
			return fmt.Errorf("token exchange status %d", f.tokSt)
		}
		for _, side := range []struct{ name, scopes string }{{"requested", f.scope}, {"received", fmt.Sprint(f.tok["scope"])}} {
			got := strings.Fields(side.scopes)
			for _, r := range required {
				if !slices.Contains(got, r) {
					return fmt.Errorf("%s scopes lack %s", side.name, r)
				}
			}
			star, found := false, false
			for _, s := range got {
				if slices.Contains(required, s) || slices.Contains([]string{"online_access", "offline_access", "launch", "launch/patient", "launch/encounter"}, s) {
					continue
				}
				typ, rest, ok := strings.Cut(strings.SplitN(s, "?", 2)[0], "/")
				res, perms, ok2 := strings.Cut(rest, ".")
				if !ok || !ok2 || !v2Perms(perms) {
					return fmt.Errorf("%s scope %q is not %s/TYPE.cruds", side.name, s, kind)
				}
				if typ != kind && !(kind == "patient" && typ == "user") {
					return fmt.Errorf("%s scope %q is not a %s scope", side.name, s, kind)
				}
				found = found || typ == kind
				star = star || res == "*"
			}
			if !found {
				return fmt.Errorf("no %s-level scope %s", kind, side.name)
			}
			if side.name == "received" && !star {
				return errors.New("the patient compartment's types are not granted (no TYPE *)")
			}
		}
		return nil
	}
}

// v2Perms reports whether p is * or SMART v2 permissions (c?r?u?d?s?, at least one).
func v2Perms(p string) bool {
	if p == "*" {
		return true
	}
	rest := p
	for _, c := range "cruds" {
		rest = strings.TrimPrefix(rest, string(c))
	}
	return rest == "" && p != ""
}

// refresh is smart_token_refresh(_stu2) (g10_token_refresh_with/without_scopes): the refresh token for a
// new access token, 200; withScope sends the granted scope again.
func (f *flow) refresh(withScope bool) func() error {
	return func() error {
		rt, _ := f.tok["refresh_token"].(string)
		if f.ref != nil { // the second refresh uses the rotated token
			rt, _ = f.ref["refresh_token"].(string)
		}
		if rt == "" {
			return errors.New("no refresh token")
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if withScope {
			form.Set("scope", fmt.Sprint(f.tok["scope"]))
		}
		st, hdr, m, err := f.tokenPost(form)
		if err != nil {
			return err
		}
		f.refSt, f.refH, f.ref = st, hdr, m
		if st != http.StatusOK {
			return fmt.Errorf("status %d: %v", st, m)
		}
		return nil
	}
}

// refreshBody is smart_token_refresh_body: the refreshed response's fields, the scope not widened.
func (f *flow) refreshBody() error {
	m := f.ref
	if f.refSt != http.StatusOK {
		return fmt.Errorf("no refresh (status %d)", f.refSt)
	}
	for _, k := range []string{"access_token", "token_type", "scope"} {
		if s, _ := m[k].(string); s == "" {
			return fmt.Errorf("no %s", k)
		}
	}
	if n, ok := m["expires_in"].(float64); !ok || n <= 0 {
		return fmt.Errorf("expires_in %v", m["expires_in"])
	}
	if !strings.EqualFold(fmt.Sprint(m["token_type"]), "bearer") {
		return fmt.Errorf("token_type %v", m["token_type"])
	}
	if err := tokenFieldTypes(m); err != nil {
		return err
	}
	granted := strings.Fields(fmt.Sprint(f.tok["scope"]))
	for _, s := range strings.Fields(m["scope"].(string)) {
		if !slices.Contains(granted, s) {
			return fmt.Errorf("the refresh widened the scope with %s", s)
		}
	}
	return nil
}

// invalidRefresh is g10_invalid_token_refresh: an unknown refresh token, 400 or 401.
func (f *flow) invalidRefresh() error {
	st, _, m, err := f.tokenPost(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {randomHex(16)}})
	if err != nil {
		return err
	}
	if (st != 400 && st != 401) || m["access_token"] != nil {
		return fmt.Errorf("status %d %v, want 400 or 401", st, m)
	}
	return nil
}

// invalidPKCE is invalid_pkce_request with a missing, blank, wrong or plain code_verifier: 400 or 401.
func (f *flow) invalidPKCE(kind string) func() error {
	return func() error {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {f.code}, "redirect_uri": {harnessRedirect}}
		switch kind {
		case "blank":
			form.Set("code_verifier", "")
		case "bad":
			form.Set("code_verifier", randomHex(16)+"-"+randomHex(16))
		case "plain":
			form.Set("code_verifier", s256Challenge(f.verifier))
		}
		st, _, m, err := f.tokenPost(form)
		if err != nil {
			return err
		}
		if (st != 400 && st != 401) || m["access_token"] != nil {
			return fmt.Errorf("status %d %v, want 400 or 401", st, m)
		}
		return nil
	}
}

// styleURL is g10_smart_style_url: smart_style_url in the token response links to JSON.
func (f *flow) styleURL() error {
	u, _ := f.tok["smart_style_url"].(string)
	if u == "" {
		return errors.New("no smart_style_url")
	}
	st, _, body, err := f.h.get(u)
	if err != nil {
		return err
	}
	if st != http.StatusOK || !json.Valid(body) {
		return fmt.Errorf("GET %s: %d, valid JSON %v", u, st, json.Valid(body))
	}
	return nil
}

// needPatientBanner is g10_smart_need_patient_banner.
func (f *flow) needPatientBanner() error {
	if _, ok := f.tok["need_patient_banner"]; !ok {
		return errors.New("no need_patient_banner")
	}
	return nil
}

// The OpenID Connect group (smart_openid_connect) on a flow's id token.

func (f *flow) decodeIDToken() error {
	raw, _ := f.tok["id_token"].(string)
	var err error
	f.idHeader, f.idClaims, err = decodeJWTParts(raw)
	return err
}

func (f *flow) retrieveOpenID() error {
	iss, _ := f.idClaims["iss"].(string)
	st, _, body, err := f.h.get(strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d", st)
	}
	return json.Unmarshal(body, &f.openid)
}

func (f *flow) openIDFields() error {
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
		"subject_types_supported", "id_token_signing_alg_values_supported"} {
		if f.openid[k] == nil {
			return fmt.Errorf("no %s", k)
		}
	}
	if !slices.Contains(strList(f.openid["id_token_signing_alg_values_supported"]), "RS256") {
		return errors.New("RS256 is not among id_token_signing_alg_values_supported")
	}
	return nil
}

func (f *flow) retrieveJWKS() error {
	u, _ := f.openid["jwks_uri"].(string)
	st, _, body, err := f.h.get(u)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d", st)
	}
	if err := json.Unmarshal(body, &f.jwks); err != nil {
		return err
	}
	if len(f.jwks.Keys) == 0 {
		return errors.New("no keys")
	}
	return nil
}

func (f *flow) idTokenHeader() error {
	if f.idHeader["alg"] != "RS256" {
		return fmt.Errorf("alg %v", f.idHeader["alg"])
	}
	kid, _ := f.idHeader["kid"].(string)
	if len(f.jwks.Key(kid)) != 1 {
		return fmt.Errorf("kid %q is not one key of the JWKS", kid)
	}
	return nil
}

func (f *flow) idTokenPayload() error {
	raw, _ := f.tok["id_token"].(string)
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return err
	}
	kid, _ := f.idHeader["kid"].(string)
	keys := f.jwks.Key(kid)
	if len(keys) == 0 {
		return fmt.Errorf("no key %q", kid)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		return fmt.Errorf("signature: %v", err)
	}
	c := f.idClaims
	if c["iss"] != f.openid["issuer"] {
		return fmt.Errorf("iss %v, want %v", c["iss"], f.openid["issuer"])
	}
	if c["aud"] != f.client {
		return fmt.Errorf("aud %v, want %s", c["aud"], f.client)
	}
	for _, k := range []string{"sub", "exp", "iat"} {
		if c[k] == nil {
			return fmt.Errorf("no %s", k)
		}
	}
	if exp, _ := c["exp"].(float64); int64(exp) < time.Now().Unix() {
		return errors.New("expired")
	}
	return nil
}

func (f *flow) fhirUserClaim() error {
	fu, _ := f.idClaims["fhirUser"].(string)
	if fu == "" {
		return errors.New("no fhirUser claim")
	}
	st, body, err := f.h.bearerGet(fu, f.accessToken())
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.200s", fu, st, body)
	}
	return nil
}

// Token introspection (smart_token_introspection_request_group, token_introspection_response_group) of
// a flow's access token, the harness authenticating as the confidential client.

type introspection struct {
	f                     *flow
	activeSt, invalidSt   int
	active, invalid       map[string]any
	activeRaw, invalidRaw []byte
}

func (in *introspection) request(token string) (int, map[string]any, []byte, error) {
	u, _ := in.f.h.wellKnown["introspection_endpoint"].(string)
	if u == "" {
		return 0, nil, nil, errors.New("no introspection_endpoint in the SMART configuration")
	}
	st, _, body, err := in.f.h.postForm(u, url.Values{"token": {token}}, harnessConfidential, harnessSecret)
	if err != nil {
		return 0, nil, nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(body, &m); err != nil {
		return st, nil, body, fmt.Errorf("answer %d is not JSON: %.200s", st, body)
	}
	return st, m, body, nil
}

func (in *introspection) requestActive() error {
	var err error
	in.activeSt, in.active, in.activeRaw, err = in.request(in.f.accessToken())
	if err == nil && in.activeSt != http.StatusOK {
		err = fmt.Errorf("status %d", in.activeSt)
	}
	return err
}

func (in *introspection) requestInvalid() error {
	var err error
	in.invalidSt, in.invalid, in.invalidRaw, err = in.request("invalid_token_value")
	if err == nil && in.invalidSt != http.StatusOK {
		err = fmt.Errorf("status %d", in.invalidSt)
	}
	return err
}

// activeFields: active true; client_id, scope (as a set) and exp; patient and encounter as in the
// token response; iss, sub (and fhirUser) as in the ID token.
func (in *introspection) activeFields() error {
	m, f := in.active, in.f
	if m["active"] != true {
		return fmt.Errorf("active %v", m["active"])
	}
	if m["client_id"] != f.client {
		return fmt.Errorf("client_id %v", m["client_id"])
	}
	got, want := strings.Fields(fmt.Sprint(m["scope"])), strings.Fields(fmt.Sprint(f.tok["scope"]))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("scope %v, want %v", got, want)
	}
	if exp, ok := m["exp"].(float64); !ok || int64(exp) < time.Now().Unix()-600 {
		return fmt.Errorf("exp %v", m["exp"])
	}
	for _, k := range []string{"patient", "encounter"} {
		if v, _ := f.tok[k].(string); v != "" && m[k] != v {
			return fmt.Errorf("%s %v, want %v", k, m[k], v)
		}
	}
	_, claims, err := decodeJWTParts(fmt.Sprint(f.tok["id_token"]))
	if err != nil {
		return fmt.Errorf("id_token: %v", err)
	}
	for _, k := range []string{"iss", "sub", "fhirUser"} {
		if m[k] != claims[k] {
			return fmt.Errorf("%s %v, want the ID token's %v", k, m[k], claims[k])
		}
	}
	return nil
}

func (in *introspection) invalidFields() error {
	if in.invalid["active"] != false || len(in.invalid) != 1 {
		return fmt.Errorf("answer %s, want only active: false", in.invalidRaw)
	}
	return nil
}
