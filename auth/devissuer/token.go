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

// tokenResponse is an RFC 6749 §5.1 response, with SMART's patient context.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	IDToken     string `json:"id_token,omitempty"`
	Patient     string `json:"patient,omitempty"`
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

// clientOf returns the client id of a token request: form client_id, or HTTP Basic credentials
// (client_secret_basic). Secrets are not checked: clients are not registered.
func clientOf(r *http.Request, form url.Values) (string, error) {
	formID := form.Get("client_id")
	if r.Header.Get("Authorization") == "" {
		return formID, nil
	}
	user, _, ok := r.BasicAuth()
	if !ok {
		return "", &requestError{code: "invalid_client", description: "the Authorization header must hold Basic client credentials"}
	}
	id, err := url.QueryUnescape(user) // RFC 6749 §2.3.1: form-encoded, then Base64
	if err != nil || id == "" {
		return "", &requestError{code: "invalid_client", description: "the Basic credentials hold no well-formed client id"}
	}
	if form.Has("client_secret") {
		return "", invalidRequest("use one client authentication method: Basic credentials or client_secret, not both")
	}
	if formID != "" && formID != id {
		return "", invalidRequest("client_id differs from the client of the Basic credentials")
	}
	return id, nil
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions: // CORS preflight of a browser app sending Basic credentials
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	clientID, err := clientOf(r, form)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	var resp *tokenResponse
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
		resp, err = i.clientCredentials(clientID, form)
	case "authorization_code":
		resp, err = i.exchangeCode(clientID, form)
	case "":
		err = invalidRequest("grant_type is required")
	default:
		err = &requestError{code: "unsupported_grant_type",
			description: "grant_type must be client_credentials or authorization_code"}
	}
	if err != nil {
		writeRequestError(w, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, resp)
}

func (i *Issuer) clientCredentials(clientID string, form url.Values) (*tokenResponse, error) {
	req := TokenRequest{
		ClientID:     clientID,
		Scope:        form.Get("scope"),
		Patient:      form.Get("patient"),
		FHIRUser:     form.Get("fhirUser"),
		Organization: form.Get("organization"),
		Purpose: strings.FieldsFunc(form.Get("purpose_of_use"), func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		}),
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

func (i *Issuer) exchangeCode(clientID string, form url.Values) (*tokenResponse, error) {
	code, redirectURI, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	switch {
	case code == "":
		return nil, invalidRequest("code is required")
	case redirectURI == "":
		return nil, invalidRequest("redirect_uri is required")
	case clientID == "":
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
	case g.clientID != clientID:
		return nil, invalidGrant("the code was issued to another client")
	case g.redirectURI != redirectURI:
		return nil, invalidGrant("redirect_uri differs from the one of the authorization request")
	case !validVerifier(verifier) ||
		subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(g.challenge)) != 1:
		return nil, invalidGrant("code_verifier does not match the code_challenge")
	}
	req, err := TokenRequest{ClientID: clientID, Scope: g.scope, Patient: g.patient, FHIRUser: g.user}.normalize()
	if err != nil {
		return nil, err
	}
	raw, claims, err := i.accessToken(req, g.authTime)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: claims.Expiry - claims.IssuedAt,
		Scope: claims.Scope, Patient: claims.Patient}
	if containsString(strings.Fields(claims.Scope), "openid") {
		resp.IDToken, err = i.sign(&idClaims{
			Issuer:          i.url,
			Subject:         g.user,
			Audience:        clientID,
			AuthorizedParty: clientID,
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
