package fhir

import (
	"errors"
	"fmt"
)

// Kind classifies a FHIR-layer error. Exactly one place, Kind.Status and Kind.IssueCode, maps a kind to
// its HTTP status and OperationOutcome issue code.
type Kind int

// The error kinds.
const (
	KindNone               Kind = iota // no error (KindOf(nil))
	KindInternal                       // a bug: 500 exception
	KindInvalid                        // bad request: 400 invalid
	KindUnprocessable                  // valid syntax, invalid content: 422 processing
	KindNotFound                       // 404 not-found
	KindGone                           // deleted: 410 deleted
	KindUnauthorized                   // 401 login
	KindForbidden                      // 403 forbidden
	KindNotAllowed                     // method not allowed for the resource: 405 not-supported
	KindNotAcceptable                  // no acceptable representation: 406 not-supported
	KindConflict                       // 409 conflict
	KindPreconditionFailed             // 412 conflict
	KindTooLarge                       // request body too large: 413 too-long
	KindUnsupportedMedia               // 415 not-supported
	KindTooCostly                      // 400 too-costly
	KindUnavailable                    // store or audit unavailable: 503 transient
	KindTimeout                        // 503 timeout
	KindURITooLong                     // request target too long: 414 too-long
	KindHeaderTooLarge                 // request headers too large: 431 too-long
	KindTooManyRequests                // a client over its rate or concurrency: 429 throttled
)

var kindInfo = map[Kind]struct {
	status int
	code   string
	name   string
}{
	KindNone:               {200, "informational", "none"},
	KindInternal:           {500, "exception", "internal"},
	KindInvalid:            {400, "invalid", "invalid"},
	KindUnprocessable:      {422, "processing", "unprocessable"},
	KindNotFound:           {404, "not-found", "not-found"},
	KindGone:               {410, "deleted", "gone"},
	KindUnauthorized:       {401, "login", "unauthorized"},
	KindForbidden:          {403, "forbidden", "forbidden"},
	KindNotAllowed:         {405, "not-supported", "not-allowed"},
	KindNotAcceptable:      {406, "not-supported", "not-acceptable"},
	KindConflict:           {409, "conflict", "conflict"},
	KindPreconditionFailed: {412, "conflict", "precondition-failed"},
	KindTooLarge:           {413, "too-long", "too-large"},
	KindUnsupportedMedia:   {415, "not-supported", "unsupported-media"},
	KindTooCostly:          {400, "too-costly", "too-costly"},
	KindUnavailable:        {503, "transient", "unavailable"},
	KindTimeout:            {503, "timeout", "timeout"},
	KindURITooLong:         {414, "too-long", "uri-too-long"},
	KindHeaderTooLarge:     {431, "too-long", "header-too-large"},
	KindTooManyRequests:    {429, "throttled", "too-many-requests"},
}

// Status returns the HTTP status of the kind.
func (k Kind) Status() int { return kindInfo[k].status }

// IssueCode returns the default OperationOutcome issue code (http://hl7.org/fhir/issue-type) of the kind.
func (k Kind) IssueCode() string { return kindInfo[k].code }

func (k Kind) String() string { return kindInfo[k].name }

// Error is the error type of the FHIR layer.
//
// Details are free of patient data and safe to log; Diagnostics may quote the request (values, ids) and
// are only ever sent back to the client who sent them.
type Error struct {
	Kind Kind
	// Code overrides the kind's issue code (e.g. "structure", "required", "value", "multiple-matches").
	Code string
	// MessageID is an optional code from http://terminology.hl7.org/CodeSystem/operation-outcome, e.g.
	// MSG_NO_EXIST, MSG_DELETED, MSG_VERSION_AWARE_CONFLICT.
	MessageID string
	// Expression is the FHIRPath of the offending element, e.g. "Patient.gender".
	Expression string
	// Details is a lower-case, PHI-free reason.
	Details string
	// Diagnostics adds response-only information.
	Diagnostics string
	// More holds further issues of the same outcome (e.g. several validation errors).
	More []Issue
	// Scope names an OAuth scope that would have allowed a refused request (403 insufficient_scope).
	Scope string
	// Limit names the configured limit a refused request went beyond (its flag, e.g. "max-bundle-entries"),
	// for the metrics of refusals by limit.
	Limit string
	// Err is the wrapped cause, if any.
	Err error
}

// Issue is one issue of an OperationOutcome.
type Issue struct {
	Severity    string // fatal | error | warning | information
	Code        string
	MessageID   string
	Details     string
	Diagnostics string
	Expression  string
}

func (e *Error) Error() string {
	msg := e.Details
	if e.Expression != "" {
		msg = e.Expression + ": " + msg
	}
	if e.Err != nil && msg == "" {
		return e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IssueCode returns the issue code of the error.
func (e *Error) IssueCode() string {
	if e.Code != "" {
		return e.Code
	}
	return e.Kind.IssueCode()
}

// Issues returns every issue of the error, the main one first.
func (e *Error) Issues() []Issue {
	main := Issue{Severity: "error", Code: e.IssueCode(), MessageID: e.MessageID, Details: e.Details,
		Diagnostics: e.Diagnostics, Expression: e.Expression}
	if e.Kind == KindInternal || e.Kind == KindUnavailable || e.Kind == KindTimeout {
		main.Severity = "fatal"
	}
	return append([]Issue{main}, e.More...)
}

// Errorf returns an Error of the given kind with a formatted, PHI-free detail.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Details: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error; an error of another type becomes KindInternal (its message is kept
// out of Details, which are sent to clients, and stays in Err for the logs).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return &Error{Kind: KindInternal, Details: "internal error", Err: err}
}

// KindOf returns the kind of err: KindNone for nil, KindInternal for foreign errors.
func KindOf(err error) Kind {
	if err == nil {
		return KindNone
	}
	return AsError(err).Kind
}

// NotFound is the error for an unknown resource.
func NotFound(typ, id string) *Error {
	return &Error{Kind: KindNotFound, MessageID: "MSG_NO_EXIST", Details: "resource not found",
		Diagnostics: fmt.Sprintf("%s/%s is not known", typ, id)}
}

// UnknownType is the error for a resource type this server does not know.
func UnknownType(typ string) *Error {
	return &Error{Kind: KindNotFound, Code: "not-supported", MessageID: "MSG_UNKNOWN_TYPE",
		Details: "unknown resource type", Diagnostics: fmt.Sprintf("%q is not an R4 resource type", typ)}
}
