package gateway

import (
	"net/http"
	"strings"

	"fhirgate/auth"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
)

// TokenPolicy authenticates each request's bearer token and guards it with the principal's scopes.
type TokenPolicy struct {
	Auth    *auth.Authenticator
	Engine  *search.Engine
	Options auth.Options
}

// GuardFor implements Policy.
func (p TokenPolicy) GuardFor(r *http.Request) (rest.Guard, error) {
	raw, err := bearerToken(r.Header.Values("Authorization"))
	if err != nil {
		return nil, err
	}
	principal, err := p.Auth.Authenticate(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	return auth.NewGuard(principal, p.Engine, p.Options), nil
}

// bearerToken extracts the token of "Authorization: Bearer <token>" ("" when there is none).
func bearerToken(values []string) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", auth.Unauthorized("unknown", "send one Authorization header")
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", auth.Unauthorized("unknown", "the Authorization header must be: Bearer <access token>")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > 16<<10 || strings.ContainsAny(tok, " \t\r\n") {
		return "", auth.Unauthorized("unknown", "the bearer token is malformed")
	}
	return tok, nil
}
