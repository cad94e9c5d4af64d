package devissuer

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"fhirgate/auth/token"
)

// TestProductionVerifier checks the point of this package: its tokens pass fhirgate's own verifier,
// configured exactly as for a production provider (discovery, JWKS, iss, aud, exp).
func TestProductionVerifier(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	v, err := token.New(ctx, token.Config{Issuer: e.url, Audience: audience, Now: e.clock.Now, RefreshInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, raw string) *token.Claims {
		t.Helper()
		c, err := v.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("the verifier refused the token: %v", err)
		}
		return c
	}

	t.Run("client_credentials token", func(t *testing.T) {
		_, m := e.tokenJSON(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {"backend"},
			"scope": {"system/*.rs"}, "patient": {"pat-alice"}, "fhirUser": {"Practitioner/prac-house"},
			"purpose_of_use": {"TREAT,ETREAT"}, "organization": {"Organization/org-hopital-nord"}}, nil)
		c := verify(t, m["access_token"].(string))
		if c.Issuer != e.url || c.Subject != "Practitioner/prac-house" || c.ClientID != "backend" || c.Scope != "system/*.rs" ||
			c.Patient != "pat-alice" || c.FHIRUser != "Practitioner/prac-house" || c.TokenID == "" ||
			!slices.Equal(c.PurposeOfUse, []string{"TREAT", "ETREAT"}) ||
			!slices.Equal(c.Organizations, []string{"Organization/org-hopital-nord"}) ||
			!c.Expiry.Equal(e.clock.Now().Add(DefaultLifetime)) {
			t.Errorf("claims %+v", c)
		}
	})

	t.Run("authorization code token", func(t *testing.T) {
		verifier, challenge := pkcePair()
		code := e.authorize(t, authQuery(challenge), "Practitioner/prac-house", "Patient/pat-bob")
		_, m := e.tokenJSON(t, exchange(code, verifier), nil)
		c := verify(t, m["access_token"].(string))
		if c.Patient != "pat-bob" || c.FHIRUser != "Practitioner/prac-house" || c.ClientID != "smart-app" {
			t.Errorf("claims %+v", c)
		}
		// The ID token is for the client, not for the FHIR server.
		if _, err := v.Verify(ctx, m["id_token"].(string)); err == nil {
			t.Error("the verifier accepted an ID token as an access token")
		}
	})

	t.Run("after a key rotation", func(t *testing.T) {
		before, err := e.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, before)
		if err := e.iss.Rotate(); err != nil {
			t.Fatal(err)
		}
		// The verifier refetches the keys for an unknown kid at most once per RefreshInterval of its
		// clock, which is the fake one here.
		e.clock.Advance(time.Second)
		after, err := e.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs", Lifetime: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, after)
		// The cache is keyed by token: make sure the old key is still used for a fresh one too.
		if c := verify(t, before); c.ClientID != "c" {
			t.Errorf("claims %+v", c)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		raw, err := e.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs", Lifetime: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		_, err = v.Verify(ctx, raw)
		var te *token.Error
		if !errors.As(err, &te) || !te.Expired {
			t.Errorf("error %v, want an expired token", err)
		}
	})
}

// TestRevokedTokenRefused: a verifier that consults the issuer's revocation list refuses a token from
// the request after its revocation, though it verified (and cached) it before.
func TestRevokedTokenRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	v, err := token.New(ctx, token.Config{Issuer: e.url, Audience: audience, Now: e.clock.Now, Revoked: e.iss.Revoked})
	if err != nil {
		t.Fatal(err)
	}
	m := e.grantTokens(t, "launch/patient patient/*.rs offline_access")
	at := m["access_token"].(string)
	if _, err := v.Verify(ctx, at); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	// The refresh token used twice revokes the family, the first access token with it.
	rt := m["refresh_token"].(string)
	for n := 0; n < 2; n++ {
		e.tokenJSON(t, refreshForm(rt), nil)
	}
	if _, err := v.Verify(ctx, at); err == nil || err.Error() != "the access token was revoked" {
		t.Fatalf("after the family's revocation: %v, want the token refused as revoked", err)
	}
}
