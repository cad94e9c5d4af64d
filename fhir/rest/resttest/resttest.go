// Package resttest builds a FHIR service (rest.Service) for a test: a real store of its own, a clock the
// test moves by hand, optionally predictable ids, and short helpers to run interactions and read their
// answers (resources, Bundles, OperationOutcomes) without HTTP.
//
// Every Env is independent: a test (or a subtest) that calls New owns all the data it sees, so it passes
// alone, in any order, and in parallel with others.
//
//	env := resttest.New(t)
//	created := env.Create(t, `{"resourceType":"Patient","gender":"female"}`)
//	env.Clock.Advance(time.Minute)
//	got := env.Read(t, "Patient", resttest.Str(t, created.Body, "id"))
package resttest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/memstore"
	"fhirgate/fhir/validation"
)

// BaseURL is the base URL of every Env's service: Locations and fullUrls start with it.
const BaseURL = "http://fhir.test/fhir"

// Epoch is the instant every Env's clock starts at.
var Epoch = time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC)

// Clock is a clock that moves only when told to. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Env is a service over a store of its own, for one test.
type Env struct {
	Service *rest.Service
	Store   store.Store
	Clock   *Clock
	// Guard is the guard every helper runs with (rest.AllowAll unless WithGuard says otherwise).
	Guard rest.Guard
}

type options struct {
	cfg   rest.Config
	guard rest.Guard
	ids   string // prefix of sequential ids; "" for random UUIDs
}

// Option configures New.
type Option func(*options)

// WithConfig lets the test adjust the service's configuration (limits, page sizes). BaseURL, Now and NewID
// are set by New unless the function sets them.
func WithConfig(f func(*rest.Config)) Option { return func(o *options) { f(&o.cfg) } }

// WithGuard makes the helpers run with g instead of rest.AllowAll.
func WithGuard(g rest.Guard) Option { return func(o *options) { o.guard = g } }

// SequentialIDs makes the service assign the ids prefix1, prefix2, ... in order (resources and Bundles
// alike), so that a test can name what the server will create.
func SequentialIDs(prefix string) Option { return func(o *options) { o.ids = prefix } }

// validator is shared: building one compiles the R4 definitions, and it keeps no state between calls.
var validator = sync.OnceValues(func() (*validation.Validator, error) { return validation.New(validation.Config{}) })

// New returns an Env whose store lives as long as the test.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	o := options{guard: rest.AllowAll{}}
	for _, f := range opts {
		f(&o)
	}
	clock := NewClock(Epoch)
	if o.cfg.BaseURL == "" {
		o.cfg.BaseURL = BaseURL
	}
	if o.cfg.Now == nil {
		o.cfg.Now = clock.Now
	}
	if o.cfg.NewID == nil && o.ids != "" {
		var n atomic.Int64
		prefix := o.ids
		o.cfg.NewID = func() string { return prefix + strconv.FormatInt(n.Add(1), 10) }
	}
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, clock.Now)
	svc, err := rest.New(o.cfg, st, v)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Service: svc, Store: st, Clock: clock, Guard: o.guard}
}

// openStore opens the store of one Env, closed when the test ends. It is the one place that chooses the
// engine: the in-memory engine, which opens in no time, leaves nothing behind, and decides commits with
// the same planner as the durable engines. (For the embedded engine instead:
// embedded.Open(embedded.Config{Dir: t.TempDir(), Now: now}).)
func openStore(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	st := memstore.New(memstore.Config{Now: now})
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return st
}

// URL returns the absolute URL of a path relative to the base ("Patient/1/_history/2").
func (e *Env) URL(path string) string { return BaseURL + "/" + path }

// Do runs one interaction with the Env's guard.
func (e *Env) Do(req *rest.Request) (*rest.Response, error) {
	return e.Service.Do(context.Background(), e.Guard, req)
}

// Must runs one interaction and fails the test if it fails.
func (e *Env) Must(t testing.TB, req *rest.Request) *rest.Response {
	t.Helper()
	resp, err := e.Do(req)
	if err != nil {
		t.Fatalf("%s %s/%s: %v\n%s", req.Interaction, req.Type, req.ID, err, rest.ErrorOutcome(err))
	}
	return resp
}

// Fail runs one interaction that must fail, and returns its error.
func (e *Env) Fail(t testing.TB, req *rest.Request) *fhir.Error {
	t.Helper()
	resp, err := e.Do(req)
	if err == nil {
		t.Fatalf("%s %s/%s succeeded (%d: %s), want an error", req.Interaction, req.Type, req.ID, resp.Status, resp.Body)
	}
	return fhir.AsError(err)
}

// Create creates a resource (POST [type]) and fails the test unless it is 201.
func (e *Env) Create(t testing.TB, resource string) *rest.Response {
	t.Helper()
	resp := e.Must(t, &rest.Request{Interaction: rest.Create, Type: typeOf(t, resource), Body: []byte(resource),
		ContentType: "application/fhir+json"})
	WantStatus(t, resp, 201)
	return resp
}

// Put updates a resource at the id its body carries (PUT [type]/[id]); the status is 200 or 201.
func (e *Env) Put(t testing.TB, resource string) *rest.Response {
	t.Helper()
	return e.Must(t, PutRequest(t, resource))
}

// Read reads the current version of a resource.
func (e *Env) Read(t testing.TB, typ, id string) *rest.Response {
	t.Helper()
	return e.Must(t, &rest.Request{Interaction: rest.Read, Type: typ, ID: id})
}

// VRead reads one version of a resource.
func (e *Env) VRead(t testing.TB, typ, id, vid string) *rest.Response {
	t.Helper()
	return e.Must(t, &rest.Request{Interaction: rest.VRead, Type: typ, ID: id, VersionID: vid})
}

// Delete deletes a resource.
func (e *Env) Delete(t testing.TB, typ, id string) *rest.Response {
	t.Helper()
	return e.Must(t, &rest.Request{Interaction: rest.Delete, Type: typ, ID: id})
}

// Patch applies a JSON Patch (RFC 6902) to a resource.
func (e *Env) Patch(t testing.TB, typ, id, jsonPatch string) *rest.Response {
	t.Helper()
	return e.Must(t, &rest.Request{Interaction: rest.Patch, Type: typ, ID: id, Body: []byte(jsonPatch),
		ContentType: "application/json-patch+json"})
}

// History runs the history interaction at the level typ and id name ("" for none) with query parameters
// ("_count=2&_since=...", or "").
func (e *Env) History(t testing.TB, typ, id, query string) *Bundle {
	t.Helper()
	resp := e.Must(t, HistoryRequest(t, typ, id, query))
	WantStatus(t, resp, 200)
	return DecodeBundle(t, resp.Body)
}

// Post posts a batch or transaction Bundle to the base.
func (e *Env) Post(t testing.TB, bundle string) *rest.Response {
	t.Helper()
	return e.Must(t, &rest.Request{Interaction: rest.Batch, Body: []byte(bundle), ContentType: "application/fhir+json"})
}

// Stored returns the current version of a resource as the store holds it (deleted or not), nil when it
// never existed: what a write left behind, seen without the service.
func (e *Env) Stored(t testing.TB, typ, id string) *store.Version {
	t.Helper()
	v, err := e.Store.Read(context.Background(), typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("store read %s/%s: %v", typ, id, err)
	}
	return v
}

// Versions returns every version the store holds of a type ("" for all) or a resource, newest first.
func (e *Env) Versions(t testing.TB, typ, id string) []*store.Version {
	t.Helper()
	vs, err := e.Store.History(context.Background(), store.HistoryQuery{Type: typ, ID: id})
	if err != nil {
		t.Fatalf("store history %s/%s: %v", typ, id, err)
	}
	return vs
}

// Refs returns "Type/id/_history/vid" for each version, and " (deleted)" after the deletions.
func Refs(vs []*store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%s/_history/%d", v.Ref(), v.VersionID)
		if v.Deleted {
			out[i] += " (deleted)"
		}
	}
	return out
}

// PutRequest returns the update of a resource at the id its body carries.
func PutRequest(t testing.TB, resource string) *rest.Request {
	t.Helper()
	id := Str(t, []byte(resource), "id")
	if id == "" {
		t.Fatalf("PutRequest: the resource has no id: %s", resource)
	}
	return &rest.Request{Interaction: rest.Update, Type: typeOf(t, resource), ID: id, Body: []byte(resource),
		ContentType: "application/fhir+json"}
}

// HistoryRequest returns the history request at the level typ and id name, with query parameters.
func HistoryRequest(t testing.TB, typ, id, query string) *rest.Request {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("history query %q: %v", query, err)
	}
	req := &rest.Request{Interaction: rest.HistorySystem, Type: typ, ID: id, Params: params}
	switch {
	case id != "":
		req.Interaction = rest.HistoryInstance
	case typ != "":
		req.Interaction = rest.HistoryType
	}
	return req
}

// Follow returns the request a link of a Bundle this service issued names (a next page), as the route
// table would make it.
func Follow(t testing.TB, link string) *rest.Request {
	t.Helper()
	rel, ok := strings.CutPrefix(link, BaseURL)
	if !ok {
		t.Fatalf("link %q is not under %s", link, BaseURL)
	}
	req, err := rest.Match("GET", rel)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	return req
}

// WantStatus fails the test unless resp has the status.
func WantStatus(t testing.TB, resp *rest.Response, status int) {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status %d, want %d: %s", resp.Status, status, resp.Body)
	}
}

// WantError fails the test unless err is a FHIR error of the status, and, when they are not empty, of the
// issue code and the expression. It returns the error.
func WantError(t testing.TB, err error, status int, code, expression string) *fhir.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d %s", status, code)
	}
	fe := fhir.AsError(err)
	if got := fe.Kind.Status(); got != status {
		t.Errorf("status %d (%v), want %d: %s", got, fe, status, rest.ErrorOutcome(fe))
	}
	if code != "" && fe.IssueCode() != code {
		t.Errorf("issue code %q, want %q: %s", fe.IssueCode(), code, rest.ErrorOutcome(fe))
	}
	if expression != "" && fe.Expression != expression {
		t.Errorf("expression %q, want %q: %s", fe.Expression, expression, rest.ErrorOutcome(fe))
	}
	return fe
}
