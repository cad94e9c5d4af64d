package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet is the issuer's JWKS, fetched on demand, refreshed when a token names an unknown key id (at
// most once per interval).
type keySet struct {
	url      string
	client   *http.Client
	interval time.Duration
	algs     []jose.SignatureAlgorithm
	now      func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   time.Time
	inflight  chan struct{}
	lastError error
}

var errUnknownKey = errors.New("token signed with a key the issuer does not publish")

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs) // a JWT is in the compact serialization (RFC 7519 §7.2)
	if err != nil {
		return nil, fmt.Errorf("malformed or unacceptable JWS: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("a token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, ok := k.verifyWith(jws, kid, k.cached()); ok {
		return payload, nil
	}
	keys, err := k.refresh(ctx)
	if err != nil {
		return nil, err
	}
	if payload, ok := k.verifyWith(jws, kid, keys); ok {
		return payload, nil
	}
	return nil, errUnknownKey
}

func (k *keySet) verifyWith(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		key := &keys[i]
		if kid != "" && key.KeyID != kid {
			continue
		}
		if !key.Valid() || !key.IsPublic() {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

func (k *keySet) cached() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// refresh fetches the JWKS unless it was fetched less than an interval ago; concurrent callers share one
// fetch.
func (k *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	if !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.interval {
		keys := k.keys
		k.mu.Unlock()
		return keys, nil
	}
	if ch := k.inflight; ch != nil {
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.keys, k.lastError
	}
	ch := make(chan struct{})
	k.inflight = ch
	k.mu.Unlock()

	// The fetch is shared: it must not die with the request that happened to start it.
	keys, err := k.fetch(context.WithoutCancel(ctx))

	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight = nil
	close(ch)
	k.lastError = err
	if err != nil {
		// A failed fetch is retried on the next unknown key, but not more than once a second.
		k.fetched = k.now().Add(-k.interval + min(k.interval, time.Second))
		return k.keys, err
	}
	k.fetched = k.now()
	k.keys = keys
	return keys, nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the issuer's keys: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetching the issuer's keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the issuer's keys: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the issuer's JWKS is malformed: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.Use == "" || key.Use == "sig" {
			keys = append(keys, key)
		}
	}
	return keys, nil
}
