package token_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDiscovery = flag.Bool("update-discovery", false, "rewrite conformance/testdata/oidc-provider-*.json from the running provider")

// TestProviderDiscoveryDocuments keeps conformance/testdata's copies of oidc-provider's discovery
// documents true: the conformance tests build fhirgate's SMART configuration from them (with and
// without refresh tokens, introspection and revocation) and check that it lists exactly what the
// provider supports. The copies name the issuer http://provider.test.
func TestProviderDiscoveryDocuments(t *testing.T) {
	node, dir := providerInstall(t)
	for _, tt := range []struct{ name, features string }{
		{"plain", ""},
		{"full", "introspection,revocation,refresh"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startProvider(t, node, dir, "", "OP_FEATURES="+tt.features)
			var doc map[string]any
			p.getJSON(t, p.issuer+"/.well-known/openid-configuration", &doc)
			raw, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got := append(bytes.ReplaceAll(raw, []byte(p.issuer), []byte("http://provider.test")), '\n')
			golden := filepath.Join("..", "..", "conformance", "testdata", "oidc-provider-"+tt.name+".json")
			if *updateDiscovery {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./auth/token -run TestProviderDiscoveryDocuments -update-discovery writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("oidc-provider's discovery document (%s) is no longer %s:\n%s", tt.features, golden, strings.TrimSpace(string(got)))
			}
		})
	}
}
