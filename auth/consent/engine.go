package consent

import (
	"context"
	"encoding/json"
	"sync"
)

// Loader returns the bodies of a patient's Consent resources (any status; Parse keeps the active
// patient-privacy ones).
type Loader func(ctx context.Context, patient string) ([][]byte, error)

// Engine decides with cached, parsed policies per patient. It is safe for concurrent use.
type Engine struct {
	load Loader
	// Default is the decision when no Consent applies: Permit (opt-out) or Deny (opt-in).
	Default Decision

	// Changes, when set, returns the store's count of Consent writes, which Sync compares with the count
	// the cache was filled under: when the store is shared by several processes, a Consent written through
	// another process empties this one's cache on its next request.
	Changes func(ctx context.Context) (uint64, error)

	mu    sync.Mutex
	cache map[string][]*Policy
	gen   map[string]uint64 // per patient, bumped by Invalidate
	owner map[string]string // Consent/id -> the patient it was last seen about
	max   int
	seen  uint64 // the Changes count the cache holds
	epoch uint64 // bumped when Sync empties the cache
}

// Sync empties the cache if a Consent was written since it was filled (see Changes). Callers call it
// once per request, before the request's first decision.
func (e *Engine) Sync(ctx context.Context) error {
	if e.Changes == nil {
		return nil
	}
	n, err := e.Changes(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if n != e.seen {
		e.cache = map[string][]*Policy{}
		e.seen = n
		e.epoch++
	}
	e.mu.Unlock()
	return nil
}

// NewEngine returns an Engine loading consents with load.
func NewEngine(load Loader, def Decision) *Engine {
	return &Engine{load: load, Default: def, cache: map[string][]*Policy{}, gen: map[string]uint64{}, owner: map[string]string{}, max: 100000}
}

// Policies returns a patient's active privacy policies ("Patient/123").
func (e *Engine) Policies(ctx context.Context, patient string) ([]*Policy, error) {
	e.mu.Lock()
	if p, ok := e.cache[patient]; ok {
		e.mu.Unlock()
		return p, nil
	}
	gen, epoch := e.gen[patient], e.epoch
	e.mu.Unlock()

	bodies, err := e.load(ctx, patient)
	if err != nil {
		return nil, err
	}
	var policies []*Policy
	for _, b := range bodies {
		if ref := consentRef(b); ref != "" {
			e.mu.Lock()
			e.owner[ref] = patient
			e.mu.Unlock()
		}
		p, err := Parse(b)
		if err != nil {
			// A Consent that cannot be read cannot permit anything: treat it as a denial of everything,
			// so that a broken consent never opens access.
			policies = append(policies, denyAll(err))
			continue
		}
		if p != nil {
			policies = append(policies, p)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen[patient] == gen && e.epoch == epoch { // no Consent of this patient was written while loading
		if len(e.cache) >= e.max {
			for k := range e.cache {
				delete(e.cache, k)
				if len(e.cache) < e.max/2 {
					break
				}
			}
		}
		e.cache[patient] = policies
	}
	return policies, nil
}

func denyAll(err error) *Policy {
	return &Policy{Ref: "Consent/unreadable", root: &provision{Type: "deny"}}
}

// ConsentWritten drops the cached policies a written (or deleted) Consent can change: those of the
// patient it is about now, and of the patient it was about before.
func (e *Engine) ConsentWritten(consentRef, patient string) {
	e.mu.Lock()
	old := e.owner[consentRef]
	if patient != "" {
		e.owner[consentRef] = patient
	}
	e.mu.Unlock()
	if old != "" && old != patient {
		e.Invalidate(old)
	}
	if patient != "" {
		e.Invalidate(patient)
	}
}

// Invalidate drops a patient's cached policies; the next decision reloads them. It is called whenever a
// Consent of the patient is written, before the write is acknowledged.
func (e *Engine) Invalidate(patient string) {
	e.mu.Lock()
	delete(e.cache, patient)
	e.gen[patient]++
	e.mu.Unlock()
}

// Decide evaluates a request on a resource of patient.
func (e *Engine) Decide(ctx context.Context, patient string, r *Request, breakTheGlass bool) (Result, error) {
	policies, err := e.Policies(ctx, patient)
	if err != nil {
		return Result{}, err
	}
	return Evaluate(policies, r, e.Default, breakTheGlass), nil
}

func consentRef(body []byte) string {
	var d struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &d) != nil || d.ID == "" {
		return ""
	}
	return "Consent/" + d.ID
}
