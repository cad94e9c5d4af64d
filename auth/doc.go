// Package auth is the access decision point: it turns a verified access token into a Principal (user,
// client, patient context, purpose of use, scopes) and gives each request a Guard (Access.Guard) that the
// FHIR service consults before it touches the store — whether the interaction may run, whether each
// resource may leave, whether each change may be made, from who asks, whose data it is (before and after a
// write), what is done and why. SMART scopes, the confinement of patient users, the protected types (the
// directory, Consents, AuditEvents, the server's notices) and the patients' consents (sub-package consent)
// are all decided here, on the typed facts fhir/search gives of a resource. Sub-packages: token
// (access-token verification), scope (the SMART scope grammar), consent (the patients' Consents),
// devissuer (the development OIDC issuer).
//
// Everything fails closed: a scope that is not understood grants nothing, a request no scope allows is
// refused (403), a resource the caller may not see is invisible (404 on a direct read, absent from
// searches, no match for conditional criteria) and a change of it answers as for a resource that does not
// exist — see docs/adr/0002-scope-refusals.md and docs/adr/0005-access-decision.md.
package auth
