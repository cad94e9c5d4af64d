package devissuer

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
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
		w := &response{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(w, in)
		return &http.Response{Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: w.header, Body: io.NopCloser(&w.body),
			ContentLength: int64(w.body.Len()), Request: r}, nil
	})
}

// response is what the handler writes, kept for the in-process round trip.
type response struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
}

func (w *response) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
