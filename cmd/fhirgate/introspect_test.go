package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"fhirgate/auth/devissuer"
	"fhirgate/auth/token"
)

// TestBearerCaller: with a third-party provider, introspection callers authenticate with an access
// token of the provider whose client is one of --introspection-clients (the development issuer stands
// in for the provider).
func TestBearerCaller(t *testing.T) {
	iss, err := devissuer.New(devissuer.Config{Issuer: "http://provider.test/dev-issuer", Audience: "http://fhir.test/fhir", KeyDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.New(context.Background(), token.Config{Issuer: iss.URL(), Audience: "http://fhir.test/fhir",
		HTTPClient: &http.Client{Transport: iss.Transport(), Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(client string) string {
		raw, err := iss.Token(devissuer.TokenRequest{ClientID: client, Scope: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	caller := bearerCaller(v, []string{"resource-server"})
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"allowed client", "Bearer " + mint("resource-server"), true},
		{"another client", "Bearer " + mint("some-app"), false},
		{"no header", "", false},
		{"Basic credentials", "Basic cmVzb3VyY2Utc2VydmVyOng=", false},
		{"garbage token", "Bearer not-a-token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/auth/introspect", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			id, err := caller(r, nil)
			if (err == nil) != tt.ok || (tt.ok && id != "resource-server") {
				t.Fatalf("caller = %q, %v; want ok %v", id, err, tt.ok)
			}
		})
	}
}
