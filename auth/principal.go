package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"fhirgate/auth/scope"
	"fhirgate/auth/token"
	"fhirgate/fhir"
)

// Principal is who is calling, from a verified access token.
type Principal struct {
	// Subject and Issuer identify the user (or client) at the OIDC provider.
	Subject, Issuer string
	// ClientID is the app.
	ClientID string
	// TokenID is the token's jti (recorded in audit events).
	TokenID string
	// Patient is the launch patient id ("" without patient context).
	Patient string
	// User is the user's FHIR resource, relative ("Practitioner/123", "Patient/456"), or "".
	User string
	// PurposeOfUse are the v3 ActReason codes of the request (defaults: PATRQT for a patient user, TREAT
	// otherwise).
	PurposeOfUse []string
	// Organizations are the user's organizations ("Organization/1") from the token.
	Organizations []string
	// Scopes are the granted scopes.
	Scopes scope.Set
}

// LogValue keeps tokens' identifiers and patient ids out of the logs.
func (p *Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client", p.ClientID), slog.Bool("patient_context", p.Patient != ""))
}

// Contexts returns the scope contexts that apply to the principal: patient/ scopes only with a patient
// context, user/ and system/ scopes always.
func (p *Principal) Contexts() []scope.Context {
	if p.Patient != "" {
		return []scope.Context{scope.Patient, scope.User, scope.System}
	}
	return []scope.Context{scope.User, scope.System}
}

// IsPatient reports whether the user is a patient (fhirUser is a Patient).
func (p *Principal) IsPatient() bool {
	return strings.HasPrefix(p.User, "Patient/")
}

// PatientUser reports whether the caller is a patient acting for themself: fhirUser is a Patient, or a
// patient context is given without any user. Such a caller sees and writes only their own compartment,
// whatever the scopes' prefix.
func (p *Principal) PatientUser() bool {
	return p.IsPatient() || (p.User == "" && p.Patient != "")
}

// RelatedPersonUser reports whether the user is a RelatedPerson (a relative or proxy acting for the
// patients their RelatedPerson resource links to).
func (p *Principal) RelatedPersonUser() bool {
	return strings.HasPrefix(p.User, "RelatedPerson/")
}

// Professional reports whether the user is a professional (a Practitioner or a PractitionerRole):
// whose organisation consents may name.
func (p *Principal) Professional() bool {
	return strings.HasPrefix(p.User, "Practitioner/") || strings.HasPrefix(p.User, "PractitionerRole/")
}

// Authenticator turns bearer tokens into principals.
type Authenticator struct {
	verifier *token.Verifier
	baseURL  string
}

// NewAuthenticator returns an Authenticator over a token verifier; baseURL is this server's FHIR base
// (an absolute fhirUser on it is made relative).
func NewAuthenticator(v *token.Verifier, baseURL string) *Authenticator {
	return &Authenticator{verifier: v, baseURL: strings.TrimSuffix(baseURL, "/") + "/"}
}

// Verifier returns the token verifier.
func (a *Authenticator) Verifier() *token.Verifier { return a.verifier }

// Unauthorized is the error of a request without a usable token. Code is login (no token), expired or
// unknown (a bad token); Details say why, without the token.
func Unauthorized(code, details string) *fhir.Error {
	return &fhir.Error{Kind: fhir.KindUnauthorized, Code: code, MessageID: "MSG_AUTH_REQUIRED", Details: details}
}

// Authenticate verifies a raw bearer token.
func (a *Authenticator) Authenticate(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, Unauthorized("login", "an access token is required (Authorization: Bearer ...)")
	}
	c, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		var te *token.Error
		if errors.As(err, &te) {
			if te.Expired {
				return nil, Unauthorized("expired", te.Reason)
			}
			return nil, Unauthorized("unknown", te.Reason)
		}
		return nil, Unauthorized("unknown", "the access token could not be verified")
	}
	p := &Principal{Subject: c.Subject, Issuer: c.Issuer, ClientID: c.ClientID, TokenID: c.TokenID,
		Patient: strings.TrimPrefix(c.Patient, "Patient/"), Scopes: scope.Parse(c.Scope)}
	if u := strings.TrimPrefix(c.FHIRUser, a.baseURL); u != "" {
		p.User = u
	}
	for _, o := range c.Organizations {
		if o = strings.TrimPrefix(o, a.baseURL); o != "" {
			if !strings.Contains(o, "/") {
				o = "Organization/" + o
			}
			p.Organizations = append(p.Organizations, o)
		}
	}
	p.PurposeOfUse = c.PurposeOfUse
	if len(p.PurposeOfUse) == 0 {
		if p.IsPatient() {
			p.PurposeOfUse = []string{"PATRQT"}
		} else {
			p.PurposeOfUse = []string{"TREAT"}
		}
	}
	if p.Patient == "" && p.IsPatient() {
		// A patient signed in as themself: their own record is the patient context.
		p.Patient = strings.TrimPrefix(p.User, "Patient/")
	}
	return p, nil
}
