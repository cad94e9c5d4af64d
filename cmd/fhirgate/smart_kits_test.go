package main

// The kits' assertions as the harness replays them: testdata/smart_kit_assertions.txt lists every test
// of the groups the harness covers (kit, group path, test id, applicable or not and why); kitChecks
// gives the check of each applicable one. TestSMARTHarness fails when an applicable test has no check
// or a check names no applicable test.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
)

const (
	harnessLaunchURI    = "http://127.0.0.1:9/inferno/launch"
	harnessAsymmetric   = "inferno-asymmetric"
	standaloneScope     = "launch/patient openid fhirUser offline_access patient/*.rs"
	ehrScope            = "launch openid fhirUser offline_access user/*.rs"
	kitAssertionsFile   = "testdata/smart_kit_assertions.txt"
	smartKit, g10Kit    = "smart-app-launch-test-kit", "onc-certification-g10-test-kit"
	invalidAud          = "https://inferno.healthit.gov/invalid_aud"
	invalidLaunchParam  = "INVALID_LAUNCH_PARAM"
	patientAlice, house = "Patient/pat-alice", "Practitioner/prac-house"
)

// kitRow is one line of the assertion list.
type kitRow struct {
	kit, id    string // id: the group path and the test id, slash-separated
	applicable bool
	reason     string
}

// readKitRows reads an assertion list, "kit | group/.../test | yes|no | reason" per line, whose kits
// are those named.
func readKitRows(path string, kits ...string) ([]kitRow, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var rows []kitRow
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 fields separated by |", path, n)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		r := kitRow{kit: f[0], id: f[1], applicable: f[2] == "yes", reason: f[3]}
		if (f[2] != "yes" && f[2] != "no") || !slices.Contains(kits, f[0]) || (!r.applicable && r.reason == "") {
			return nil, fmt.Errorf("%s:%d: bad row %q", path, n, line)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

type kitCheck struct {
	id  string
	run func() error
}

// launchGroup returns the checks of a standalone launch group (smart_standalone_launch_stu2, TLS
// tests apart) at prefix.
func launchGroup(prefix string, f *flow) []kitCheck {
	return []kitCheck{
		{prefix + "/smart_app_redirect_stu2", f.redirectStep()},
		{prefix + "/smart_code_received", f.codeReceived},
		{prefix + "/smart_token_exchange", f.exchange},
		{prefix + "/smart_token_response_body", f.responseBody},
		{prefix + "/smart_token_response_headers", f.responseHeaders},
	}
}

func openIDGroup(prefix string, f *flow) []kitCheck {
	return []kitCheck{
		{prefix + "/smart_openid_decode_id_token", f.decodeIDToken},
		{prefix + "/smart_openid_retrieve_configuration", f.retrieveOpenID},
		{prefix + "/smart_openid_required_configuration_fields", f.openIDFields},
		{prefix + "/smart_openid_retrieve_jwks", f.retrieveJWKS},
		{prefix + "/smart_openid_token_header", f.idTokenHeader},
		{prefix + "/smart_openid_token_payload", f.idTokenPayload},
		{prefix + "/smart_openid_fhir_user_claim", f.fhirUserClaim},
	}
}

func (h *harness) discoveryGroup(prefix string, g10 bool) []kitCheck {
	c := []kitCheck{
		{prefix + "/well_known_endpoint", h.wellKnownEndpoint},
		{prefix + "/well_known_capabilities_stu2", h.wellKnownCapabilities},
	}
	if g10 {
		c = append(c, kitCheck{prefix + "/g10_smart_well_known_capabilities", h.g10Capabilities})
	}
	return c
}

// tokenRefreshGroup is g10_token_refresh(_stu2) and the g10 tests its scenarios add to it.
func tokenRefreshGroup(prefix string, f *flow) []kitCheck {
	return []kitCheck{
		{prefix + "/g10_token_refresh_without_scopes", f.refresh(false)},
		{prefix + "/g10_token_refresh_body_without_scopes", f.refreshBody},
		{prefix + "/g10_token_refresh_with_scopes", f.refresh(true)},
		{prefix + "/g10_token_refresh_body_with_scopes", f.refreshBody},
		{prefix + "/g10_patient_context", f.refreshedPatientContext},
		{prefix + "/g10_invalid_token_refresh", f.invalidRefresh},
	}
}

func introspectionGroups(prefix string, in *introspection) []kitCheck {
	return []kitCheck{
		{prefix + "/smart_token_introspection_request_group/Test01", in.requestActive},
		{prefix + "/smart_token_introspection_request_group/Test02", in.requestInvalid},
		{prefix + "/token_introspection_response_group/Test01", in.activeFields},
		{prefix + "/token_introspection_response_group/Test02", in.invalidFields},
	}
}

// kitChecks lists, in the order they run, the checks of every applicable kit test.
func (h *harness) kitChecks() []kitCheck {
	var c []kitCheck
	add := func(cs ...kitCheck) { c = append(c, cs...) }

	// SMART App Launch STU2 kit.
	add(h.discoveryGroup("smart_discovery_stu2", false)...)
	add(kitCheck{"smart_discovery_stu2_2/cors_well_known_endpoint", h.corsWellKnown})
	add([]kitCheck{
		{"smart_standalone_launch_stu2/smart_app_redirect_stu2", func() error { return h.redirectStep(http.MethodGet, harnessConfidential, "") }},
		{"smart_standalone_launch_stu2/smart_code_received", h.codeReceived},
		{"smart_standalone_launch_stu2/smart_token_exchange", h.tokenExchange},
		{"smart_standalone_launch_stu2/smart_token_response_body", h.tokenResponseBody},
		{"smart_standalone_launch_stu2/smart_token_response_headers", func() error { return noStoreHeaders(h.tokenHeader) }},
		{"smart_openid_connect/smart_openid_decode_id_token", h.decodeIDToken},
		{"smart_openid_connect/smart_openid_retrieve_configuration", h.retrieveOpenID},
		{"smart_openid_connect/smart_openid_required_configuration_fields", h.openIDFields},
		{"smart_openid_connect/smart_openid_retrieve_jwks", h.retrieveJWKS},
		{"smart_openid_connect/smart_openid_token_header", h.idTokenHeader},
		{"smart_openid_connect/smart_openid_token_payload", h.idTokenPayload},
		{"smart_openid_connect/smart_openid_fhir_user_claim", h.fhirUserClaim},
		{"smart_token_refresh/smart_token_refresh", h.tokenRefresh},
		{"smart_token_refresh/smart_token_refresh_body", h.tokenRefreshBody},
		{"smart_token_refresh/smart_token_response_headers", func() error { return noStoreHeaders(h.refreshedH) }},
	}...)
	intro := h.newFlow(harnessConfidential, authSymmetric, http.MethodGet, standaloneScope, patientAlice, patientAlice)
	add(launchGroup("smart_token_introspection/token_introspection_access_token_group/smart_standalone_launch_stu2", intro)...)
	add(introspectionGroups("smart_token_introspection", &introspection{f: intro})...)
	add([]kitCheck{
		{"backend_services_authorization/smart_backend_services_invalid_grant_type", h.backendInvalidGrantType},
		{"backend_services_authorization/smart_backend_services_invalid_client_assertion", h.backendInvalidAssertion},
		{"backend_services_authorization/smart_backend_services_invalid_jwt", h.backendInvalidJWT},
		{"backend_services_authorization/smart_backend_services_auth_request_success", h.backendSuccess},
		{"backend_services_authorization/smart_backend_services_auth_response_body", h.backendResponseBody},
	}...)

	// ONC (g)(10) kit, SMART App Launch 2.0.0.
	sa := h.newFlow(harnessConfidential, authSymmetric, http.MethodGet, standaloneScope, patientAlice, patientAlice)
	p := "g10_smart_standalone_patient_app"
	add(h.discoveryGroup(p+"/smart_discovery_stu2", true)...)
	add(launchGroup(p+"/smart_standalone_launch_stu2", sa)...)
	add([]kitCheck{
		{p + "/smart_standalone_launch_stu2/g10_smart_scopes", sa.g10Scopes("patient", "openid", "fhirUser", "launch/patient", "offline_access")},
		{p + "/smart_standalone_launch_stu2/g10_unauthorized_access", sa.unauthorizedAccess},
		{p + "/smart_standalone_launch_stu2/g10_patient_context", sa.patientContext},
	}...)
	add(openIDGroup(p+"/smart_openid_connect_stu2", sa)...)
	add(tokenRefreshGroup(p+"/g10_smart_standalone_token_refresh", sa)...)

	pub := h.newFlow(harnessPublic, authPublic, http.MethodPost, standaloneScope, patientAlice, patientAlice)
	add(launchGroup("g10_public_standalone_launch_stu2", pub)...)
	add(kitCheck{"g10_public_standalone_launch_stu2/g10_patient_context", pub.patientContext},
		kitCheck{"g10_public_standalone_launch_stu2/g10_public_launch_id_token", pub.idTokenPresent})

	ehr := h.newFlow(harnessConfidential, authSymmetric, http.MethodPost, ehrScope, "Practitioner/prac-martin", "")
	p = "g10_smart_ehr_practitioner_app"
	e := p + "/smart_ehr_launch_stu2"
	add(h.discoveryGroup(p+"/smart_discovery_stu2", true)...)
	add([]kitCheck{
		{e + "/smart_app_launch", func() error {
			pat, enc, err := h.someEncounter()
			if err != nil {
				return err
			}
			ehr.pat, ehr.encounter = pat, enc
			return ehr.appLaunch()
		}},
		{e + "/smart_launch_received", ehr.launchReceived},
		{e + "/smart_app_redirect_stu2", ehr.redirectStep()},
		{e + "/smart_code_received", ehr.codeReceived},
		{e + "/smart_token_exchange", ehr.exchange},
		{e + "/smart_token_response_body", ehr.responseBody},
		{e + "/smart_token_response_headers", ehr.responseHeaders},
		{e + "/g10_smart_scopes", ehr.g10Scopes("user", "openid", "fhirUser", "launch", "offline_access")},
		{e + "/g10_unauthorized_access", ehr.unauthorizedAccess},
		{e + "/g10_patient_context", ehr.patientContext},
		{e + "/g10_encounter_context", ehr.encounterContext},
		{e + "/g10_smart_style_url", ehr.styleURL},
		{e + "/g10_smart_need_patient_banner", ehr.needPatientBanner},
	}...)
	add(openIDGroup(p+"/smart_openid_connect", ehr)...)
	add(tokenRefreshGroup(p+"/g10_smart_ehr_token_refresh", ehr)...)

	aud := h.newFlow(harnessConfidential, authSymmetric, http.MethodGet, standaloneScope, patientAlice, patientAlice)
	add(kitCheck{"g10_smart_invalid_aud/smart_app_redirect_stu2", aud.redirectStep("aud", invalidAud)},
		kitCheck{"g10_smart_invalid_aud/Test03", aud.noCode})

	bad := h.newFlow(harnessConfidential, authSymmetric, http.MethodGet, ehrScope, house, "")
	bad.pat = "pat-alice"
	add(kitCheck{"g10_smart_invalid_launch_param/smart_app_launch", bad.appLaunch},
		kitCheck{"g10_smart_invalid_launch_param/smart_launch_received", bad.launchReceived},
		kitCheck{"g10_smart_invalid_launch_param/smart_app_redirect", bad.redirectStep("launch", invalidLaunchParam)},
		kitCheck{"g10_smart_invalid_launch_param/Test04", bad.noCode})

	for _, kind := range []string{"no", "blank", "bad", "plain"} {
		f := h.newFlow(harnessConfidential, authSymmetric, http.MethodGet, standaloneScope, patientAlice, patientAlice)
		g := "g10_smart_invalid_pkce_code_verifier_group/smart_" + kind
		verifier := "_verifier_token_request"
		if kind != "no" && kind != "blank" {
			verifier = "_code_verifier_token_request"
		}
		add(kitCheck{g + "_code_verifier_redirect", f.redirectStep()},
			kitCheck{g + "_code_verifier_code_received", f.codeReceived},
			kitCheck{g + verifier, f.invalidPKCE(kind)})
	}

	add(kitCheck{"g10_token_revocation/Test02", func() error { return h.revokedAccess(sa) }},
		kitCheck{"g10_token_revocation/Test03", func() error { return h.revokedRefresh(sa) }})

	gi := h.newFlow(harnessConfidential, authSymmetric, http.MethodGet, standaloneScope, patientAlice, patientAlice)
	p = "g10_token_introspection"
	add(h.discoveryGroup(p+"/token_introspection_access_token_group/smart_discovery_stu2", false)...)
	add(launchGroup(p+"/token_introspection_access_token_group/smart_standalone_launch_stu2", gi)...)
	add(introspectionGroups(p, &introspection{f: gi})...)

	asym := h.newFlow(harnessAsymmetric, authAsymmetric, http.MethodGet, standaloneScope, patientAlice, patientAlice)
	p = "g10_asymmetric_launch"
	add(h.discoveryGroup(p+"/smart_discovery_stu2", false)...)
	add(launchGroup(p+"/smart_standalone_launch_stu2", asym)...)
	add(kitCheck{p + "/smart_standalone_launch_stu2/g10_patient_context", asym.patientContext},
		kitCheck{p + "/smart_standalone_launch_stu2/g10_asymmetric_launch_id_token", asym.idTokenPresent})
	add(tokenRefreshGroup(p+"/g10_smart_asymmetric_token_refresh", asym)...)
	return c
}

// someEncounter returns an encounter of the demo data and its patient, found with a backend services
// token: the context an EHR launch puts the app in.
func (h *harness) someEncounter() (patient, encounter string, err error) {
	tok, _ := h.backendResp["access_token"].(string)
	if tok == "" {
		return "", "", errors.New("no backend token to find an encounter with")
	}
	st, body, err := h.bearerGet("Encounter?_count=20", tok)
	if err != nil {
		return "", "", err
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ID      string `json:"id"`
				Subject struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || st != http.StatusOK {
		return "", "", fmt.Errorf("encounters: %d %v %.200s", st, err, body)
	}
	for _, e := range b.Entry {
		if p, ok := strings.CutPrefix(e.Resource.Subject.Reference, "Patient/"); ok {
			return p, e.Resource.ID, nil
		}
	}
	return "", "", fmt.Errorf("no encounter with a patient: %.300s", body)
}

// revoke revokes a flow's refresh token at the revocation endpoint (RFC 7009), as the patient's
// request would: the step g10_token_revocation's attestation stands for.
func (h *harness) revoke(f *flow) error {
	revoke, _ := h.openid["revocation_endpoint"].(string)
	if revoke == "" {
		return errors.New("no revocation_endpoint")
	}
	rt, _ := f.ref["refresh_token"].(string)
	st, _, _, err := h.postForm(revoke, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, harnessConfidential, harnessSecret)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("revocation: %d %v", st, err)
	}
	return nil
}

// revokedAccess is g10_token_revocation's second test: after the revocation, the access token reads
// the patient no more (401, 403 or 404).
func (h *harness) revokedAccess(f *flow) error {
	at, _ := f.ref["access_token"].(string)
	p, _ := f.tok["patient"].(string)
	if st, body, err := h.bearerGet("Patient/"+p, at); err != nil || st != http.StatusOK {
		return fmt.Errorf("before the revocation: %d %v %.200s", st, err, body)
	}
	if err := h.revoke(f); err != nil {
		return err
	}
	st, _, err := h.bearerGet("Patient/"+p, at)
	if err != nil {
		return err
	}
	if st != 401 && st != 403 && st != 404 {
		return fmt.Errorf("after the revocation: %d, want 401, 403 or 404", st)
	}
	return nil
}

// revokedRefresh is g10_token_revocation's third test: the revoked refresh token is refused (400 or 401).
func (h *harness) revokedRefresh(f *flow) error {
	rt, _ := f.ref["refresh_token"].(string)
	st, _, m, err := f.tokenPost(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err != nil {
		return err
	}
	if (st != 400 && st != 401) || m["access_token"] != nil {
		return fmt.Errorf("status %d %v, want 400 or 401", st, m)
	}
	return nil
}
