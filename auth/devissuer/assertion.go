package devissuer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Client assertions (RFC 7523 §3, SMART Backend Services).
const (
	// MaxAssertionLifetime is how far ahead a client assertion's exp may be.
	MaxAssertionLifetime = 5 * time.Minute
	// assertionSkew tolerates clocks that differ a little.
	assertionSkew = 10 * time.Second
	// maxJTIs bounds the assertion ids remembered (each for at most MaxAssertionLifetime).
	maxJTIs = 100000
	// jwksRefetch is the shortest time between two fetches of a client's jwks_uri.
	jwksRefetch = 10 * time.Second
)

// assertionAlgs are the algorithms a client may sign an assertion with: those SMART names. none and the
// HMAC family are refused by construction (the parser accepts these only).
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// assertionClaims are the claims of a client assertion.
type assertionClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   *float64        `json:"exp"`
	NotBef   *float64        `json:"nbf"`
	ID       string          `json:"jti"`
}

// audienceIs reports whether an aud claim (a string or an array of strings) names want.
func audienceIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, a := range many {
		if a == want {
			return true
		}
	}
	return false
}

// jtiStore remembers the ids of the assertions already used, each until its exp, in bounded memory.
type jtiStore struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// use records an assertion id and reports whether it was new. It fails (false) when the store is full
// of ids not yet expired, refusing the assertion rather than forgetting one.
func (s *jtiStore) use(key string, exp, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	if _, dup := s.seen[key]; dup {
		return false
	}
	if len(s.seen) >= maxJTIs {
		for k, e := range s.seen {
			if now.After(e.Add(assertionSkew)) {
				delete(s.seen, k)
			}
		}
		if len(s.seen) >= maxJTIs {
			return false
		}
	}
	s.seen[key] = exp
	return true
}

// verifyAssertion checks a client assertion for the endpoint whose URL is aud and returns its client.
// Every failure is an invalid_client error that says what failed, never how to forge one.
func (i *Issuer) verifyAssertion(ctx context.Context, raw, aud string) (*Client, error) {
	if len(raw) > 16<<10 {
		return nil, invalidClient("the client assertion is too long")
	}
	jws, err := jose.ParseSignedCompact(raw, assertionAlgs)
	if err != nil {
		return nil, invalidClient("the client assertion must be a compact JWS signed with RS384 or ES384")
	}
	if len(jws.Signatures) != 1 {
		return nil, invalidClient("the client assertion must carry one signature")
	}
	var c assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, invalidClient("the client assertion's claims are not a JSON object")
	}
	client := i.client(c.Issuer)
	if client == nil || client.Type != ClientAsymmetric {
		return nil, invalidClient("the client assertion's iss is not a registered confidential-asymmetric client")
	}
	payload, err := i.verifyClientSignature(ctx, client, jws)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalidClient("the client assertion's claims are not a JSON object")
	}
	now := i.cfg.Now()
	switch {
	case c.Subject != c.Issuer:
		return nil, invalidClient("the client assertion's sub must be its iss (the client id)")
	case !audienceIs(c.Audience, aud) && !audienceIs(c.Audience, i.url+"/token"):
		return nil, invalidClient("the client assertion's aud must be " + i.url + "/token")
	case c.Expiry == nil:
		return nil, invalidClient("the client assertion has no exp")
	case c.ID == "" || len(c.ID) > 256:
		return nil, invalidClient("the client assertion needs a jti of at most 256 characters")
	}
	exp := time.Unix(int64(*c.Expiry), 0)
	switch {
	case !now.Before(exp.Add(assertionSkew)):
		return nil, invalidClient("the client assertion has expired")
	case exp.After(now.Add(MaxAssertionLifetime + assertionSkew)):
		return nil, invalidClient(fmt.Sprintf("the client assertion's exp is more than %d minutes ahead", int(MaxAssertionLifetime/time.Minute)))
	case c.NotBef != nil && now.Add(assertionSkew).Before(time.Unix(int64(*c.NotBef), 0)):
		return nil, invalidClient("the client assertion is not valid yet (nbf)")
	}
	if !i.jtis.use(client.ID+"\x00"+c.ID, exp, now) {
		return nil, invalidClient("the client assertion's jti was already used")
	}
	return client, nil
}

// verifyClientSignature verifies an assertion with the client's keys: inline, or from its jwks_uri
// (fetched again, at most every jwksRefetch, when no cached key verifies).
func (i *Issuer) verifyClientSignature(ctx context.Context, c *Client, jws *jose.JSONWebSignature) ([]byte, error) {
	if c.JWKS != nil {
		if p, ok := verifyWithKeys(jws, c.JWKS.Keys); ok {
			return p, nil
		}
		return nil, invalidClient("the client assertion is not signed by a key registered for the client")
	}
	keys, fetched := i.remoteKeys.get(c.ID)
	if p, ok := verifyWithKeys(jws, keys); ok {
		return p, nil
	}
	if !fetched.IsZero() && i.cfg.Now().Sub(fetched) < jwksRefetch {
		return nil, invalidClient("the client assertion is not signed by a key registered for the client")
	}
	keys, err := i.fetchJWKS(ctx, c.JWKSURL)
	if err != nil {
		i.remoteKeys.put(c.ID, nil, i.cfg.Now())
		return nil, invalidClient("the client's jwks_uri could not be read")
	}
	i.remoteKeys.put(c.ID, keys, i.cfg.Now())
	if p, ok := verifyWithKeys(jws, keys); ok {
		return p, nil
	}
	return nil, invalidClient("the client assertion is not signed by a key registered for the client")
}

// verifyWithKeys tries the keys that fit the signature's kid and alg.
func verifyWithKeys(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, bool) {
	h := jws.Signatures[0].Header
	for n := range keys {
		k := &keys[n]
		if (h.KeyID != "" && k.KeyID != h.KeyID) || (k.Algorithm != "" && k.Algorithm != h.Algorithm) ||
			(k.Use != "" && k.Use != "sig") || !k.Valid() || !k.IsPublic() {
			continue
		}
		if p, err := jws.Verify(k); err == nil {
			return p, true
		}
	}
	return nil, false
}

// keyCache holds the keys fetched from clients' jwks_uri.
type keyCache struct {
	mu      sync.Mutex
	keys    map[string][]jose.JSONWebKey
	fetched map[string]time.Time
}

func (k *keyCache) get(id string) ([]jose.JSONWebKey, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[id], k.fetched[id]
}

func (k *keyCache) put(id string, keys []jose.JSONWebKey, at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys, k.fetched = map[string][]jose.JSONWebKey{}, map[string]time.Time{}
	}
	if keys != nil {
		k.keys[id] = keys
	}
	k.fetched[id] = at
}

// fetchJWKS reads a JWKS (at most 256 KiB, within 5 seconds).
func (i *Issuer) fetchJWKS(ctx context.Context, url string) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := i.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks_uri answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	return set.Keys, nil
}
