package devissuer

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Lifetimes of what the issuer hands out.
const (
	DefaultLifetime = time.Hour        // access and ID tokens, unless asked otherwise
	MaxLifetime     = 24 * time.Hour   // the longest lifetime a token request may ask for
	CodeLifetime    = 60 * time.Second // an authorization code must be exchanged within this
	BackendLifetime = 5 * time.Minute  // a backend service's token (client_credentials of a registered client)
)

// Config configures an Issuer.
type Config struct {
	// Issuer is the absolute issuer URL, e.g. http://localhost:8080/dev-issuer (a trailing slash is
	// dropped). The endpoints are published under it.
	Issuer string
	// Audience is the aud of the access tokens: the FHIR base URL they are for. /authorize refuses a
	// request whose aud is another one.
	Audience string
	// KeyDir is the directory that keeps the signing keys (file KeyFile, mode 0600); it is created when
	// missing.
	KeyDir string
	// Users are the demo users offered by /authorize; Ref is their fhirUser ("Practitioner/prac-house"
	// or an absolute URL).
	Users []Choice
	// Patients are the demo patients offered by /authorize when a patient context is asked for; Ref is
	// "Patient/<id>".
	Patients []Choice
	// Clients are the registered clients, besides DemoClients (see Client).
	Clients []Client
	// HTTPClient fetches registered clients' jwks_uri (a client with a 10 s timeout when nil).
	HTTPClient *http.Client
	// AccessLifetime is the lifetime of the access tokens of users' grants (authorization code and
	// refresh): DefaultLifetime when 0.
	AccessLifetime time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Choice is a demo user or patient offered by /authorize.
type Choice struct{ Ref, Label string }

// Issuer is a development OpenID Connect issuer. Its methods are safe for concurrent use.
type Issuer struct {
	cfg       Config
	url       string
	discovery []byte

	mu   sync.RWMutex
	keys []*signingKey // oldest first; the last one signs

	codesMu sync.Mutex
	codes   map[string]*grant

	clients    map[string]*Client
	jtis       jtiStore
	remoteKeys keyCache
	refresh    *refreshStore
	launches   launchStore
}

// New loads the signing key from cfg.KeyDir, creating it on first use, and returns the issuer.
func New(cfg Config) (*Issuer, error) {
	iss := strings.TrimSuffix(cfg.Issuer, "/")
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("devissuer: the issuer %q is not an absolute http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.Audience == "" {
		return nil, errors.New("devissuer: an audience (the FHIR base URL) is required")
	}
	if cfg.KeyDir == "" {
		return nil, errors.New("devissuer: a key directory is required")
	}
	cfg.Users = withLabels(cfg.Users)
	cfg.Patients = withLabels(cfg.Patients)
	seen := map[string]bool{}
	for _, c := range cfg.Users {
		if !validReference(c.Ref) || seen[c.Ref] {
			return nil, fmt.Errorf("devissuer: demo user %q: want a unique reference such as Practitioner/123", c.Ref)
		}
		seen[c.Ref] = true
	}
	seen = map[string]bool{} // a patient may also be a user (patient-facing apps)
	for _, c := range cfg.Patients {
		id, ok := strings.CutPrefix(c.Ref, "Patient/")
		if !ok || !validID(id) || seen[c.Ref] {
			return nil, fmt.Errorf("devissuer: demo patient %q: want a unique Patient/<id>", c.Ref)
		}
		seen[c.Ref] = true
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.AccessLifetime == 0 {
		cfg.AccessLifetime = DefaultLifetime
	}
	if cfg.AccessLifetime < time.Second || cfg.AccessLifetime > MaxLifetime {
		return nil, fmt.Errorf("devissuer: the access token lifetime must be between 1s and %s", MaxLifetime)
	}
	clients, err := checkClients(append(append([]Client{}, DemoClients...), cfg.Clients...))
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	keys, err := loadOrCreateKeys(cfg.KeyDir)
	if err != nil {
		return nil, err
	}
	i := &Issuer{cfg: cfg, url: iss, keys: keys, codes: map[string]*grant{}, clients: clients, refresh: newRefreshStore()}
	i.discovery, err = json.MarshalIndent(i.discoveryDocument(), "", "  ")
	if err != nil {
		return nil, err
	}
	return i, nil
}

// withLabels copies a list of choices, labelling unlabelled ones with their reference.
func withLabels(list []Choice) []Choice {
	out := make([]Choice, len(list))
	for n, c := range list {
		if strings.TrimSpace(c.Label) == "" {
			c.Label = c.Ref
		}
		out[n] = c
	}
	return out
}

// URL returns the issuer URL (the iss of its tokens).
func (i *Issuer) URL() string { return i.url }

// Handler serves the endpoints at paths relative to the issuer's prefix: mount it with
// http.StripPrefix(prefix, i.Handler()).
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /jwks", i.serveJWKS)
	mux.HandleFunc("GET "+stylePath, serveStyle)
	mux.HandleFunc("/token", i.serveToken) // any method: a wrong one gets an OAuth error, not a bare 405
	mux.HandleFunc("GET /authorize", i.serveAuthorize)
	mux.HandleFunc("POST /authorize", i.servePostAuthorize) // an authorization request by POST, or the consent
	mux.HandleFunc("/revoke", i.serveRevoke)
	mux.HandleFunc("GET /launch", i.serveLaunchPage)
	mux.HandleFunc("/launch", i.serveLaunch)
	return mux
}

// Rotate makes a new key the signing key. The previous signing key stays published in the JWKS (so
// the tokens it signed still verify) until the next rotation drops it. The keys are saved first: on
// error nothing changes.
func (i *Issuer) Rotate() error {
	k, err := generateKey()
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	keys := []*signingKey{i.keys[len(i.keys)-1], k}
	if err := writeKeys(i.cfg.KeyDir, keys); err != nil {
		return err
	}
	i.keys = keys
	return nil
}

var scopesSupported = []string{
	"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
	"patient/*.rs", "patient/*.cruds", "patient/*.read",
	"user/*.rs", "user/*.cruds", "user/*.read",
	"system/*.rs", "system/*.cruds", "system/*.read",
}

func (i *Issuer) discoveryDocument() map[string]any {
	return map[string]any{
		"issuer":                                           i.url,
		"jwks_uri":                                         i.url + "/jwks",
		"authorization_endpoint":                           i.url + "/authorize",
		"token_endpoint":                                   i.url + "/token",
		"revocation_endpoint":                              i.url + "/revoke",
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{"RS256"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"revocation_endpoint_auth_methods_supported":       []string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"},
		"scopes_supported":                                 scopesSupported,
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce",
			"client_id", "azp", "scope", "patient", "encounter", "fhirUser", "purpose_of_use", "organization"},
		// Not OpenID fields: what a SMART server built on this issuer can tell of it.
		"smart_launch_supported": []string{"launch-ehr", "launch-standalone"},
	}
}

// allowCORS lets browser apps (SMART public clients) read the discovery document, the keys and token
// responses. Nothing here relies on cookies, so any origin may read.
func allowCORS(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(i.discovery) // an error here is the client gone: nothing left to do
}

// publicKeys returns the published keys, oldest first.
func (i *Issuer) publicKeys() jose.JSONWebKeySet {
	i.mu.RLock()
	defer i.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(i.keys))}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, k.publicJWK())
	}
	return set
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(i.publicKeys())
	if err != nil {
		http.Error(w, "cannot encode the keys", http.StatusInternalServerError)
		return
	}
	allowCORS(w)
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=60")
	_, _ = w.Write(body) // an error here is the client gone: nothing left to do
}

// TokenRequest asks Token for an access token.
type TokenRequest struct {
	// ClientID is the client the token is issued to (client_id, azp; sub without FHIRUser). Required.
	ClientID string
	// Scope is the space-separated granted scope. Required.
	Scope string
	// Patient is the patient in context: an id, or "Patient/<id>" (the claim holds the id).
	Patient string
	// FHIRUser is the user's resource ("Practitioner/123" or an absolute URL); it is also the sub.
	FHIRUser string
	// Organization is the user's organization ("Organization/1" or an absolute URL).
	Organization string
	// Purpose holds v3 ActReason codes (purpose_of_use).
	Purpose []string
	// Lifetime is the token's lifetime: DefaultLifetime when 0, at most MaxLifetime.
	Lifetime time.Duration
}

// requestError is a refused request; code is an RFC 6749 §5.2 error code, description is safe to show.
type requestError struct {
	code, description string
}

func (e *requestError) Error() string { return e.description }

func invalidRequest(format string, args ...any) *requestError {
	return &requestError{code: "invalid_request", description: fmt.Sprintf(format, args...)}
}

// normalize checks a request and returns it in the form the claims carry.
func (req TokenRequest) normalize() (TokenRequest, error) {
	if req.ClientID == "" {
		return req, invalidRequest("client_id is required")
	}
	if !validClientID(req.ClientID) {
		return req, invalidRequest("client_id must be 1 to 255 printable ASCII characters")
	}
	scope, err := normalizeScope(req.Scope)
	if err != nil {
		return req, err
	}
	req.Scope = scope
	if req.Patient != "" {
		id := strings.TrimPrefix(req.Patient, "Patient/")
		if !validID(id) {
			return req, invalidRequest("patient must be a FHIR id (or Patient/<id>)")
		}
		req.Patient = id
	}
	if req.FHIRUser != "" && !validReference(req.FHIRUser) {
		return req, invalidRequest("fhirUser must be a reference such as Practitioner/123 or an absolute http(s) URL")
	}
	if req.Organization != "" && !validReference(req.Organization) {
		return req, invalidRequest("organization must be a reference such as Organization/1 or an absolute http(s) URL")
	}
	var purposes []string
	for _, p := range req.Purpose {
		if !validCode(p) {
			return req, invalidRequest("purpose_of_use codes must be 1 to 64 letters, digits, '-', '_' or '.'")
		}
		if !containsString(purposes, p) {
			purposes = append(purposes, p)
		}
	}
	if len(purposes) > 32 {
		return req, invalidRequest("too many purpose_of_use codes")
	}
	req.Purpose = purposes
	switch {
	case req.Lifetime == 0:
		req.Lifetime = DefaultLifetime
	case req.Lifetime < time.Second:
		return req, invalidRequest("lifetime must be at least 1 second")
	case req.Lifetime > MaxLifetime:
		return req, invalidRequest("lifetime must be at most %d seconds", int(MaxLifetime/time.Second))
	}
	return req, nil
}

func normalizeScope(s string) (string, error) {
	if len(s) > 8192 {
		return "", &requestError{code: "invalid_scope", description: "scope is too long"}
	}
	var out []string
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }) {
		if !validScopeToken(tok) {
			return "", &requestError{code: "invalid_scope",
				description: "scope tokens are separated by spaces and made of printable ASCII characters other than '\"' and '\\' (RFC 6749 §3.3)"}
		}
		if !containsString(out, tok) {
			out = append(out, tok)
		}
	}
	if len(out) == 0 {
		return "", invalidRequest("scope is required")
	}
	return strings.Join(out, " "), nil
}

// accessClaims are the claims of an RFC 9068 access token.
type accessClaims struct {
	Issuer          string   `json:"iss"`
	Subject         string   `json:"sub"`
	Audience        string   `json:"aud"`
	ClientID        string   `json:"client_id"`
	AuthorizedParty string   `json:"azp"`
	IssuedAt        int64    `json:"iat"`
	NotBefore       int64    `json:"nbf"`
	Expiry          int64    `json:"exp"`
	ID              string   `json:"jti"`
	AuthTime        int64    `json:"auth_time,omitempty"`
	Scope           string   `json:"scope"`
	Patient         string   `json:"patient,omitempty"`
	Encounter       string   `json:"encounter,omitempty"`
	FHIRUser        string   `json:"fhirUser,omitempty"`
	PurposeOfUse    []string `json:"purpose_of_use,omitempty"`
	Organization    string   `json:"organization,omitempty"`
}

// idClaims are the claims of an OpenID Connect ID token.
type idClaims struct {
	Issuer          string `json:"iss"`
	Subject         string `json:"sub"`
	Audience        string `json:"aud"`
	AuthorizedParty string `json:"azp"`
	IssuedAt        int64  `json:"iat"`
	Expiry          int64  `json:"exp"`
	AuthTime        int64  `json:"auth_time"`
	Nonce           string `json:"nonce,omitempty"`
	FHIRUser        string `json:"fhirUser,omitempty"`
}

// Token mints an access token directly, as /token would for a client_credentials request with the
// same parameters.
func (i *Issuer) Token(req TokenRequest) (string, error) {
	req, err := req.normalize()
	if err != nil {
		return "", err
	}
	raw, _, err := i.accessToken(req, time.Time{})
	return raw, err
}

// accessToken signs an access token for a normalized request. authTime is zero unless a user signed
// in.
func (i *Issuer) accessToken(req TokenRequest, authTime time.Time) (string, *accessClaims, error) {
	return i.signAccess(req, authTime, "")
}

// signAccess signs an access token for a normalized request, with an EHR launch's encounter.
func (i *Issuer) signAccess(req TokenRequest, authTime time.Time, encounter string) (string, *accessClaims, error) {
	now := i.cfg.Now()
	c := &accessClaims{
		Issuer:          i.url,
		Subject:         req.ClientID,
		Audience:        i.cfg.Audience,
		ClientID:        req.ClientID,
		AuthorizedParty: req.ClientID,
		IssuedAt:        now.Unix(),
		NotBefore:       now.Unix(),
		Expiry:          now.Add(req.Lifetime).Unix(),
		ID:              randomString(16),
		Scope:           req.Scope,
		Patient:         req.Patient,
		Encounter:       encounter,
		FHIRUser:        req.FHIRUser,
		PurposeOfUse:    req.Purpose,
		Organization:    req.Organization,
	}
	if req.FHIRUser != "" {
		c.Subject = req.FHIRUser
	}
	if !authTime.IsZero() {
		c.AuthTime = authTime.Unix()
	}
	raw, err := i.sign(c, "at+jwt")
	return raw, c, err
}

// sign signs claims with the current key, with the given typ header.
func (i *Issuer) sign(claims any, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	i.mu.RLock()
	k := i.keys[len(i.keys)-1]
	i.mu.RUnlock()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validClientID: RFC 6749 VSCHAR (%x20-7E), 1 to 255 characters.
func validClientID(s string) bool {
	return len(s) > 0 && len(s) <= 255 && printable(s)
}

// printable reports whether s is made of printable ASCII characters (space included).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validScopeToken: RFC 6749 §3.3, %x21 / %x23-5B / %x5D-7E.
func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// validID: a FHIR id, [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validCode: a coded value such as a v3 ActReason code.
func validCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validReference: a relative reference Type/id, or an absolute http(s) URL, without spaces, controls
// or characters that have no business in a URL.
func validReference(s string) bool {
	if len(s) == 0 || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '`' {
			return false
		}
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		return err == nil && u.Host != "" && u.User == nil
	}
	typ, id, ok := strings.Cut(s, "/")
	if !ok || typ == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return false
	}
	for i := 0; i < len(typ); i++ {
		if c := typ[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return validID(id)
}
