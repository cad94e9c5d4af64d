package rest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/profile"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
	"fhirgate/fhir/validation"
)

// Interaction is a FHIR RESTful interaction code (http://hl7.org/fhir/restful-interaction), plus
// "capabilities" and "operation".
type Interaction string

// The interactions.
const (
	Read            Interaction = "read"
	VRead           Interaction = "vread"
	Update          Interaction = "update"
	Patch           Interaction = "patch"
	Delete          Interaction = "delete"
	HistoryInstance Interaction = "history-instance"
	HistoryType     Interaction = "history-type"
	HistorySystem   Interaction = "history-system"
	Create          Interaction = "create"
	SearchType      Interaction = "search-type"
	SearchSystem    Interaction = "search-system"
	Batch           Interaction = "batch"
	Transaction     Interaction = "transaction"
	Capabilities    Interaction = "capabilities"
	Operation       Interaction = "operation"
)

// writes reports whether the interaction changes what is stored.
func (i Interaction) writes() bool {
	return i == Create || i == Update || i == Patch || i == Delete
}

// Return is the client's Prefer: return= choice.
type Return string

// The Prefer: return values.
const (
	ReturnDefault        Return = ""
	ReturnMinimal        Return = "minimal"
	ReturnRepresentation Return = "representation"
	ReturnOutcome        Return = "OperationOutcome"
)

// Request is one FHIR interaction.
type Request struct {
	Interaction Interaction
	// Type, ID and VersionID come from the URL.
	Type, ID, VersionID string
	// Params are the query (and for POST _search, form) parameters.
	Params url.Values
	// Body is the request body, and ContentType its media type without parameters.
	Body        []byte
	ContentType string
	// Conditional headers, as sent.
	IfMatch         string
	IfNoneExist     string
	IfNoneMatch     string
	IfModifiedSince time.Time
	// Return is the Prefer: return= choice.
	Return Return
	// Strict is Prefer: handling=strict (unknown search parameters are errors).
	Strict bool
	// Compartment restricts a search to a compartment, "Patient/123".
	Compartment string
	// Operation names the operation of an Operation interaction ("everything").
	Operation string
	// Entry is set for a batch or transaction entry: its index in the Bundle; Bundle is then the
	// interaction of the Bundle (Batch or Transaction), "" for a request of its own.
	Entry    int
	Bundle   Interaction
	inBundle bool
	// Ledger, when set, records what the interaction touched and what it refused (for the audit trail).
	Ledger *Ledger
	// RespondAsync is Prefer: respond-async (a bulk export's kick-off requires it).
	RespondAsync bool
	// Caller identifies who asks (client and user): what an interaction starts (a bulk export) is
	// theirs alone.
	Caller string
}

// Response is the outcome of an interaction.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Body is the JSON body (a resource, a Bundle or an OperationOutcome); nil for none.
	Body []byte
	// VersionID and LastModified describe the resource returned or written (ETag, Last-Modified).
	VersionID    string
	LastModified time.Time
	// Location is the absolute URL of a created resource's version.
	Location string
	// Touched are the versions the interaction returned or wrote (for the audit trail).
	Touched []*store.Version
	// Entries are the outcomes of a batch's or transaction's entries, in Bundle order.
	Entries []*EntryResult
	// ContentLocation is the absolute URL of an asynchronous request's status (Content-Location).
	ContentLocation string
	// Headers are further response headers (X-Progress, Retry-After).
	Headers map[string]string
	// ContentType, when set, is the media type of a body that is not FHIR JSON; BodyFile, when set, is a
	// file whose content is the body (a bulk export's NDJSON).
	ContentType string
	BodyFile    string
}

// Store is the storage the service runs on.
type Store = store.Store

// Config configures the service.
type Config struct {
	// BaseURL is the public base URL of the FHIR API, e.g. https://fhir.example.org/fhir (no trailing
	// slash); it prefixes Location headers and fullUrls.
	BaseURL string
	// DefaultCount and MaxCount bound the page size of history and search (defaults 50 and 1000).
	DefaultCount, MaxCount int
	// MaxBundleEntries bounds the entries of a batch or transaction (default 5,000).
	MaxBundleEntries int
	// MaxIncludes bounds the distinct _include and _revinclude parameters of a search (default 10), and
	// MaxIncluded the resources they may add to a page (default 5,000).
	MaxIncludes, MaxIncluded int
	// MaxBatchResponse bounds the bytes of a batch's answers (default 16 MiB): entries beyond it are not
	// run, or, for reads, not served.
	MaxBatchResponse int
	// Now is the clock; NewID makes resource ids (random UUIDs when nil).
	Now   func() time.Time
	NewID func() string

	// Profiles are the profiles writes are held to (those their meta.profile names) and $validate knows
	// (R4's core profiles when nil; see profile.LoadDir for an implementation guide's).
	Profiles *profile.Set
}

// Service implements the FHIR REST interactions over a Store.
type Service struct {
	cfg       Config
	store     Store
	validator *validation.Validator
	indexer   *search.Indexer
	engine    *search.Engine
	observers []func(ctx context.Context, versions []*store.Version)
	rules     map[string]func(body []byte) error
	exports   *Exports // nil: bulk export is not enabled
}

// OnCommit registers fn to be told of every committed version, before the write is acknowledged (caches
// that depend on resources, such as the consent cache, are invalidated there).
func (s *Service) OnCommit(fn func(ctx context.Context, versions []*store.Version)) {
	s.observers = append(s.observers, fn)
}

// AddRule registers a business rule for the resources of a type: every write of one must pass it (a
// refusal is a *fhir.Error, 422 unless it says otherwise).
func (s *Service) AddRule(typ string, rule func(body []byte) error) {
	if s.rules == nil {
		s.rules = map[string]func([]byte) error{}
	}
	s.rules[typ] = rule
}

func (s *Service) committed(ctx context.Context, vs []*store.Version) {
	for _, fn := range s.observers {
		fn(ctx, vs)
	}
}

// New returns a Service.
func New(cfg Config, st Store, v *validation.Validator) (*Service, error) {
	if st == nil || v == nil {
		return nil, fmt.Errorf("rest: a store and a validator are required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("rest: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.DefaultCount <= 0 {
		cfg.DefaultCount = 50
	}
	if cfg.MaxCount <= 0 {
		cfg.MaxCount = 1000
	}
	if cfg.DefaultCount > cfg.MaxCount {
		cfg.DefaultCount = cfg.MaxCount
	}
	if cfg.MaxBundleEntries <= 0 {
		cfg.MaxBundleEntries = 5000
	}
	if cfg.MaxIncludes <= 0 {
		cfg.MaxIncludes = 10
	}
	if cfg.MaxIncluded <= 0 {
		cfg.MaxIncluded = 5000
	}
	if cfg.MaxBatchResponse <= 0 {
		cfg.MaxBatchResponse = 16 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = NewUUID
	}
	return &Service{cfg: cfg, store: st, validator: v, indexer: search.NewIndexer(cfg.BaseURL),
		engine: search.NewEngine(st, search.Config{BaseURL: cfg.BaseURL, Now: cfg.Now, MaxIncluded: cfg.MaxIncluded})}, nil
}

// Engine returns the search engine (guards evaluate granular scopes with it).
func (s *Service) Engine() *search.Engine { return s.engine }

// Store returns the store the service writes to.
func (s *Service) Store() store.Store { return s.store }

// Config returns the service's configuration (with defaults applied).
func (s *Service) Config() Config { return s.cfg }

// Do performs one interaction for the caller whose access g decides. Errors are *fhir.Error values (see
// fhir.AsError).
func (s *Service) Do(ctx context.Context, g Guard, req *Request) (*Response, error) {
	if g == nil {
		return nil, &fhir.Error{Kind: fhir.KindForbidden, Details: "no access policy applies to this request"}
	}
	if req.Interaction == Operation {
		switch req.Operation {
		case "export-poll", "export-cancel":
			return s.exportPoll(ctx, req) // the job's owner only: others are answered as for no such job
		case "export-file":
			return s.exportDownload(ctx, req)
		}
	}
	if err := validTarget(req); err != nil {
		return nil, err
	}
	if req.Interaction == Operation && req.Operation == "export" {
		return s.exportKickoff(ctx, g, req) // authorized there as a search of each type exported
	}
	if req.Type == "AuditEvent" && (req.Interaction == Update || req.Interaction == Patch || req.Interaction == Delete) {
		return nil, immutable()
	}
	if req.Interaction == Operation && req.Operation == "validate" {
		return s.validate(ctx, g, req) // authorized there as the write it checks (validate.go)
	}
	if err := g.Authorize(ctx, req); err != nil {
		return nil, err
	}
	switch req.Interaction {
	case Read:
		return s.read(ctx, g, req)
	case VRead:
		return s.vread(ctx, g, req)
	case Create:
		return s.create(ctx, g, req)
	case Update:
		return s.update(ctx, g, req)
	case Patch:
		return s.patch(ctx, g, req)
	case Delete:
		return s.delete(ctx, g, req)
	case HistoryInstance, HistoryType, HistorySystem:
		return s.history(ctx, g, req)
	case Batch, Transaction:
		return s.bundle(ctx, g, req)
	case SearchType, SearchSystem:
		return s.search(ctx, g, req)
	case Operation:
		if req.Operation == "everything" && req.Type == "Patient" {
			return s.everything(ctx, g, req)
		}
	}
	return nil, &fhir.Error{Kind: fhir.KindNotAllowed, MessageID: "MSG_OP_NOT_ALLOWED",
		Details: fmt.Sprintf("the %s interaction is not supported", req.Interaction)}
}

// validTarget checks what the request's URL names: a known type, a valid id, a patient's compartment.
func validTarget(req *Request) error {
	if req.Type != "" && !fhir.IsResourceType(req.Type) {
		return fhir.UnknownType(req.Type)
	}
	if req.ID != "" && !fhir.ValidID(req.ID) {
		return &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "id",
			Details: "invalid resource id", Diagnostics: "an id is 1 to 64 characters among A-Z a-z 0-9 - . and not only dots"}
	}
	if req.Compartment != "" {
		ctype, cid, _ := strings.Cut(req.Compartment, "/")
		if ctype != "Patient" || !fhir.ValidID(cid) {
			return &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Details: "invalid compartment", Diagnostics: req.Compartment}
		}
	}
	return nil
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("rest: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// url returns the absolute URL of a resource path ("Patient/1").
func (s *Service) url(path string) string { return s.cfg.BaseURL + "/" + path }

// versionResponse describes a version for a write's response, honouring Prefer: return.
func (s *Service) versionResponse(req *Request, status int, v *store.Version) *Response {
	resp := &Response{Status: status, VersionID: fmt.Sprint(v.VersionID), LastModified: v.LastUpdated, Touched: []*store.Version{v}}
	if status == 201 || req.Interaction == Create { // a conditional create that matched names the match
		resp.Location = s.url(fmt.Sprintf("%s/%s/_history/%d", v.Type, v.ID, v.VersionID))
	}
	switch req.Return {
	case ReturnMinimal:
	case ReturnOutcome: // what was done, and the warnings of the resource written (R4's rules it only should keep)
		issues := []fhir.Issue{{Severity: "information", Code: "informational",
			Details: fmt.Sprintf("%s %s/%s/_history/%d", verbOf(req.Interaction), v.Type, v.ID, v.VersionID)}}
		if !v.Deleted {
			for _, is := range s.validator.Check(v.Body) {
				if is.Severity == "warning" {
					issues = append(issues, is)
				}
			}
		}
		resp.Body = Outcome(issues...)
	default:
		if !v.Deleted {
			resp.Body = v.Body
		}
	}
	return resp
}

func verbOf(i Interaction) string {
	switch i {
	case Create:
		return "created"
	case Update, Patch:
		return "updated"
	case Delete:
		return "deleted"
	}
	return string(i)
}

// parseVersionTag parses an ETag-style version, W/"3" or "3" or 3.
func parseVersionTag(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	var n uint64
	if s == "" {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<53 {
			return 0, false
		}
	}
	return n, n > 0
}

func ifMatch(req *Request) (uint64, error) {
	if req.IfMatch == "" {
		return 0, nil
	}
	v, ok := parseVersionTag(req.IfMatch)
	if !ok {
		return 0, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "If-Match",
			Details: `If-Match must be a version tag such as W/"3"`}
	}
	return v, nil
}

// Supports reports whether the service performs an interaction on a resource type.
func (s *Service) Supports(typ string, i Interaction) bool {
	switch i {
	case Capabilities, Batch, Transaction, HistorySystem, SearchSystem, Operation:
		return false // not type-level interactions
	case Update, Patch, Delete:
		if typ == "AuditEvent" {
			return false // the audit trail is append-only
		}
	}
	return fhir.IsResourceType(typ)
}

// immutable is the refusal of any change to an AuditEvent.
func immutable() error {
	return &fhir.Error{Kind: fhir.KindNotAllowed, MessageID: "MSG_OP_NOT_ALLOWED",
		Details: "AuditEvents are immutable: they cannot be updated, patched or deleted"}
}
