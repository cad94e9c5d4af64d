// Package consent decides whether a patient's own privacy Consents let a request see a resource of
// theirs (docs/access.md §3, IHE PCF). It knows no HTTP: the request is described by its attributes (who, for
// which purpose, which resource, when) and the decision comes with the Consent references that made it.
//
// Rules:
//   - only active Consents with scope patient-privacy count; a Consent whose root provision's own
//     elements (period, actor...) do not match the request does not apply;
//   - a Consent's root provision (permit or deny) decides unless a nested provision matches, which
//     reverses it; nested provisions may nest again (the deepest match decides);
//   - a provision matches when every element it states matches; several values of one element are
//     alternatives; purposes match along the v3 ActReason is-a hierarchy (BTG is-a ETREAT is-a TREAT);
//     actions are the request's: access for reads (which use and disclose also name), collect for creates,
//     correct for changes and deletions;
//   - a professional whose organisation cannot be established is matched by a provision naming an
//     organisation when it denies, never when it permits;
//   - several applicable Consents: any deny wins; none: the configured default (opt-out: permit; opt-in:
//     deny);
//   - the patient always sees their own data (right of access);
//   - break-the-glass (purpose BTG from a user) overrides a deny, unless the deny was decided by a
//     provision that names BTG itself: the patient may refuse emergency access;
//   - consents are cached per patient and dropped on any write of a Consent of that patient.
package consent
