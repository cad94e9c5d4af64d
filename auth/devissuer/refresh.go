package devissuer

import (
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// Refresh tokens (SMART offline_access and online_access).
const (
	// OfflineLifetime is how long an offline_access refresh token family lives.
	OfflineLifetime = 30 * 24 * time.Hour
	// OnlineLifetime is how long an online_access refresh token family lives (this issuer keeps no
	// sessions: a working day stands for "while the user is online").
	OnlineLifetime = 8 * time.Hour
	// maxFamilies bounds the refresh token families kept; maxPerFamily the access tokens remembered in
	// one (to revoke them with it).
	maxFamilies  = 50000
	maxPerFamily = 64
	// maxRevoked bounds the revoked access token ids kept (each until the token expires).
	maxRevoked = 100000
)

// family is a chain of refresh tokens: each use gives a new one and retires the old one. Using a
// retired one means the chain leaked: the whole family is revoked.
type family struct {
	clientID, scope, user, patient string
	launch                         *launchContext
	confidential                   bool
	authTime, expires              time.Time
	current                        [32]byte          // hash of the one live refresh token
	used                           map[[32]byte]bool // hashes of the retired ones
	access                         map[string]time.Time
	revoked                        bool
}

// refreshStore holds the families, indexed by the hashes of their refresh tokens (never the tokens
// themselves), and the revoked access token ids.
type refreshStore struct {
	mu       sync.Mutex
	byHash   map[[32]byte]*family
	families map[*family]bool
	revoked  map[string]time.Time // access token jti -> its exp
}

func newRefreshStore() *refreshStore {
	return &refreshStore{byHash: map[[32]byte]*family{}, families: map[*family]bool{}, revoked: map[string]time.Time{}}
}

func hashToken(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }

// wantsRefresh reports whether a granted scope asks for a refresh token, and for how long.
func wantsRefresh(scope string) (time.Duration, bool) {
	fields := strings.Fields(scope)
	switch {
	case containsString(fields, "offline_access"):
		return OfflineLifetime, true
	case containsString(fields, "online_access"):
		return OnlineLifetime, true
	}
	return 0, false
}

// prune drops expired families and revoked ids; the caller holds the lock.
func (s *refreshStore) prune(now time.Time) {
	for f := range s.families {
		if now.After(f.expires) {
			s.dropLocked(f)
		}
	}
	for jti, exp := range s.revoked {
		if now.After(exp) {
			delete(s.revoked, jti)
		}
	}
}

func (s *refreshStore) dropLocked(f *family) {
	delete(s.byHash, f.current)
	for h := range f.used {
		delete(s.byHash, h)
	}
	delete(s.families, f)
}

// start begins a family whose first refresh token is returned.
func (s *refreshStore) start(f *family, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.families) >= maxFamilies {
		s.prune(now)
		if len(s.families) >= maxFamilies {
			return "", errTooManyFamilies
		}
	}
	raw := randomString(32)
	f.current = hashToken(raw)
	f.used = map[[32]byte]bool{}
	if f.access == nil {
		f.access = map[string]time.Time{}
	}
	s.byHash[f.current] = f
	s.families[f] = true
	return raw, nil
}

var errTooManyFamilies = &requestError{code: "temporarily_unavailable", description: "too many refresh tokens are live; try again later"}

// rotate takes a refresh token presented by a client and returns its family with a new refresh
// token, retiring the old one. A retired token revokes the family. A public client may leave out its
// client_id (RFC 6749 §6); clientID "" stands for that. A family issued to an authenticated client
// takes only that client, authenticated (confidential).
func (s *refreshStore) rotate(raw, clientID string, confidential bool, now time.Time) (*family, string, error) {
	h := hashToken(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.byHash[h]
	switch {
	case f == nil:
		return nil, "", invalidGrant("the refresh token is unknown, expired or revoked")
	case clientID != "" && f.clientID != clientID:
		// Another client holding this token is a leak too, but it must not be able to revoke the
		// legitimate client's family: the token is refused and nothing else changes.
		return nil, "", invalidGrant("the refresh token was issued to another client")
	case f.confidential && !confidential:
		return nil, "", invalidClient("the refresh token was issued to a confidential client: it must authenticate")
	case f.revoked || now.After(f.expires):
		return nil, "", invalidGrant("the refresh token is unknown, expired or revoked")
	case f.used[h]:
		s.revokeLocked(f)
		return nil, "", invalidGrant("the refresh token was already used: every token of its grant is now revoked")
	}
	delete(s.byHash, h)
	f.used[h] = true
	s.byHash[h] = f // kept, retired, to detect its reuse
	next := randomString(32)
	f.current = hashToken(next)
	s.byHash[f.current] = f
	return f, next, nil
}

// revokeLocked revokes a family and the access tokens issued from it. The family is kept (revoked)
// until it expires, so that its tokens answer as revoked rather than unknown.
func (s *refreshStore) revokeLocked(f *family) {
	f.revoked = true
	for jti, exp := range f.access {
		s.revoked[jti] = exp
	}
}

// issued records an access token issued from a family. A family remembers its newest access tokens
// only (maxPerFamily): one refreshed more often than that within an access token lifetime leaves the
// oldest unrevocable with it, which the lifetime bounds.
func (s *refreshStore) issued(f *family, jti string, exp, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for j, e := range f.access {
		if now.After(e) {
			delete(f.access, j)
		}
	}
	for j := range f.access {
		if len(f.access) < maxPerFamily {
			break
		}
		delete(f.access, j)
	}
	f.access[jti] = exp
	if f.revoked {
		s.revoked[jti] = exp
	}
}

// revokeRefresh revokes the family of a refresh token held by clientID; false when the token is not
// one of the client's.
func (s *refreshStore) revokeRefresh(raw, clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.byHash[hashToken(raw)]
	if f == nil || f.clientID != clientID {
		return false
	}
	s.revokeLocked(f)
	return true
}

// revokeAccess records an access token id as revoked until its exp. Expired ids are dropped when the
// list grows past maxRevoked; an unexpired one is never dropped (that would make a revoked token valid
// again), so the list is bounded by the tokens live at once.
func (s *refreshStore) revokeAccess(jti string, exp, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.revoked) >= maxRevoked {
		s.prune(now)
	}
	s.revoked[jti] = exp
}

// isRevoked reports whether an access token id was revoked.
func (s *refreshStore) isRevoked(jti string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.revoked[jti]
	return ok
}

// Revoked reports whether the access token with this jti was revoked (by the revocation endpoint, or
// with its refresh token family). A resource server that verifies this issuer's tokens in process
// consults it on every request.
func (i *Issuer) Revoked(jti string) bool { return jti != "" && i.refresh.isRevoked(jti) }
