// Package token verifies OIDC access tokens: signed JWTs (RFC 9068 at+jwt or plain) issued by the one
// configured OpenID provider. It is the only package that imports go-oidc.
//
// Checks, cheapest first: the token's shape and algorithm (only asymmetric algorithms the issuer
// publishes; never none, never HMAC), the signature against the issuer's JWKS (an unknown key id refreshes
// the keys, at most once per RefreshInterval, so rotation needs no restart and junk tokens cannot make the
// server hammer the issuer), then iss, aud, exp and nbf with a small clock skew. Verified tokens are cached
// by their SHA-256 until they expire, so a request does not pay for a signature check every time; when the
// issuer can tell of revocations (Config.Revoked, an issuer in the same process), every request asks it,
// cached tokens included.
package token
