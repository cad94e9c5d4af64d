package devissuer

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// serveRevoke is the RFC 7009 revocation endpoint: POST token (and token_type_hint) as an
// authenticated client. A refresh token revokes its whole family, with the access tokens issued from
// it; an access token is revoked until it expires. A client revokes its own tokens only; a token that
// is unknown, expired or another client's is answered 200 all the same (RFC 7009 §2.2), so the
// endpoint tells no one which tokens exist.
func (i *Issuer) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if !i.formEndpoint(w, r, "the revocation endpoint takes POST") {
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	client, err := i.authenticateClient(r, form, i.url+"/revoke")
	if err != nil {
		writeRequestError(w, err)
		return
	}
	if client.id == "" {
		writeRequestError(w, invalidRequest("client_id is required"))
		return
	}
	raw := form.Get("token")
	if raw == "" {
		writeRequestError(w, invalidRequest("token is required"))
		return
	}
	if !i.refresh.revokeRefresh(raw, client.id) {
		if c, ok := i.ownAccessToken(raw); ok && c.ClientID == client.id {
			i.refresh.revokeAccess(c.ID, time.Unix(c.Expiry, 0), i.cfg.Now())
		}
	}
	noStore(w)
	w.WriteHeader(http.StatusOK)
}

// ownAccessToken returns the claims of an access token this issuer signed (with a key it still
// publishes), whatever its expiry.
func (i *Issuer) ownAccessToken(raw string) (*accessClaims, bool) {
	if len(raw) > 16<<10 || strings.Count(raw, ".") != 2 {
		return nil, false
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	if typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		return nil, false
	}
	keys := i.publicKeys()
	for _, k := range keys.Key(jws.Signatures[0].Header.KeyID) {
		payload, err := jws.Verify(k)
		if err != nil {
			continue
		}
		var c accessClaims
		if json.Unmarshal(payload, &c) != nil || c.Issuer != i.url || c.ID == "" {
			return nil, false
		}
		return &c, true
	}
	return nil, false
}
