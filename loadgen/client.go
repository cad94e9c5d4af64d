package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits on a load, so that no run is unbounded.
const (
	MaxConnections = 1024
	MaxDuration    = time.Hour
	// RequestTimeout bounds one request; a request that takes longer counts as an error.
	RequestTimeout = 60 * time.Second
)

// client sends FHIR requests to one server over at most conns connections.
type client struct {
	base  string
	http  *http.Client
	creds *Credentials
}

// newClient checks the server's base URL (absolute http or https) and prepares a transport keeping
// conns connections open.
func newClient(server string, conns int, creds *Credentials) (*client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want the FHIR base URL, e.g. http://127.0.0.1:8080/fhir", server)
	}
	if conns < 1 || conns > MaxConnections {
		return nil, fmt.Errorf("connections %d: want 1 to %d", conns, MaxConnections)
	}
	tr := &http.Transport{
		Proxy:               nil,
		MaxConnsPerHost:     conns,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: strings.TrimSuffix(server, "/"), http: &http.Client{Transport: tr, Timeout: RequestTimeout}, creds: creds}, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// request is one FHIR interaction of a workload: resources is how many resources a 2xx answer stands
// for (1 for a read or create, the entries of a transaction, 0 for a search).
type request struct {
	method    string
	path      string // relative to the base: "Patient/pat-000001", "" for a Bundle
	body      []byte
	resources int
	keep      bool // keep the answer's body (otherwise it is read and discarded)
}

// response is what came back: the status (0 when no answer came), the body when kept, its size.
type response struct {
	status int
	body   []byte
	size   int64
}

// do sends r and reads the whole answer; it retries once with fresh credentials after a 401.
func (c *client) do(ctx context.Context, r request) (response, error) {
	resp, err := c.once(ctx, r)
	if resp.status == http.StatusUnauthorized && c.creds != nil && c.creds.command != "" {
		if err := c.creds.refresh(ctx); err != nil {
			return resp, fmt.Errorf("renewing the token after a 401: %w", err)
		}
		resp, err = c.once(ctx, r)
	}
	return resp, err
}

func (c *client) once(ctx context.Context, r request) (out response, err error) {
	target := c.base
	if r.path != "" {
		target += "/" + r.path
	}
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if h := c.creds.header(); h != "" {
		req.Header.Set("Authorization", h)
	}
	hr, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer func() {
		if cerr := hr.Body.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the answer: %w", cerr)
		}
	}()
	out = response{status: hr.StatusCode}
	if r.keep {
		out.body, err = io.ReadAll(io.LimitReader(hr.Body, 64<<20))
		out.size = int64(len(out.body))
	} else {
		out.size, err = io.Copy(io.Discard, hr.Body)
	}
	if err != nil {
		return out, fmt.Errorf("reading the answer: %w", err)
	}
	return out, nil
}
