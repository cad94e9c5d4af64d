package devissuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxForm bounds the body of a form POST (token and authorize).
const maxForm = 64 << 10

// tokenResponse is an RFC 6749 §5.1 response, with SMART's launch context.
type tokenResponse struct {
	AccessToken       string        `json:"access_token"`
	TokenType         string        `json:"token_type"`
	ExpiresIn         int64         `json:"expires_in"`
	Scope             string        `json:"scope"`
	RefreshToken      string        `json:"refresh_token,omitempty"`
	IDToken           string        `json:"id_token,omitempty"`
	Patient           string        `json:"patient,omitempty"`
	Encounter         string        `json:"encounter,omitempty"`
	FHIRContext       []fhirContext `json:"fhirContext,omitempty"`
	NeedPatientBanner *bool         `json:"need_patient_banner,omitempty"`
	SmartStyleURL     string        `json:"smart_style_url,omitempty"`
}

// fhirContext is one entry of SMART's fhirContext: a resource the launch is about.
type fhirContext struct {
	Reference string `json:"reference"`
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // the values written here always encode
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body) // an error here is the client gone: nothing left to do
}

// oauthError writes an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	noStore(w)
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeRequestError(w http.ResponseWriter, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		oauthError(w, http.StatusInternalServerError, "server_error", "the token could not be issued")
		return
	}
	status := http.StatusBadRequest
	if re.code == "invalid_client" {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="fhirgate dev issuer"`)
	}
	oauthError(w, status, re.code, re.description)
}

// readForm reads an application/x-www-form-urlencoded body. Each parameter may appear once (RFC 6749
// §3.1, §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, invalidRequest("the body is larger than %d bytes", maxForm)
		}
		return nil, invalidRequest("the body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("the body is not a well-formed form")
	}
	for name, values := range form {
		if len(values) > 1 {
			return nil, invalidRequest("parameter %s appears more than once", strconv.Quote(name))
		}
	}
	return form, nil
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if !i.formEndpoint(w, r, "the token endpoint takes POST") {
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	client, err := i.authenticateClient(r, form, i.url+"/token")
	if err != nil {
		writeRequestError(w, err)
		return
	}
	var resp *tokenResponse
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
		resp, err = i.clientCredentials(client, form)
	case "authorization_code":
		resp, err = i.exchangeCode(client, form)
	case "refresh_token":
		resp, err = i.refreshGrant(client, form)
	case "":
		err = invalidRequest("grant_type is required")
	default:
		err = &requestError{code: "unsupported_grant_type",
			description: "grant_type must be authorization_code, refresh_token or client_credentials"}
	}
	if err != nil {
		writeRequestError(w, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, resp)
}

// formEndpoint answers what is not a POST to a form endpoint (a CORS preflight, another method) and
// reports whether the request is a POST to serve.
func (i *Issuer) formEndpoint(w http.ResponseWriter, r *http.Request, onlyPost string) bool {
	allowCORS(w)
	switch r.Method {
	case http.MethodPost:
		return true
	case http.MethodOptions: // CORS preflight of a browser app sending Basic credentials
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", onlyPost)
	}
	return false
}

// clientCredentials is the client_credentials grant. A registered client must have authenticated
// (a public one cannot use this grant) and gets system/ scopes only, for BackendLifetime by default; an
// open development client may also name a user, a patient, an organization and purposes of use (the
// development shortcut of fhirgate token).
func (i *Issuer) clientCredentials(client *authenticated, form url.Values) (*tokenResponse, error) {
	if client.id == "" {
		return nil, invalidRequest("client_id is required")
	}
	req := TokenRequest{ClientID: client.id, Scope: form.Get("scope")}
	if client.registered != nil {
		if !client.confidential {
			return nil, &requestError{code: "unauthorized_client", description: "a public client cannot use client_credentials"}
		}
		for _, name := range []string{"patient", "fhirUser", "organization", "purpose_of_use"} {
			if form.Has(name) {
				return nil, invalidRequest("%s is for open development clients only, not registered ones", name)
			}
		}
		scope, err := normalizeScope(req.Scope)
		if err != nil {
			return nil, err
		}
		for _, s := range strings.Fields(scope) {
			if !strings.HasPrefix(s, "system/") {
				return nil, &requestError{code: "invalid_scope", description: "a backend service is granted system/ scopes only, not " + s}
			}
		}
		req.Lifetime = BackendLifetime
	} else {
		req.Patient, req.FHIRUser, req.Organization = form.Get("patient"), form.Get("fhirUser"), form.Get("organization")
		req.Purpose = strings.FieldsFunc(form.Get("purpose_of_use"), func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		})
	}
	if s := form.Get("lifetime"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 1 {
			return nil, invalidRequest("lifetime must be a number of seconds between 1 and %d", int(MaxLifetime/time.Second))
		}
		if secs > int64(MaxLifetime/time.Second) {
			return nil, invalidRequest("lifetime must be at most %d seconds", int(MaxLifetime/time.Second))
		}
		req.Lifetime = time.Duration(secs) * time.Second
	}
	req, err := req.normalize()
	if err != nil {
		return nil, err
	}
	raw, claims, err := i.accessToken(req, time.Time{})
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - claims.IssuedAt,
		Scope: claims.Scope, Patient: claims.Patient}, nil
}

// grant is what an authorization code stands for until it is exchanged.
type grant struct {
	clientID, redirectURI, challenge string
	scope, user, patient, nonce      string
	launch                           *launchContext
	authTime, expires                time.Time
}

// maxCodes bounds the codes waiting to be exchanged.
const maxCodes = 10000

var errTooManyCodes = errors.New("too many authorization codes are waiting to be exchanged; try again in a minute")

// newCode stores g under a new random code.
func (i *Issuer) newCode(g *grant) (string, error) {
	now := i.cfg.Now()
	i.codesMu.Lock()
	defer i.codesMu.Unlock()
	if len(i.codes) >= maxCodes/2 {
		for c, old := range i.codes {
			if now.After(old.expires) {
				delete(i.codes, c)
			}
		}
	}
	if len(i.codes) >= maxCodes {
		return "", errTooManyCodes
	}
	code := randomString(32)
	i.codes[code] = g
	return code, nil
}

// takeCode returns the grant of a code and forgets it: a code is good for one attempt.
func (i *Issuer) takeCode(code string) *grant {
	i.codesMu.Lock()
	defer i.codesMu.Unlock()
	g := i.codes[code]
	delete(i.codes, code)
	return g
}

// s256 is the PKCE S256 transform: BASE64URL(SHA256(ASCII(verifier))).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier: RFC 7636 §4.1, 43 to 128 unreserved characters.
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func invalidGrant(description string) *requestError {
	return &requestError{code: "invalid_grant", description: description}
}

func (i *Issuer) exchangeCode(client *authenticated, form url.Values) (*tokenResponse, error) {
	code, redirectURI, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	switch {
	case code == "":
		return nil, invalidRequest("code is required")
	case redirectURI == "":
		return nil, invalidRequest("redirect_uri is required")
	case client.id == "":
		return nil, invalidRequest("client_id is required")
	case verifier == "":
		return nil, invalidRequest("code_verifier is required (PKCE)")
	}
	g := i.takeCode(code)
	switch {
	case g == nil:
		return nil, invalidGrant("the code is unknown or was already used")
	case i.cfg.Now().After(g.expires):
		return nil, invalidGrant("the code has expired")
	case g.clientID != client.id:
		return nil, invalidGrant("the code was issued to another client")
	case g.redirectURI != redirectURI:
		return nil, invalidGrant("redirect_uri differs from the one of the authorization request")
	case !validVerifier(verifier) ||
		subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(g.challenge)) != 1:
		return nil, invalidGrant("code_verifier does not match the code_challenge")
	}
	f := &family{clientID: client.id, scope: g.scope, user: g.user, patient: g.patient, launch: g.launch,
		confidential: client.confidential, authTime: g.authTime}
	resp, claims, err := i.issueFrom(f, g.scope)
	if err != nil {
		return nil, err
	}
	if lifetime, ok := wantsRefresh(g.scope); ok {
		f.expires = i.cfg.Now().Add(lifetime)
		if resp.RefreshToken, err = i.refresh.start(f, i.cfg.Now()); err != nil {
			return nil, err
		}
		i.refresh.issued(f, claims.ID, time.Unix(claims.Expiry, 0), i.cfg.Now())
	}
	if containsString(strings.Fields(claims.Scope), "openid") {
		resp.IDToken, err = i.sign(&idClaims{
			Issuer:          i.url,
			Subject:         g.user,
			Audience:        client.id,
			AuthorizedParty: client.id,
			IssuedAt:        claims.IssuedAt,
			Expiry:          claims.Expiry,
			AuthTime:        g.authTime.Unix(),
			Nonce:           g.nonce,
			FHIRUser:        g.user,
		}, "JWT")
		if err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// issueFrom signs an access token of a user's grant for scope, with the grant's launch context.
func (i *Issuer) issueFrom(f *family, scope string) (*tokenResponse, *accessClaims, error) {
	req, err := TokenRequest{ClientID: f.clientID, Scope: scope, Patient: f.patient, FHIRUser: f.user,
		Lifetime: i.cfg.AccessLifetime}.normalize()
	if err != nil {
		return nil, nil, err
	}
	encounter := ""
	if f.launch != nil {
		encounter = f.launch.encounter
	}
	raw, claims, err := i.signAccess(req, f.authTime, encounter)
	if err != nil {
		return nil, nil, err
	}
	resp := &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - claims.IssuedAt,
		Scope: claims.Scope, Patient: claims.Patient}
	if l := f.launch; l != nil {
		if l.encounter != "" {
			resp.Encounter = l.encounter
			resp.FHIRContext = []fhirContext{{Reference: "Encounter/" + l.encounter}}
		}
		banner := l.needPatientBanner
		resp.NeedPatientBanner = &banner
		resp.SmartStyleURL = l.styleURL
		if resp.SmartStyleURL == "" {
			resp.SmartStyleURL = i.url + stylePath
		}
	}
	return resp, claims, nil
}

// refreshGrant is the refresh_token grant: the refresh token is rotated (the response carries the next
// one) and the scope may only narrow.
func (i *Issuer) refreshGrant(client *authenticated, form url.Values) (*tokenResponse, error) {
	raw := form.Get("refresh_token")
	if raw == "" {
		return nil, invalidRequest("refresh_token is required")
	}
	now := i.cfg.Now()
	f, next, err := i.refresh.rotate(raw, client.id, client.confidential, now)
	if err != nil {
		return nil, err
	}
	scope := f.scope
	if s := form.Get("scope"); s != "" {
		asked, err := normalizeScope(s)
		if err != nil {
			return nil, err
		}
		granted := strings.Fields(f.scope)
		for _, tok := range strings.Fields(asked) {
			if !containsString(granted, tok) {
				return nil, &requestError{code: "invalid_scope", description: "a refresh may only narrow the scope: " + tok + " was not granted"}
			}
		}
		scope = asked
	}
	resp, claims, err := i.issueFrom(f, scope)
	if err != nil {
		return nil, err
	}
	i.refresh.issued(f, claims.ID, time.Unix(claims.Expiry, 0), now)
	resp.RefreshToken = next
	return resp, nil
}
