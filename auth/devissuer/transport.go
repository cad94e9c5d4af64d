package devissuer

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Transport returns an http.RoundTripper that answers requests for the issuer's URLs by calling its
// handler in process, and refuses any other URL. A development server verifies its own tokens through
// it: the same discovery, JWKS fetch and signature checks as with a remote provider, without the server
// having to reach itself over the network.
func (i *Issuer) Transport() http.RoundTripper {
	h := i.Handler()
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		u := r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
		rest, ok := strings.CutPrefix(u, i.url)
		if !ok {
			return nil, fmt.Errorf("devissuer: %s is not a URL of the development issuer", u)
		}
		in := r.Clone(r.Context())
		in.URL.Path, in.RequestURI = rest, rest
		if in.URL.Path == "" {
			in.URL.Path = "/"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, in)
		resp := rec.Result()
		resp.Request = r
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
