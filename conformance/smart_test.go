package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// devIssuerDiscovery is the development issuer's discovery document, as far as SMART reads it
// (auth/devissuer's tests hold that the issuer publishes these).
var devIssuerDiscovery = map[string]any{
	"issuer": "http://localhost:8080/dev-issuer", "jwks_uri": "http://localhost:8080/dev-issuer/jwks",
	"authorization_endpoint": "http://localhost:8080/dev-issuer/authorize", "token_endpoint": "http://localhost:8080/dev-issuer/token",
	"revocation_endpoint":                              "http://localhost:8080/dev-issuer/revoke",
	"grant_types_supported":                            []any{"authorization_code", "refresh_token", "client_credentials"},
	"token_endpoint_auth_methods_supported":            []any{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
	"token_endpoint_auth_signing_alg_values_supported": []any{"RS384", "ES384"},
	"code_challenge_methods_supported":                 []any{"S256"},
	"id_token_signing_alg_values_supported":            []any{"RS256"},
	"scopes_supported": []any{"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
		"offline_access", "online_access"},
	"claims_supported":       []any{"iss", "sub", "patient", "fhirUser"},
	"smart_launch_supported": []any{"launch-ehr", "launch-standalone"},
}

func loadDiscovery(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSMARTConfigurationTellsTheTruth builds the SMART configuration from providers' discovery documents
// (oidc-provider's, captured by auth/token's TestProviderDiscoveryDocuments, with and without refresh
// tokens, introspection and revocation; the development issuer's; a bare provider) and checks that it
// lists exactly what each supports and fhirgate enforces.
func TestSMARTConfigurationTellsTheTruth(t *testing.T) {
	tests := []struct {
		name         string
		discovery    map[string]any
		introspect   string // fhirgate's own introspection endpoint, when served
		grants       []string
		authMethods  []string
		capabilities []string
		endpoints    map[string]string // "" means absent
	}{
		{
			name: "oidc-provider without refresh tokens, introspection or revocation", discovery: loadDiscovery(t, "oidc-provider-plain.json"),
			grants:      []string{"authorization_code", "client_credentials"},
			authMethods: []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
			// private_key_jwt, but with none of SMART's algorithms (RS384, ES384): not client-confidential-asymmetric.
			capabilities: []string{"launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
				"permission-v1", "permission-v2", "permission-patient", "permission-user", "sso-openid-connect"},
			endpoints: map[string]string{"introspection_endpoint": "", "revocation_endpoint": "", "management_endpoint": ""},
		},
		{
			name: "oidc-provider with refresh tokens, introspection and revocation", discovery: loadDiscovery(t, "oidc-provider-full.json"),
			grants:      []string{"authorization_code", "client_credentials", "refresh_token"},
			authMethods: []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
			capabilities: []string{"launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
				"permission-v1", "permission-v2", "permission-patient", "permission-user", "permission-offline", "sso-openid-connect"},
			endpoints: map[string]string{"introspection_endpoint": "http://provider.test/token/introspection",
				"revocation_endpoint": "http://provider.test/token/revocation"},
		},
		{
			name: "oidc-provider behind fhirgate's introspection", discovery: loadDiscovery(t, "oidc-provider-full.json"),
			introspect: "http://localhost:8080/auth/introspect",
			grants:     []string{"authorization_code", "client_credentials", "refresh_token"},
			endpoints:  map[string]string{"introspection_endpoint": "http://localhost:8080/auth/introspect"},
		},
		{
			name: "the development issuer", discovery: devIssuerDiscovery, introspect: "http://localhost:8080/auth/introspect",
			grants:      []string{"authorization_code", "client_credentials", "refresh_token"},
			authMethods: []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
			capabilities: []string{"launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
				"client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
				"context-banner", "context-style", "permission-v1", "permission-v2", "permission-patient", "permission-user",
				"permission-offline", "permission-online", "sso-openid-connect"},
			endpoints: map[string]string{"introspection_endpoint": "http://localhost:8080/auth/introspect",
				"revocation_endpoint": "http://localhost:8080/dev-issuer/revoke"},
		},
		{
			name: "a bare provider (client credentials only, no OpenID)", discovery: map[string]any{"issuer": "https://as.example",
				"jwks_uri": "https://as.example/jwks", "token_endpoint": "https://as.example/token",
				"grant_types_supported": []any{"client_credentials"}},
			grants:       []string{"client_credentials"},
			authMethods:  []string{"client_secret_basic"},
			capabilities: []string{"client-confidential-symmetric", "permission-v1", "permission-v2", "permission-patient", "permission-user"},
			endpoints:    map[string]string{"authorization_endpoint": "", "introspection_endpoint": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SMARTFromDiscovery(tt.discovery)
			if tt.introspect != "" {
				s.IntrospectionEndpoint = tt.introspect
			}
			var doc map[string]any
			if err := json.Unmarshal(SMARTConfiguration(s), &doc); err != nil {
				t.Fatal(err)
			}
			list := func(k string) []string {
				var out []string
				for _, v := range doc[k].([]any) {
					out = append(out, v.(string))
				}
				return out
			}
			if got := list("grant_types_supported"); !slices.Equal(got, tt.grants) {
				t.Errorf("grant_types_supported %v, want %v", got, tt.grants)
			}
			if tt.authMethods != nil {
				if got := list("token_endpoint_auth_methods_supported"); !slices.Equal(got, tt.authMethods) {
					t.Errorf("token_endpoint_auth_methods_supported %v, want %v", got, tt.authMethods)
				}
			}
			if tt.capabilities != nil {
				if got := list("capabilities"); !slices.Equal(got, tt.capabilities) {
					t.Errorf("capabilities\n got %v\nwant %v", got, tt.capabilities)
				}
			}
			for k, want := range tt.endpoints {
				got, _ := doc[k].(string)
				if got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if slices.Contains(list("code_challenge_methods_supported"), "plain") {
				t.Error("code_challenge_methods_supported lists plain")
			}
		})
	}
}
