// Package auth decides who may do what: it turns a verified access token into a Principal (user, client,
// patient context, purpose of use, scopes) and gives each request a Guard that the FHIR service consults
// before it touches the store, for every resource that would leave the server and for every resource it
// would write. SMART scopes are enforced here: patient/ scopes confine access to the context patient's
// data, granular v2 scopes restrict it to what their search parameters match. Sub-packages: token
// (access-token verification), scope (the SMART scope grammar), devissuer (the development OIDC issuer).
//
// Everything fails closed: a scope that is not understood grants nothing, a request no scope allows is
// refused (403), and a resource outside what the scopes allow is invisible (404 on a direct read, absent
// from searches) — see docs/adr/0002-scope-refusals.md.
package auth
