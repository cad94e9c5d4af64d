package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"fhirgate/auth/token"
	"fhirgate/gateway"
)

// introspectVerify answers introspection with the verifier of the FHIR API: a token is active exactly
// when the API would accept it.
func introspectVerify(v *token.Verifier) func(context.Context, string) (*gateway.TokenInfo, error) {
	return func(ctx context.Context, raw string) (*gateway.TokenInfo, error) {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		return &gateway.TokenInfo{Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID, Scope: c.Scope,
			Patient: c.Patient, Encounter: c.Encounter, FHIRUser: c.FHIRUser, Expiry: c.Expiry}, nil
	}
}

// bearerCaller authenticates an introspection caller of a third-party provider by an access token of
// that provider (RFC 7662 §2.1) whose client is one of clients: fhirgate knows none of the provider's
// client secrets or keys.
func bearerCaller(v *token.Verifier, clients []string) func(*http.Request, url.Values) (string, error) {
	return func(r *http.Request, _ url.Values) (string, error) {
		scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
			return "", errors.New("send an access token of an introspection client (Authorization: Bearer)")
		}
		c, err := v.Verify(r.Context(), strings.TrimSpace(raw))
		if err != nil {
			return "", err
		}
		if !slices.Contains(clients, c.ClientID) {
			return "", errors.New("the client is not one of --introspection-clients")
		}
		return c.ClientID, nil
	}
}
