package rest

import "context"

// Guard authorizes interactions. The gateway puts one in each request's context (WithGuard); Do asks it
// before touching the store, for the request and again for every batch or transaction entry.
type Guard interface {
	// Authorize returns nil to let the interaction proceed, or a *fhir.Error (403, 401...) to refuse it.
	Authorize(ctx context.Context, req *Request) error
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

// AllowAll is the guard of a development server without an issuer: it allows everything. It exists so
// that an open API is an explicit choice, never the default.
type AllowAll struct{}

// Authorize implements Guard.
func (AllowAll) Authorize(context.Context, *Request) error { return nil }
