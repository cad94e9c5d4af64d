package rest

import (
	"context"

	"fhirgate/fhir/store"
)

// Guard authorizes interactions. The gateway puts one in each request's context (WithGuard). Do asks it
// before touching the store, for the request and again for every batch or transaction entry; then every
// resource about to leave the server passes Admit, and every resource about to be written passes
// AdmitWrite — there is no path around them.
type Guard interface {
	// Authorize returns nil to let the interaction proceed, or a *fhir.Error (403, 401...) to refuse it.
	// It may narrow the request (e.g. confine a search to a patient's compartment).
	Authorize(ctx context.Context, req *Request) error
	// Admit decides whether a resource version may be returned by req; values gives the version's search
	// index values of a parameter. A refusal is an error; a search drops the resource, a read returns it.
	Admit(ctx context.Context, req *Request, v *store.Version, values func(param string) [][]byte) error
	// AdmitWrite decides whether req may write (or delete) the resource whose index values are given.
	AdmitWrite(ctx context.Context, req *Request, typ, id string, values func(param string) [][]byte) error
}

type guardKey struct{}

// WithGuard returns a context carrying g.
func WithGuard(ctx context.Context, g Guard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

func guardFrom(ctx context.Context) Guard {
	g, _ := ctx.Value(guardKey{}).(Guard)
	return g
}

// AllowAll is the guard of a development server without an issuer, and of offline tools (import): it
// allows everything. It exists so that an open API is an explicit choice, never the default.
type AllowAll struct{}

// Authorize implements Guard.
func (AllowAll) Authorize(context.Context, *Request) error { return nil }

// Admit implements Guard.
func (AllowAll) Admit(context.Context, *Request, *store.Version, func(string) [][]byte) error {
	return nil
}

// AdmitWrite implements Guard.
func (AllowAll) AdmitWrite(context.Context, *Request, string, string, func(string) [][]byte) error {
	return nil
}
