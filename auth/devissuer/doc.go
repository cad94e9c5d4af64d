// Package devissuer is a development OpenID Connect issuer and SMART authorization server for
// development servers (fhirgate serve --dev).
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
//	POST /token                              authorization_code (PKCE S256), refresh_token and client_credentials
//	GET  /authorize                          an authorization request: a page to pick a demo user and patient
//	POST /authorize                          the same request sent as a form, or the page's answer (a code,
//	                                         by a 303 to the redirect_uri)
//	POST /revoke                             token revocation (RFC 7009)
//	POST /launch                             an EHR launch context (what an EHR makes when it opens an app)
//
// Access tokens follow RFC 9068 (typ at+jwt) and carry the SMART claims fhirgate reads: scope, patient,
// encounter, fhirUser, purpose_of_use and organization. ID tokens (typ JWT) are issued when openid is
// granted; refresh tokens for offline_access and online_access, rotated on every use, a reused one
// revoking its whole grant (Revoked tells a resource server in the same process).
//
// Registered clients (Config.Clients, DemoClients) authenticate as their type says: none (public, PKCE
// only), a secret (Basic or form, compared in constant time), or a client assertion signed RS384 or
// ES384 by a registered key (RFC 7523, SMART Backend Services; the assertion's jti is remembered until
// it expires). A client id that is not registered is an open development client: anyone may use it,
// with any secret, and get a token for any demo user, scope and patient. The issuer authenticates no
// user either: its sign-in page is a picker. It exists so that development servers, tests and demos
// exercise the real authorization path; never expose it with real patient data.
//
// The stores of codes, refresh tokens, revoked tokens, assertion ids and launches are in memory and
// bounded; a restart forgets them (refresh tokens included).
//
// The signing key is an RSA 2048 key kept in KeyDir as a PEM file (mode 0600), created on first start and
// reused afterwards, so tokens survive a restart. Rotate adds a new key that signs from then on; the
// previous key stays published until the next rotation.
package devissuer
