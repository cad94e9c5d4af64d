package gateway

import (
	"net/http"
	"strings"

	"fhirgate/auth"
)

// TokenPolicy authenticates each request's bearer token and gives it the access decision point's guard
// for the principal.
type TokenPolicy struct {
	Auth   *auth.Authenticator
	Access *auth.Access
}

// GuardFor implements Policy.
func (p TokenPolicy) GuardFor(r *http.Request) (Guard, error) {
	raw, err := bearerToken(r.Header.Values("Authorization"))
	if err != nil {
		return nil, err
	}
	principal, err := p.Auth.Authenticate(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	return p.Access.Guard(principal), nil
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
