package conformance

import (
	"strings"

	"fhirgate/fhir"
)

// SMART describes the authorization server for SMART App Launch discovery, from the issuer's OpenID
// discovery document.
type SMART struct {
	Issuer, JWKSURI, AuthorizationEndpoint, TokenEndpoint string
	// Extra endpoints when the issuer publishes them (IntrospectionEndpoint is fhirgate's own when it
	// serves one).
	IntrospectionEndpoint, RevocationEndpoint, RegistrationEndpoint, ManagementEndpoint string
	TokenEndpointAuthMethods                                                            []string
	// What the provider's discovery document says it supports (nil when it says nothing).
	GrantTypes, ScopesSupported, ClaimsSupported, CodeChallengeMethods, AuthSigningAlgs []string
	// IDTokenAlgs are the ID token signing algorithms (OpenID Connect: present when it issues them).
	IDTokenAlgs []string
	// LaunchModes are the SMART launches the provider says it runs ("launch-ehr", "launch-standalone"),
	// from the non-OpenID field smart_launch_supported that the development issuer publishes; other
	// providers have no way to say, and get no launch-ehr.
	LaunchModes []string
	// PatientClaim is the access token claim holding the patient (default "patient").
	PatientClaim string
}

// SMARTFromDiscovery reads the fields SMART needs from an OpenID discovery document.
func SMARTFromDiscovery(d map[string]any) *SMART {
	str := func(k string) string { s, _ := d[k].(string); return s }
	strs := func(k string) []string {
		list, ok := d[k].([]any)
		if !ok {
			if typed, ok := d[k].([]string); ok {
				return append([]string{}, typed...)
			}
			return nil
		}
		out := []string{}
		for _, m := range list {
			if v, ok := m.(string); ok {
				out = append(out, v)
			}
		}
		return out
	}
	return &SMART{Issuer: str("issuer"), JWKSURI: str("jwks_uri"), AuthorizationEndpoint: str("authorization_endpoint"),
		TokenEndpoint: str("token_endpoint"), IntrospectionEndpoint: str("introspection_endpoint"),
		RevocationEndpoint: str("revocation_endpoint"), RegistrationEndpoint: str("registration_endpoint"),
		ManagementEndpoint:       str("management_endpoint"),
		TokenEndpointAuthMethods: strs("token_endpoint_auth_methods_supported"),
		GrantTypes:               strs("grant_types_supported"), ScopesSupported: strs("scopes_supported"),
		ClaimsSupported: strs("claims_supported"), CodeChallengeMethods: strs("code_challenge_methods_supported"),
		AuthSigningAlgs: strs("token_endpoint_auth_signing_alg_values_supported"),
		IDTokenAlgs:     strs("id_token_signing_alg_values_supported"), LaunchModes: strs("smart_launch_supported")}
}

// ScopesSupported are the scopes fhirgate understands; the SMART configuration lists those the
// provider also lists (resource scopes are listed whatever the provider says: they are fhirgate's).
var ScopesSupported = []string{
	"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
	"patient/*.rs", "patient/*.cruds", "patient/*.read", "patient/*.write",
	"user/*.rs", "user/*.cruds", "user/*.read", "user/*.write",
	"system/*.rs", "system/*.cruds", "system/*.read", "system/*.write",
	"patient/AuditEvent.rs", "system/AuditEvent.rs", "patient/Consent.cruds",
}

// Capabilities are every SMART capability fhirgate can honour; the SMART configuration lists those
// the provider supports too (see SMARTCapabilities).
var Capabilities = []string{
	"launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
	"client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
	"context-banner", "context-style", "permission-v1", "permission-v2", "permission-patient", "permission-user",
	"permission-offline", "permission-online", "sso-openid-connect",
}

// SMART's token endpoint authentication methods and grant types, those fhirgate can list.
var (
	smartAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	smartGrantTypes  = []string{"authorization_code", "client_credentials", "refresh_token"}
)

// has reports whether list holds s.
func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// intersect keeps the elements of want that have lists, in want's order.
func intersect(want, have []string) []string {
	out := []string{}
	for _, w := range want {
		if has(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// grantTypes are the provider's grant types (RFC 8414 §2: authorization_code and implicit when it
// lists none) that SMART uses.
func (s *SMART) grantTypes() []string {
	g := s.GrantTypes
	if g == nil {
		g = []string{"authorization_code", "implicit"}
	}
	return intersect(smartGrantTypes, g)
}

// authMethods are the provider's token endpoint authentication methods (client_secret_basic when it
// lists none, RFC 8414 §2).
func (s *SMART) authMethods() []string {
	m := s.TokenEndpointAuthMethods
	if m == nil {
		m = []string{"client_secret_basic"}
	}
	return m
}

// scopeListed reports whether the provider lists a scope (a provider that lists none is taken to
// support none of the optional ones).
func (s *SMART) scopeListed(scope string) bool { return has(s.ScopesSupported, scope) }

// SMARTCapabilities are the capabilities both fhirgate and the provider support, as far as the
// provider's discovery document tells.
func SMARTCapabilities(s *SMART) []string {
	grants, methods := s.grantTypes(), s.authMethods()
	code := has(grants, "authorization_code") && s.AuthorizationEndpoint != "" && s.TokenEndpoint != ""
	ehr := code && has(s.LaunchModes, "launch-ehr") && s.scopeListed("launch")
	pkce := has(s.CodeChallengeMethods, "S256")
	patientClaim := s.PatientClaim
	if patientClaim == "" {
		patientClaim = "patient"
	}
	refresh := has(grants, "refresh_token")
	openid := s.scopeListed("openid") && len(s.IDTokenAlgs) > 0
	asymmetric := has(methods, "private_key_jwt") &&
		(s.AuthSigningAlgs == nil || has(s.AuthSigningAlgs, "RS384") || has(s.AuthSigningAlgs, "ES384"))
	on := map[string]bool{
		"launch-ehr":        ehr,
		"launch-standalone": code,
		// OpenID Connect Core §3.1.2.1: an OpenID provider's authorization endpoint takes POST.
		"authorize-post":                 code && openid,
		"client-public":                  code && pkce && has(methods, "none"),
		"client-confidential-symmetric":  has(methods, "client_secret_basic") || has(methods, "client_secret_post"),
		"client-confidential-asymmetric": asymmetric,
		"context-ehr-patient":            ehr,
		"context-ehr-encounter":          ehr,
		"context-banner":                 ehr,
		"context-style":                  ehr,
		"context-standalone-patient":     code && has(s.ClaimsSupported, patientClaim),
		"permission-v1":                  true, // scopes fhirgate enforces, whatever issued them
		"permission-v2":                  true,
		"permission-patient":             true,
		"permission-user":                true,
		"permission-offline":             refresh && s.scopeListed("offline_access"),
		"permission-online":              refresh && s.scopeListed("online_access"),
		"sso-openid-connect":             code && openid,
	}
	out := []string{}
	for _, c := range Capabilities {
		if on[c] {
			out = append(out, c)
		}
	}
	return out
}

// SMARTConfiguration returns the document served at [base]/.well-known/smart-configuration: what the
// provider supports (its discovery document) and fhirgate enforces, both.
func SMARTConfiguration(s *SMART) []byte {
	scopes := []string{}
	for _, sc := range ScopesSupported {
		if strings.Contains(sc, "/*.") || strings.Contains(sc, "/AuditEvent.") || strings.Contains(sc, "/Consent.") || s.scopeListed(sc) {
			scopes = append(scopes, sc)
		}
	}
	doc := map[string]any{
		"issuer":                   s.Issuer,
		"jwks_uri":                 s.JWKSURI,
		"grant_types_supported":    s.grantTypes(),
		"response_types_supported": []string{"code"},
		"scopes_supported":         scopes,
		"capabilities":             SMARTCapabilities(s),
		// SMART requires S256 and forbids plain: only S256 is listed, and only when the provider has it.
		"code_challenge_methods_supported":      intersect([]string{"S256"}, s.CodeChallengeMethods),
		"token_endpoint_auth_methods_supported": intersect(smartAuthMethods, s.authMethods()),
	}
	if s.AuthorizationEndpoint != "" {
		doc["authorization_endpoint"] = s.AuthorizationEndpoint
	}
	if s.TokenEndpoint != "" {
		doc["token_endpoint"] = s.TokenEndpoint
	}
	if algs := intersect([]string{"RS384", "ES384"}, s.AuthSigningAlgs); len(algs) > 0 {
		doc["token_endpoint_auth_signing_alg_values_supported"] = algs
	}
	for k, v := range map[string]string{"introspection_endpoint": s.IntrospectionEndpoint, "revocation_endpoint": s.RevocationEndpoint,
		"registration_endpoint": s.RegistrationEndpoint, "management_endpoint": s.ManagementEndpoint} {
		if v != "" {
			doc[k] = v
		}
	}
	return fhir.MustJSON(doc)
}

type security struct {
	CORS        bool              `json:"cors"`
	Service     []codeableConcept `json:"service"`
	Extension   []extension       `json:"extension,omitempty"`
	Description string            `json:"description,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text,omitempty"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type extension struct {
	URL       string      `json:"url"`
	ValueURI  string      `json:"valueUri,omitempty"`
	Extension []extension `json:"extension,omitempty"`
}

// securitySection is the CapabilityStatement's rest.security for SMART (with the oauth-uris extension
// that SMART 1.0 clients and conformance kits read).
func securitySection(s *SMART) *security {
	uris := extension{URL: "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"}
	for _, e := range []struct{ name, uri string }{{"authorize", s.AuthorizationEndpoint}, {"token", s.TokenEndpoint},
		{"register", s.RegistrationEndpoint}, {"manage", s.ManagementEndpoint}, {"introspect", s.IntrospectionEndpoint}, {"revoke", s.RevocationEndpoint}} {
		if e.uri != "" {
			uris.Extension = append(uris.Extension, extension{URL: e.name, ValueURI: e.uri})
		}
	}
	return &security{CORS: true, Extension: []extension{uris},
		Service: []codeableConcept{{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service", Code: "SMART-on-FHIR", Display: "SMART-on-FHIR"}},
			Text: "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"}},
		Description: "Every request needs an OIDC access token from " + s.Issuer + " with SMART scopes; patient data is also checked against the patient's consent and every access is audited."}
}
