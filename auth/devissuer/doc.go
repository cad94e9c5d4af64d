// Package devissuer is a minimal OpenID Connect issuer for development servers (fhirgate serve --dev).
//
// It signs real RS256 JWTs with a persisted RSA key and publishes a discovery document and a JWKS, so
// the server verifies its tokens exactly as it verifies those of a production provider: nothing in the
// verification path knows this issuer exists. It lives under a path prefix of the same server (the
// caller strips the prefix with http.StripPrefix); the issuer URL is the server's base plus that prefix.
//
// Endpoints, relative to the prefix:
//
//	GET  /.well-known/openid-configuration   discovery document
//	GET  /jwks                               public signing keys
//	POST /token                              client_credentials and authorization_code (PKCE S256) grants
//	GET  /authorize                          an HTML page to pick a demo user and patient
//	POST /authorize                          issues a code and redirects (303) to the redirect_uri
//
// Access tokens follow RFC 9068 (typ at+jwt) and carry the SMART claims fhirgate reads: scope, patient,
// fhirUser, purpose_of_use and organization. ID tokens (typ JWT) are issued when openid is granted.
//
// This issuer authenticates no one: clients are not registered, client secrets are not checked and
// anyone who can reach /authorize or /token can obtain a token for any demo user, scope and patient.
// It exists so that development servers, tests and demos exercise the real authorization path; never
// expose it with real patient data.
//
// The signing key is an RSA 2048 key kept in KeyDir as a PEM file (mode 0600), created on first start and
// reused afterwards, so tokens survive a restart. Rotate adds a new key that signs from then on; the
// previous key stays published until the next rotation.
package devissuer
