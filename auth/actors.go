package auth

import (
	"context"
	"net/url"
	"strings"
	"sync"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// Actors caches, between requests, what decisions need to know of a user that the store holds: a
// practitioner's PractitionerRoles and those roles' organizations (for consents), a RelatedPerson's
// patients (for confinement). Each cache holds while no resource of its type has been written (the store's
// write count of the type, which counts the writes of every process sharing the store), so a role added or
// ended applies from the next request on, here and elsewhere. Only administration clients write
// PractitionerRoles: what decides access never comes from data the user can edit.
type Actors struct {
	store  store.Store
	engine *search.Engine

	roleCache    cache[practitionerRoles]
	relatedCache cache[[]string]
}

// cache is one of Actors' caches: values by user, valid while the write count of a type stays seen.
type cache[T any] struct {
	mu     sync.Mutex
	seen   uint64
	byUser map[string]T
}

// practitionerRoles are a practitioner's roles ("PractitionerRole/r1") and the organizations of each.
type practitionerRoles struct {
	roles []string
	orgs  [][]string
}

// maxCachedUsers bounds each cache; past it, the cache starts again empty.
const maxCachedUsers = 100_000

// NewActors returns an empty cache over the service's store.
func NewActors(svc *rest.Service) *Actors {
	return &Actors{store: svc.Store(), engine: svc.Engine()}
}

// get returns the cached value of user while no resource of typ was written since it was filled, or
// looks it up.
func get[T any](ctx context.Context, a *Actors, c *cache[T], typ, user string, lookup func(context.Context, *search.Engine, string) (T, error)) (T, error) {
	n, err := a.store.Changes(ctx, typ)
	if err != nil {
		var zero T
		return zero, err
	}
	c.mu.Lock()
	if n != c.seen || c.byUser == nil || len(c.byUser) >= maxCachedUsers {
		c.byUser, c.seen = map[string]T{}, n
	}
	v, ok := c.byUser[user]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err = lookup(ctx, a.engine, user)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.seen == n { // not filled from a count that has moved on meanwhile
		c.byUser[user] = v
	}
	c.mu.Unlock()
	return v, nil
}

// roles returns a practitioner's roles, from the cache while no PractitionerRole was written since it
// was filled.
func (a *Actors) roles(ctx context.Context, user string) (practitionerRoles, error) {
	return get(ctx, a, &a.roleCache, "PractitionerRole", user, lookupRoles)
}

// relatedPatients returns the patients a RelatedPerson user acts for, from the cache while no
// RelatedPerson was written since it was filled.
func (a *Actors) relatedPatients(ctx context.Context, user string) ([]string, error) {
	return get(ctx, a, &a.relatedCache, "RelatedPerson", user, lookupRelated)
}

// lookupRoles searches a practitioner's roles (or reads the PractitionerRole a user is) and their
// organizations.
func lookupRoles(ctx context.Context, eng *search.Engine, user string) (practitionerRoles, error) {
	var pr practitionerRoles
	var roles []*search.Facts
	switch {
	case strings.HasPrefix(user, "Practitioner/"):
		vs, err := eng.Find(ctx, "PractitionerRole", url.Values{"practitioner": {user}})
		if err != nil {
			return pr, err
		}
		for _, v := range vs {
			roles = append(roles, eng.CurrentFacts(ctx, v))
		}
	case strings.HasPrefix(user, "PractitionerRole/"):
		f, err := eng.ReadFacts(ctx, "PractitionerRole", strings.TrimPrefix(user, "PractitionerRole/"))
		if err != nil {
			return pr, err
		}
		if f != nil {
			roles = append(roles, f)
		}
	}
	for _, role := range roles {
		orgs := role.References("organization")
		if err := role.Err(); err != nil {
			return pr, err
		}
		pr.roles = append(pr.roles, role.Ref())
		pr.orgs = append(pr.orgs, orgs)
	}
	return pr, nil
}

// lookupRelated reads the patients a RelatedPerson links to (RelatedPerson.patient).
func lookupRelated(ctx context.Context, eng *search.Engine, user string) ([]string, error) {
	f, err := eng.ReadFacts(ctx, "RelatedPerson", strings.TrimPrefix(user, "RelatedPerson/"))
	if err != nil || f == nil {
		return nil, err
	}
	patients := f.References("patient")
	return patients, f.Err()
}
