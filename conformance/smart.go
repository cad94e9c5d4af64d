package conformance

import (
	"fhirgate/fhir"
)

// SMART describes the authorization server for SMART App Launch discovery, from the issuer's OpenID
// discovery document.
type SMART struct {
	Issuer, JWKSURI, AuthorizationEndpoint, TokenEndpoint string
	// Extra endpoints when the issuer publishes them.
	IntrospectionEndpoint, RevocationEndpoint, RegistrationEndpoint, ManagementEndpoint string
	TokenEndpointAuthMethods                                                            []string
}

// SMARTFromDiscovery reads the fields SMART needs from an OpenID discovery document.
func SMARTFromDiscovery(d map[string]any) *SMART {
	str := func(k string) string { s, _ := d[k].(string); return s }
	s := &SMART{Issuer: str("issuer"), JWKSURI: str("jwks_uri"), AuthorizationEndpoint: str("authorization_endpoint"),
		TokenEndpoint: str("token_endpoint"), IntrospectionEndpoint: str("introspection_endpoint"),
		RevocationEndpoint: str("revocation_endpoint"), RegistrationEndpoint: str("registration_endpoint")}
	if list, ok := d["token_endpoint_auth_methods_supported"].([]any); ok {
		for _, m := range list {
			if v, ok := m.(string); ok {
				s.TokenEndpointAuthMethods = append(s.TokenEndpointAuthMethods, v)
			}
		}
	}
	return s
}

// ScopesSupported are the scopes advertised in the SMART configuration.
var ScopesSupported = []string{
	"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access",
	"patient/*.rs", "patient/*.cruds", "patient/*.read", "patient/*.write",
	"user/*.rs", "user/*.cruds", "user/*.read", "user/*.write",
	"system/*.rs", "system/*.cruds", "system/*.read", "system/*.write",
	"patient/AuditEvent.rs", "system/AuditEvent.rs", "patient/Consent.cruds",
}

// Capabilities are the SMART capabilities this server supports.
var Capabilities = []string{
	"launch-standalone", "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
	"context-standalone-patient", "permission-v1", "permission-v2", "permission-patient", "permission-user",
	"permission-offline", "sso-openid-connect",
}

// SMARTConfiguration returns the document served at [base]/.well-known/smart-configuration.
func SMARTConfiguration(s *SMART) []byte {
	doc := map[string]any{
		"issuer":                           s.Issuer,
		"jwks_uri":                         s.JWKSURI,
		"authorization_endpoint":           s.AuthorizationEndpoint,
		"token_endpoint":                   s.TokenEndpoint,
		"grant_types_supported":            []string{"authorization_code", "client_credentials"},
		"response_types_supported":         []string{"code"},
		"scopes_supported":                 ScopesSupported,
		"code_challenge_methods_supported": []string{"S256"},
		"capabilities":                     Capabilities,
	}
	if len(s.TokenEndpointAuthMethods) > 0 {
		doc["token_endpoint_auth_methods_supported"] = s.TokenEndpointAuthMethods
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
