package devissuer

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/go-jose/go-jose/v4"
)

// The kinds of registered clients (SMART App Launch's client types).
const (
	ClientPublic     = "public"                  // no secret: PKCE is its only proof
	ClientSymmetric  = "confidential-symmetric"  // a client secret (client_secret_basic or client_secret_post)
	ClientAsymmetric = "confidential-asymmetric" // private_key_jwt with a registered key (RFC 7523)
)

// Client is a registered client. A client id that is not registered is still served as an open
// development client (any secret, no key), as the issuer always did; a registered one must
// authenticate as registered.
type Client struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// Type is ClientPublic, ClientSymmetric or ClientAsymmetric.
	Type string `json:"type"`
	// Secret is a symmetric client's secret.
	Secret string `json:"client_secret,omitempty"`
	// JWKS holds an asymmetric client's public keys, inline.
	JWKS *jose.JSONWebKeySet `json:"jwks,omitempty"`
	// JWKSURL is where an asymmetric client publishes its public keys (instead of JWKS).
	JWKSURL string `json:"jwks_uri,omitempty"`
	// RedirectURIs, when given, are the only redirect_uri values accepted, compared exactly.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

// clientsFile is the JSON of a --dev-clients file.
type clientsFile struct {
	Clients []Client `json:"clients"`
}

// LoadClients reads a clients file: {"clients": [{"client_id": ..., "type": ..., ...}]}.
func LoadClients(path string) ([]Client, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devissuer: clients file: %w", err)
	}
	return ParseClientsJSON(data)
}

// DemoClients are the clients every development issuer registers besides the configured ones: a public
// app and a confidential one whose secret is this published string (development only).
var DemoClients = []Client{
	{ID: "demo-public-app", Type: ClientPublic},
	{ID: "demo-confidential-app", Type: ClientSymmetric, Secret: "demo-secret-not-for-production"},
}

// checkClients validates registered clients and indexes them by id.
func checkClients(list []Client) (map[string]*Client, error) {
	out := map[string]*Client{}
	for n := range list {
		c := list[n]
		if !validClientID(c.ID) {
			return nil, fmt.Errorf("client %d: client_id must be 1 to 255 printable ASCII characters", n)
		}
		if out[c.ID] != nil {
			return nil, fmt.Errorf("client %q is registered twice", c.ID)
		}
		switch c.Type {
		case ClientPublic:
			if c.Secret != "" || c.JWKS != nil || c.JWKSURL != "" {
				return nil, fmt.Errorf("client %q: a public client has no secret and no keys", c.ID)
			}
		case ClientSymmetric:
			if len(c.Secret) < 16 {
				return nil, fmt.Errorf("client %q: a confidential-symmetric client needs a client_secret of at least 16 characters", c.ID)
			}
		case ClientAsymmetric:
			if (c.JWKS == nil) == (c.JWKSURL == "") {
				return nil, fmt.Errorf("client %q: a confidential-asymmetric client needs jwks or jwks_uri (one of them)", c.ID)
			}
			if c.JWKSURL != "" {
				if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return nil, fmt.Errorf("client %q: jwks_uri must be an absolute http(s) URL", c.ID)
				}
			}
			if c.JWKS != nil {
				for _, k := range c.JWKS.Keys {
					if !k.Valid() || !k.IsPublic() {
						return nil, fmt.Errorf("client %q: the jwks must hold valid public keys only", c.ID)
					}
				}
			}
		default:
			return nil, fmt.Errorf("client %q: type must be %s, %s or %s", c.ID, ClientPublic, ClientSymmetric, ClientAsymmetric)
		}
		for _, r := range c.RedirectURIs {
			if u, err := url.Parse(r); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
				return nil, fmt.Errorf("client %q: redirect URI %q is not an absolute http(s) URL without fragment", c.ID, r)
			}
		}
		out[c.ID] = &c
	}
	return out, nil
}

// client returns a registered client (nil when the id is not registered).
func (i *Issuer) client(id string) *Client { return i.clients[id] }

// authenticated is the client of a token, revocation or introspection request, once authenticated.
type authenticated struct {
	id string
	// registered is the registered client (nil for an open development client).
	registered *Client
	// confidential: the client proved a secret or a key.
	confidential bool
}

func invalidClient(description string) *requestError {
	return &requestError{code: "invalid_client", description: description}
}

// The client_assertion_type of RFC 7523 §2.2.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticateClient authenticates the client of a request to an endpoint whose URL is endpoint (the
// aud of a client assertion): HTTP Basic (client_secret_basic), client_secret in the form
// (client_secret_post), a client assertion (private_key_jwt), or, for a public or an open client,
// client_id alone. One method only.
func (i *Issuer) authenticateClient(r *http.Request, form url.Values, endpoint string) (*authenticated, error) {
	hasBasic := r.Header.Get("Authorization") != ""
	hasSecret := form.Has("client_secret")
	hasAssertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	n := 0
	for _, b := range []bool{hasBasic, hasSecret, hasAssertion} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, invalidRequest("use one client authentication method: Basic credentials, client_secret or client_assertion")
	}
	formID := form.Get("client_id")
	switch {
	case hasAssertion:
		if form.Get("client_assertion_type") == "" {
			return nil, invalidRequest("client_assertion_type is required with client_assertion")
		}
		if form.Get("client_assertion_type") != jwtBearer {
			return nil, invalidRequest("client_assertion_type must be " + jwtBearer)
		}
		if form.Get("client_assertion") == "" {
			return nil, invalidRequest("client_assertion is required with client_assertion_type")
		}
		c, err := i.verifyAssertion(r.Context(), form.Get("client_assertion"), endpoint)
		if err != nil {
			return nil, err
		}
		if formID != "" && formID != c.ID {
			return nil, invalidClient("client_id differs from the iss of the client assertion")
		}
		return &authenticated{id: c.ID, registered: c, confidential: true}, nil
	case hasBasic:
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, invalidClient("the Authorization header must hold Basic client credentials")
		}
		id, err1 := url.QueryUnescape(user) // RFC 6749 §2.3.1: form-encoded, then Base64
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || id == "" {
			return nil, invalidClient("the Basic credentials hold no well-formed client id")
		}
		if formID != "" && formID != id {
			return nil, invalidRequest("client_id differs from the client of the Basic credentials")
		}
		return i.checkSecret(id, secret)
	case hasSecret:
		if formID == "" {
			return nil, invalidRequest("client_id is required with client_secret")
		}
		return i.checkSecret(formID, form.Get("client_secret"))
	}
	if formID == "" {
		return &authenticated{}, nil // the grant says whether a client is required
	}
	if !validClientID(formID) {
		return nil, invalidRequest("client_id must be 1 to 255 printable ASCII characters")
	}
	c := i.client(formID)
	if c != nil && c.Type != ClientPublic {
		return nil, invalidClient("client " + formID + " is confidential: it must authenticate")
	}
	return &authenticated{id: formID, registered: c}, nil
}

// checkSecret authenticates a client by its secret. An open development client's secret is not
// checked (it has none).
func (i *Issuer) checkSecret(id, secret string) (*authenticated, error) {
	if !validClientID(id) {
		return nil, invalidClient("client_id must be 1 to 255 printable ASCII characters")
	}
	c := i.client(id)
	if c == nil {
		return &authenticated{id: id}, nil
	}
	// Compared as hashes, in constant time: neither the length nor the content leaks through timing.
	got, want := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(c.Secret))
	if c.Type != ClientSymmetric || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return nil, invalidClient("the client credentials are not valid")
	}
	return &authenticated{id: id, registered: c, confidential: true}, nil
}

// ClientAuthenticator authenticates the caller of another endpoint (such as a resource server's
// introspection endpoint) as a client of this issuer: a confidential registered client, by Basic
// credentials, client_secret or client assertion (whose aud must be endpoint). It returns the client id.
func (i *Issuer) ClientAuthenticator(endpoint string) func(r *http.Request, form url.Values) (string, error) {
	return func(r *http.Request, form url.Values) (string, error) {
		a, err := i.authenticateClient(r, form, endpoint)
		if err != nil {
			return "", err
		}
		if a.registered == nil || !a.confidential {
			return "", errors.New("only a registered confidential client may call this endpoint")
		}
		return a.id, nil
	}
}

// redirectAllowed reports whether a client may be sent back to a redirect URI: exactly one of its
// registered ones, or any for an open development client or a client registered without any.
func (c *Client) redirectAllowed(uri string) bool {
	if c == nil || len(c.RedirectURIs) == 0 {
		return true
	}
	for _, r := range c.RedirectURIs {
		if r == uri {
			return true
		}
	}
	return false
}

// ParseClientsJSON is LoadClients for a document in memory.
func ParseClientsJSON(data []byte) ([]Client, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f clientsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("devissuer: clients: %w", err)
	}
	if _, err := checkClients(f.Clients); err != nil {
		return nil, fmt.Errorf("devissuer: clients: %w", err)
	}
	return f.Clients, nil
}
