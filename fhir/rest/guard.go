package rest

import (
	"context"

	"fhirgate/fhir/search"
)

// Guard is the access decision point, as the FHIR service consults it. Do takes one with every request
// and asks it before touching the store: the interaction passes Authorize (again for every batch or
// transaction entry), every resource about to leave the server passes Read, every change passes Write,
// and the criteria of conditional interactions run as the caller's own search (what Read refuses is no
// match). The only functions that reach the store are in gate.go, and each asks the guard.
type Guard interface {
	// Authorize decides whether the interaction may run at all, from who asks and what the request names,
	// never from stored data: nil, or a *fhir.Error (403...). It may narrow the request (confine a search to
	// a patient's compartment).
	Authorize(ctx context.Context, req *Request) error
	// Read decides whether a resource version may leave the server as part of req's answer. A refusal is
	// the error the client gets for a direct read (as for a resource that does not exist, or 403); a search
	// leaves the resource out.
	Read(ctx context.Context, req *Request, f *search.Facts) error
	// Write decides whether req may make a change. A refusal of a Before the caller may not read is the
	// error of Read (the service then answers as for a resource that does not exist).
	Write(ctx context.Context, req *Request, ch Change) error
}

// Change is a write to decide on.
type Change struct {
	// Before is the current version (nil when there is none: a create, or a resource absent or deleted).
	Before *search.Facts
	// After is the version to be written (nil for a deletion).
	After *search.Facts
	// Companion reports whether a resource ("Type/id") is written by the same transaction: a patient
	// registered together with their first data has no Consent yet to decide on it.
	Companion func(ref string) bool
}

// AllowAll is the guard of offline tools (import) and of the server's own writes (notices): it allows
// everything. It exists so that an open API is an explicit choice, never the default.
type AllowAll struct{}

// Authorize implements Guard.
func (AllowAll) Authorize(context.Context, *Request) error { return nil }

// Read implements Guard.
func (AllowAll) Read(context.Context, *Request, *search.Facts) error { return nil }

// Write implements Guard.
func (AllowAll) Write(context.Context, *Request, Change) error { return nil }
