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

// Actors caches, between requests, what consents need to know of a practitioner: their
// PractitionerRoles and those roles' organizations. The cache holds while no PractitionerRole has been
// written (the store's write count of the type, which counts the writes of every process sharing the
// store), so a role added or ended applies from the next request on, here and elsewhere.
type Actors struct {
	store  store.Store
	engine *search.Engine

	mu     sync.Mutex
	seen   uint64
	byUser map[string]practitionerRoles
}

// practitionerRoles are a practitioner's roles ("PractitionerRole/r1") and the organizations of each.
type practitionerRoles struct {
	roles []string
	orgs  [][]string
}

// maxCachedUsers bounds the cache; past it, the cache starts again empty.
const maxCachedUsers = 100_000

// NewActors returns an empty cache over the service's store.
func NewActors(svc *rest.Service) *Actors {
	return &Actors{store: svc.Store(), engine: svc.Engine(), byUser: map[string]practitionerRoles{}}
}

// roles returns a practitioner's roles, from the cache while no PractitionerRole was written since it
// was filled.
func (a *Actors) roles(ctx context.Context, user string) (practitionerRoles, error) {
	n, err := a.store.Changes(ctx, "PractitionerRole")
	if err != nil {
		return practitionerRoles{}, err
	}
	a.mu.Lock()
	if n != a.seen || len(a.byUser) >= maxCachedUsers {
		a.byUser, a.seen = map[string]practitionerRoles{}, n
	}
	pr, ok := a.byUser[user]
	a.mu.Unlock()
	if ok {
		return pr, nil
	}
	pr, err = lookupRoles(ctx, a.engine, user)
	if err != nil {
		return pr, err
	}
	a.mu.Lock()
	if a.seen == n { // not filled from a count that has moved on meanwhile
		a.byUser[user] = pr
	}
	a.mu.Unlock()
	return pr, nil
}

// lookupRoles searches a practitioner's roles and reads their organizations.
func lookupRoles(ctx context.Context, eng *search.Engine, user string) (practitionerRoles, error) {
	var pr practitionerRoles
	if !strings.HasPrefix(user, "Practitioner/") {
		return pr, nil
	}
	roles, err := eng.Find(ctx, "PractitionerRole", url.Values{"practitioner": {user}})
	if err != nil {
		return pr, err
	}
	for _, role := range roles {
		var orgs []string
		for _, org := range eng.StoredValues(ctx, role.Type, role.ID)("organization") {
			if len(org) > 1 && org[0] == 'r' {
				orgs = append(orgs, string(org[1:]))
			}
		}
		pr.roles = append(pr.roles, role.Ref())
		pr.orgs = append(pr.orgs, orgs)
	}
	return pr, nil
}
