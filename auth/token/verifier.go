package token

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// ClaimNames are the names of the claims fhirgate reads; empty fields take the defaults.
type ClaimNames struct {
	Scope        string // default "scope" (a space-separated string); "scp" (an array) is always read too
	Patient      string // default "patient"
	FHIRUser     string // default "fhirUser"
	Purpose      string // default "purpose_of_use"; IHE IUA's extensions.ihe_iua.purpose_of_use is read too
	Organization string // default "organization"
}

func (n *ClaimNames) defaults() {
	if n.Scope == "" {
		n.Scope = "scope"
	}
	if n.Patient == "" {
		n.Patient = "patient"
	}
	if n.FHIRUser == "" {
		n.FHIRUser = "fhirUser"
	}
	if n.Purpose == "" {
		n.Purpose = "purpose_of_use"
	}
	if n.Organization == "" {
		n.Organization = "organization"
	}
}

// Config configures a Verifier.
type Config struct {
	// Issuer is the OIDC issuer URL (its discovery document is at Issuer/.well-known/openid-configuration).
	Issuer string
	// Audience is the expected aud of access tokens (this server's FHIR base URL).
	Audience string
	// Claims names the claims to read.
	Claims ClaimNames
	// HTTPClient fetches discovery and keys (a client with a 10 s timeout when nil).
	HTTPClient *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ClockSkew is the tolerance on exp and nbf (default 30 s).
	ClockSkew time.Duration
	// RefreshInterval is the shortest time between two fetches of the issuer's keys (default 1 min).
	RefreshInterval time.Duration
	// CacheSize bounds the verified tokens kept (default 100,000).
	CacheSize int
	// Revoked, when set, is asked on every verification, of cached tokens too, whether the issuer
	// revoked the token with this jti: a development issuer in the same process answers from its
	// revocation list, so a revoked token is refused from the next request on. Without it a token is
	// valid until it expires.
	Revoked func(jti string) bool
}

// Claims are what fhirgate takes from a verified access token.
type Claims struct {
	Issuer, Subject, ClientID, TokenID string
	// Scope is the granted scope string (scope, or scp joined by spaces).
	Scope string
	// Patient is the launch patient id (patient context).
	Patient string
	// Encounter is the launch encounter id (SMART's encounter claim), when the token carries one.
	Encounter string
	// FHIRUser is the user's resource, "Practitioner/123" or an absolute URL.
	FHIRUser string
	// PurposeOfUse are v3 ActReason codes.
	PurposeOfUse []string
	// Organizations are the user's organizations from the token ("Organization/1").
	Organizations []string
	Expiry        time.Time
}

// Error is a refused token. Reason is safe to send back (error_description) and to log.
type Error struct {
	Expired bool
	Reason  string
}

func (e *Error) Error() string { return e.Reason }

// Verifier verifies access tokens of one issuer.
type Verifier struct {
	cfg       Config
	verifier  *oidc.IDTokenVerifier
	discovery map[string]any
	keys      *keySet

	mu    sync.Mutex
	cache map[[32]byte]*Claims
}

// asymmetric lists the JWS algorithms fhirgate accepts: public-key signatures only.
var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// New fetches the issuer's discovery document and returns a Verifier. It fails when the issuer cannot
// be reached or its document is unusable.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token: an issuer and an audience are required")
	}
	cfg.Claims.defaults()
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = 30 * time.Second
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = time.Minute
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100000
	}
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC issuer %s: %w", cfg.Issuer, err)
	}
	var disc map[string]any
	if err := provider.Claims(&disc); err != nil {
		return nil, fmt.Errorf("OIDC issuer %s: discovery document: %w", cfg.Issuer, err)
	}
	jwksURL, _ := disc["jwks_uri"].(string)
	if jwksURL == "" {
		return nil, fmt.Errorf("OIDC issuer %s publishes no jwks_uri", cfg.Issuer)
	}
	// Accepted: the asymmetric algorithms (a signature by one of the issuer's published keys), never
	// none and never HMAC, whatever the discovery document lists for ID tokens (access tokens may be
	// signed otherwise). go-jose checks that the algorithm fits the key.
	var algs []string
	for a := range asymmetric {
		algs = append(algs, a)
	}
	sort.Strings(algs)
	var joseAlgs []jose.SignatureAlgorithm
	for _, a := range algs {
		joseAlgs = append(joseAlgs, jose.SignatureAlgorithm(a))
	}
	ks := &keySet{url: jwksURL, client: cfg.HTTPClient, interval: cfg.RefreshInterval, algs: joseAlgs, now: cfg.Now}
	// exp and nbf are checked here, with the configured skew (go-oidc's own nbf leeway is fixed).
	v := &Verifier{cfg: cfg, discovery: disc, keys: ks, cache: map[[32]byte]*Claims{},
		verifier: oidc.NewVerifier(cfg.Issuer, ks, &oidc.Config{ClientID: cfg.Audience, SupportedSigningAlgs: algs,
			Now: cfg.Now, SkipExpiryCheck: true})}
	return v, nil
}

// Discovery returns the issuer's discovery document.
func (v *Verifier) Discovery() map[string]any { return v.discovery }

// Issuer returns the issuer URL.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Verify checks a raw access token and returns its claims, or an *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	key := sha256.Sum256([]byte(raw))
	now := v.cfg.Now()
	v.mu.Lock()
	if c, ok := v.cache[key]; ok {
		v.mu.Unlock()
		if now.Add(-v.cfg.ClockSkew).After(c.Expiry) {
			return nil, &Error{Expired: true, Reason: "the access token has expired"}
		}
		if v.revoked(c) {
			return nil, errRevoked
		}
		cp := *c
		return &cp, nil
	}
	v.mu.Unlock()
	if strings.Count(raw, ".") != 2 {
		return nil, &Error{Reason: "the access token is not a signed JWT"}
	}
	tok, err := v.verifier.Verify(oidc.ClientContext(ctx, v.cfg.HTTPClient), raw)
	if err != nil {
		return nil, &Error{Reason: reason(err)}
	}
	var c Claims
	nbf, err := v.claims(tok, &c)
	if err != nil {
		return nil, &Error{Reason: "the access token's claims are malformed: " + err.Error()}
	}
	if c.Expiry.IsZero() {
		return nil, &Error{Reason: "the access token has no expiry (exp)"}
	}
	if now.Add(-v.cfg.ClockSkew).After(c.Expiry) {
		return nil, &Error{Expired: true, Reason: "the access token has expired"}
	}
	if !nbf.IsZero() && now.Add(v.cfg.ClockSkew).Before(nbf) {
		return nil, &Error{Reason: "the access token is not valid yet (nbf)"}
	}
	if v.revoked(&c) {
		return nil, errRevoked
	}
	v.mu.Lock()
	if len(v.cache) >= v.cfg.CacheSize {
		// Drop the expired entries; if that is not enough, drop arbitrary ones down to half the size
		// (they will simply be verified again).
		for k, old := range v.cache {
			if now.After(old.Expiry) {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < v.cfg.CacheSize/2 {
				break
			}
			delete(v.cache, k)
		}
	}
	stored := c
	v.cache[key] = &stored
	v.mu.Unlock()
	return &c, nil
}

var errRevoked = &Error{Reason: "the access token was revoked"}

// revoked asks Config.Revoked about a token.
func (v *Verifier) revoked(c *Claims) bool {
	return v.cfg.Revoked != nil && c.TokenID != "" && v.cfg.Revoked(c.TokenID)
}

// reason turns a verification failure into a short, token-free sentence.
func reason(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, errUnknownKey) || strings.Contains(msg, errUnknownKey.Error()):
		return "the access token is not signed by a key of the trusted issuer"
	case strings.Contains(msg, "id token issued by a different provider"):
		return "the access token was issued by another issuer"
	case strings.Contains(msg, "expected audience"):
		return "the access token is not meant for this server (aud)"
	case strings.Contains(msg, "before the nbf"):
		return "the access token is not valid yet (nbf)"
	case strings.Contains(msg, "unexpected signature algorithm"):
		return "the access token's signature algorithm is not accepted"
	case strings.Contains(msg, "malformed"):
		return "the access token is malformed"
	}
	return "the access token's signature or claims are invalid"
}

// claims reads the token's claims into c and returns its nbf (zero when absent).
func (v *Verifier) claims(tok *oidc.IDToken, c *Claims) (time.Time, error) {
	var m map[string]json.RawMessage
	if err := tok.Claims(&m); err != nil {
		return time.Time{}, err
	}
	var nbf time.Time
	if raw, ok := m["nbf"]; ok {
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil {
			return time.Time{}, errors.New("nbf is not a number")
		}
		nbf = time.Unix(int64(n), 0)
	}
	str := func(name string) string { // "" when absent or not a string
		var s string
		if raw, ok := m[name]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	list := func(raw json.RawMessage) []string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.Fields(s)
		}
		var arr []any
		if json.Unmarshal(raw, &arr) != nil {
			return nil
		}
		var out []string
		for _, x := range arr {
			switch t := x.(type) {
			case string:
				out = append(out, t)
			case map[string]any: // a Coding, as IHE IUA carries purposes
				if code, _ := t["code"].(string); code != "" {
					out = append(out, code)
				}
			}
		}
		return out
	}
	n := v.cfg.Claims
	c.Issuer, c.Subject, c.Expiry = tok.Issuer, tok.Subject, tok.Expiry
	c.TokenID = str("jti")
	c.ClientID = str("client_id")
	if c.ClientID == "" {
		c.ClientID = str("azp")
	}
	if raw, ok := m[n.Scope]; ok {
		c.Scope = strings.Join(list(raw), " ")
	}
	if raw, ok := m["scp"]; ok && c.Scope == "" {
		c.Scope = strings.Join(list(raw), " ")
	}
	c.Patient = str(n.Patient)
	c.Encounter = str("encounter")
	c.FHIRUser = str(n.FHIRUser)
	if raw, ok := m[n.Purpose]; ok {
		c.PurposeOfUse = list(raw)
	}
	if raw, ok := m["extensions"]; ok && len(c.PurposeOfUse) == 0 {
		var ext struct {
			IUA struct {
				PurposeOfUse json.RawMessage `json:"purpose_of_use"`
			} `json:"ihe_iua"`
		}
		if json.Unmarshal(raw, &ext) == nil && len(ext.IUA.PurposeOfUse) > 0 {
			c.PurposeOfUse = list(ext.IUA.PurposeOfUse)
		}
	}
	if raw, ok := m[n.Organization]; ok {
		c.Organizations = list(raw)
	}
	return nbf, nil
}
