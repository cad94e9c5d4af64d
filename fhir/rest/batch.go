package rest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// bundle is the batch and transaction interactions: POST [base] with a Bundle of type batch or
// transaction (https://hl7.org/fhir/R4/http.html#transaction).
func (s *Service) bundle(ctx context.Context, g Guard, req *Request) (*Response, error) {
	if req.inBundle {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", Details: "a batch or transaction cannot contain another"}
	}
	r, err := fhir.ParseResource(req.Body)
	if err != nil {
		return nil, err
	}
	if r.Type != "Bundle" {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_RESOURCE_TYPE_MISMATCH",
			Expression: "resourceType", Details: "only a Bundle of type batch or transaction can be posted to the base"}
	}
	var in struct {
		Type  string    `json:"type"`
		Entry []entryIn `json:"entry"`
	}
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
			Details: "the Bundle's entries are malformed", Diagnostics: err.Error()}
	}
	if len(in.Entry) > s.cfg.MaxBundleEntries {
		return nil, &fhir.Error{Kind: fhir.KindTooLarge, Code: "too-costly", Expression: "Bundle.entry", Limit: "max-bundle-entries",
			Details: fmt.Sprintf("a Bundle may hold at most %d entries (--max-bundle-entries); this one has %d", s.cfg.MaxBundleEntries, len(in.Entry))}
	}
	switch in.Type {
	case "batch":
		req.Interaction = Batch
		return s.batch(ctx, g, req, in.Entry)
	case "transaction":
		req.Interaction = Transaction
		return s.transaction(ctx, g, req, in.Entry)
	}
	return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "Bundle.type",
		Details: "only batch and transaction Bundles can be posted to the base", Diagnostics: "type is " + strconv.Quote(in.Type)}
}

type entryIn struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *requestJSON    `json:"request"`
}

// entryRequest turns a Bundle entry into a Request, matched against the same route table as HTTP.
func (s *Service) entryRequest(parent *Request, i int, e entryIn) (*Request, error) {
	if e.Request == nil || e.Request.Method == "" || e.Request.URL == "" {
		return nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "required", Expression: "request",
			Details: "each entry needs request.method and request.url"})
	}
	method := e.Request.Method
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	default:
		return nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "request.method",
			Details: "unknown method", Diagnostics: method})
	}
	u := e.Request.URL
	if path, _, _ := strings.Cut(u, "?"); strings.Contains(path, "://") { // (a query may hold URLs: token systems)
		rest, ok := strings.CutPrefix(u, s.cfg.BaseURL+"/")
		if !ok {
			return nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "request.url",
				Details: "an absolute request.url must start with this server's base URL"})
		}
		u = rest
	}
	sub, err := Match(method, u)
	if err == nil {
		err = validTarget(sub)
	}
	if err != nil {
		fe := *fhir.AsError(err)
		fe.Expression = "request.url" // what the entry got wrong, however the URL was
		err = &fe
	}
	if err != nil {
		return nil, entryError(i, err)
	}
	if sub.Interaction == Batch || sub.Interaction == Transaction {
		return nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", Expression: "request.url",
			Details: "a batch or transaction cannot contain another"})
	}
	sub.Body, sub.ContentType = e.Resource, "application/fhir+json"
	if method == "PATCH" && len(e.Resource) > 0 {
		if err := binaryPatch(sub); err != nil {
			return nil, entryError(i, err)
		}
	}
	sub.IfMatch, sub.IfNoneExist, sub.IfNoneMatch = e.Request.IfMatch, e.Request.IfNoneExist, e.Request.IfNoneMatch
	if e.Request.IfModifiedSince != "" {
		t, err := fhir.ParseInstant(e.Request.IfModifiedSince)
		if err != nil {
			return nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "request.ifModifiedSince",
				Details: "ifModifiedSince must be an instant"})
		}
		sub.IfModifiedSince = t
	}
	sub.Return, sub.Strict, sub.Entry, sub.Bundle, sub.inBundle = parent.Return, parent.Strict, i, parent.Interaction, true
	sub.Ledger = parent.Ledger.entry()
	if sub.Return == ReturnDefault {
		sub.Return = ReturnMinimal // bundles answer writes without the resource unless asked
	}
	return sub, nil
}

// binaryPatch unwraps a JSON Patch carried in a Binary resource, as bundles carry it.
func binaryPatch(sub *Request) error {
	var bin struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	if err := json.Unmarshal(sub.Body, &bin); err != nil || bin.ResourceType != "Binary" {
		return nil // a Parameters resource (FHIRPath Patch) or something patch will refuse
	}
	data, err := base64.StdEncoding.DecodeString(bin.Data)
	if err != nil {
		return &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "resource.data", Details: "Binary.data is not base64"}
	}
	sub.Body, sub.ContentType = data, bin.ContentType
	return nil
}

// entryError places an error at an entry of the Bundle.
func entryError(i int, err error) error {
	fe := *fhir.AsError(err)
	prefix := fmt.Sprintf("Bundle.entry[%d]", i)
	switch {
	case fe.Expression == "":
		fe.Expression = prefix
	case strings.HasPrefix(fe.Expression, "request") || strings.HasPrefix(fe.Expression, "resource"):
		fe.Expression = prefix + "." + fe.Expression
	case strings.HasPrefix(fe.Expression, "If-") || strings.HasPrefix(fe.Expression, "_"):
		fe.Expression = prefix + ".request(" + fe.Expression + ")"
	default:
		// An element path such as Patient.gender: the entry's resource.
		if dot := strings.IndexByte(fe.Expression, '.'); dot > 0 && fhir.IsResourceType(fe.Expression[:dot]) {
			fe.Expression = prefix + ".resource" + fe.Expression[dot:]
		} else if fhir.IsResourceType(fe.Expression) {
			fe.Expression = prefix + ".resource"
		} else {
			fe.Expression = prefix + "." + fe.Expression
		}
	}
	return &fe
}

// batch runs each entry on its own; each gets its own status and outcome.
func (s *Service) batch(ctx context.Context, g Guard, req *Request, entries []entryIn) (*Response, error) {
	out := s.newBundle("batch-response")
	out.Entry = make([]entryJSON, len(entries))
	results := make([]*EntryResult, len(entries))
	size := 0 // the bytes of the entries' answers so far
	for i, e := range entries {
		sub, err := s.entryRequest(req, i, e)
		var resp *Response
		var led *Ledger
		switch {
		case err != nil:
		case ctx.Err() != nil:
			// Past the deadline the entries left are not run, and those that ran are answered: they
			// happened.
			err = batchTimeout(ctx, "this entry was not run")
		case size >= s.cfg.MaxBatchResponse:
			err = s.batchTooLarge(false)
		default:
			led = sub.Ledger
			resp, err = s.Do(ctx, g, sub)
			if err != nil && ctx.Err() != nil {
				err = batchTimeout(ctx, "this entry was stopped, and changed nothing")
			}
			if resp != nil && !sub.Interaction.writes() && size+len(resp.Body) > s.cfg.MaxBatchResponse {
				// What was read is not served: the answer would go beyond the limit. (What was written
				// is always answered: it happened.)
				resp, err = nil, s.batchTooLarge(true)
			}
		}
		out.Entry[i] = s.entryResult(sub, resp, err)
		if resp != nil {
			size += len(resp.Body)
		}
		results[i] = &EntryResult{Request: sub, Response: resp, Err: err, Ledger: led}
	}
	return &Response{Status: 200, Body: fhir.MustJSON(out), Entries: results}, nil
}

// entryResult renders one entry of a batch-response or transaction-response.
// batchTimeout is the answer of a batch entry the deadline stopped, or did not let run.
func batchTimeout(ctx context.Context, what string) error {
	return &fhir.Error{Kind: fhir.KindTimeout, Code: "timeout", Limit: "request-timeout", Err: ctx.Err(),
		Details: "the batch ran past its deadline (--request-timeout): " + what}
}

// batchTooLarge is the answer of a batch (or transaction read) entry beyond the response size limit: not run, or run but not
// served.
func (s *Service) batchTooLarge(ran bool) error {
	what := "this entry was not run"
	if ran {
		what = "this entry's answer is not given"
	}
	return &fhir.Error{Kind: fhir.KindTooCostly, Code: "too-costly", Limit: "max-batch-response",
		Details: fmt.Sprintf("the batch's answer reached its limit of %d bytes (--max-batch-response): %s; send it in a batch of its own", s.cfg.MaxBatchResponse, what)}
}

func (s *Service) entryResult(sub *Request, resp *Response, err error) entryJSON {
	if err != nil {
		fe := fhir.AsError(err)
		return entryJSON{Response: &responseJSON{Status: statusLine(fe.Kind.Status()), Outcome: ErrorOutcome(fe)}}
	}
	e := entryJSON{Response: &responseJSON{Status: statusLine(resp.Status), Location: resp.Location,
		Etag: etag(resp.VersionID), LastModified: instant(resp.LastModified)}}
	if len(resp.Body) > 0 {
		if isOutcome(resp.Body) {
			e.Response.Outcome = resp.Body
		} else {
			e.Resource = resp.Body
			if sub != nil && sub.Type != "" {
				if id := resourceID(resp.Body); id != "" && sub.Interaction != SearchType {
					e.FullURL = s.url(sub.Type + "/" + id)
				}
			}
		}
	}
	return e
}

func isOutcome(b []byte) bool {
	return bytes.Contains(b[:min(len(b), 64)], []byte(`"resourceType":"OperationOutcome"`))
}

// resourceID returns the id of a resource's JSON, or "" when it has none or is not a JSON object.
func resourceID(b []byte) string {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return ""
	}
	return r.ID
}

// Processing order of a transaction's entries (https://hl7.org/fhir/R4/http.html#trules).
func methodRank(m string) int {
	switch m {
	case "DELETE":
		return 0
	case "POST":
		return 1
	case "PUT", "PATCH":
		return 2
	}
	return 3
}

// planned is one write entry of a transaction, ready to commit.
type planned struct {
	entry    int
	sub      *Request // carries the entry's own ledger
	op       store.Op
	approved approved
	existing *store.Version // a conditional create that matched: nothing is written
	nothing  bool           // a delete of what is absent, hidden or matched by nothing: nothing is written
}

// writes reports whether the entry writes something.
func (p *planned) writes() bool { return p.existing == nil && !p.nothing }

// transaction runs all entries or none: every write is prepared, validated and decided, then committed in
// one atomic store transaction; reads run afterwards and see the writes.
func (s *Service) transaction(ctx context.Context, g Guard, req *Request, entries []entryIn) (*Response, error) {
	subs := make([]*Request, len(entries))
	for i, e := range entries {
		sub, err := s.entryRequest(req, i, e)
		if err != nil {
			return nil, err
		}
		if sub.Type != "" && !fhir.IsResourceType(sub.Type) {
			return nil, entryError(i, fhir.UnknownType(sub.Type))
		}
		if sub.Type == "AuditEvent" && (sub.Interaction == Update || sub.Interaction == Patch || sub.Interaction == Delete) {
			return nil, entryError(i, immutable())
		}
		// Every entry is authorized before anything is written.
		if err := g.Authorize(ctx, sub); err != nil {
			return nil, entryError(i, err)
		}
		subs[i] = sub
	}
	order := make([]int, len(subs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return methodRank(entries[order[a]].Request.Method) < methodRank(entries[order[b]].Request.Method)
	})

	var plan []*planned
	var versions []*store.Version
	for attempt := 1; ; attempt++ {
		var check func(context.Context) error
		var err error
		plan, check, err = s.planTransaction(ctx, g, subs, entries, order)
		if err != nil {
			return nil, err
		}
		var ops []approved
		for _, p := range plan {
			if p.writes() {
				ops = append(ops, p.approved)
			}
		}
		versions, err = s.commit(ctx, ops, check)
		if err == nil {
			break
		}
		if errors.Is(err, errRaced) && attempt < maxAttempts {
			continue
		}
		if i, ok := failedOp(err); ok {
			return nil, entryError(writes(plan)[i].entry, err)
		}
		return nil, err
	}

	out := s.newBundle("transaction-response")
	out.Entry = make([]entryJSON, len(entries))
	results := make([]*EntryResult, len(entries))
	w := 0
	for _, p := range plan {
		var resp *Response
		switch {
		case p.existing != nil:
			resp = s.versionResponse(p.sub, 200, p.existing)
		case p.nothing:
			resp = &Response{Status: 204}
		default:
			v := versions[w]
			w++
			resp = s.writeResult(p.sub, v)
		}
		out.Entry[p.entry] = s.entryResult(p.sub, resp, nil)
		results[p.entry] = &EntryResult{Request: p.sub, Response: resp, Ledger: p.sub.Ledger}
	}
	size := 0
	for _, r := range results {
		if r != nil && r.Response != nil {
			size += len(r.Response.Body)
		}
	}
	// The reads run once the writes are committed (and answered, whatever comes next); like a batch's,
	// they are bounded by the response size limit.
	for _, i := range order {
		if m := entries[i].Request.Method; m == "GET" || m == "HEAD" {
			sub := subs[i]
			var resp *Response
			err := s.batchTooLarge(false)
			if size < s.cfg.MaxBatchResponse {
				resp, err = s.Do(ctx, g, sub)
				if resp != nil && size+len(resp.Body) > s.cfg.MaxBatchResponse {
					resp, err = nil, s.batchTooLarge(true)
				}
			}
			if resp != nil {
				size += len(resp.Body)
			}
			out.Entry[i] = s.entryResult(sub, resp, err)
			results[i] = &EntryResult{Request: sub, Response: resp, Err: err, Ledger: sub.Ledger}
		}
	}
	return &Response{Status: 200, Body: fhir.MustJSON(out), Entries: results}, nil
}

func writes(plan []*planned) []*planned {
	var out []*planned
	for _, p := range plan {
		if p.writes() {
			out = append(out, p)
		}
	}
	return out
}

var opIndex = regexp.MustCompile(`^Tx\.op\[(\d+)\]$`)

func failedOp(err error) (int, bool) {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return 0, false
	}
	m := opIndex.FindStringSubmatch(fe.Expression)
	if m == nil {
		return 0, false
	}
	i, _ := strconv.Atoi(m[1])
	fe.Expression = ""
	return i, true
}

// writeResult renders the response of one committed write.
func (s *Service) writeResult(sub *Request, v *store.Version) *Response {
	switch {
	case v == nil: // a delete that changed nothing
		return &Response{Status: 204}
	case v.Deleted:
		return s.versionResponse(sub, 204, v)
	case sub.Interaction == Create || v.Created:
		return s.versionResponse(sub, 201, v)
	}
	return s.versionResponse(sub, 200, v)
}

// planTransaction assigns ids, resolves conditional creates, updates, patches, deletes and references (as
// the caller's own searches), rewrites references between entries, prepares and validates every write,
// and asks the guard to approve each. check re-verifies, under the commit lock, that the conditional
// matches still hold.
func (s *Service) planTransaction(ctx context.Context, g Guard, subs []*Request, entries []entryIn, order []int) ([]*planned, func(context.Context) error, error) {
	ids := map[string]string{} // fullUrl -> Type/id
	seen := map[string]int{}
	written := map[string]bool{} // what the transaction creates or updates
	var plan []*planned
	var recheck []func(context.Context) error
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		sub := subs[i]
		switch sub.Interaction {
		case Read, VRead, SearchType, SearchSystem, HistoryInstance, HistoryType, HistorySystem, Capabilities:
			continue
		}
		p := &planned{entry: i, sub: sub}
		if sub.Type == "AuditEvent" && (sub.Interaction == Update || sub.Interaction == Patch || sub.Interaction == Delete) {
			return nil, nil, entryError(i, immutable())
		}
		switch sub.Interaction {
		case Create:
			p.op = store.Op{Type: sub.Type, ID: s.cfg.NewID(), Method: "POST", IfNoneExist: true, Chain: sub.Type == "AuditEvent"}
			if sub.IfNoneExist != "" {
				matched, err := s.match(ctx, g, sub, sub.Type, sub.IfNoneExist, "If-None-Exist")
				if err != nil {
					return nil, nil, entryError(i, err)
				}
				if len(matched) > 1 {
					return nil, nil, entryError(i, multipleMatches("If-None-Exist"))
				}
				want := strings.Join(matched, ",")
				typ, crit := sub.Type, sub.IfNoneExist
				recheck = append(recheck, func(ctx context.Context) error {
					now, err := s.match(ctx, g, sub, typ, crit, "If-None-Exist")
					if err != nil {
						return err
					}
					if strings.Join(now, ",") != want {
						return errRaced
					}
					return nil
				})
				if len(matched) == 1 {
					v, err := s.matchedVersion(ctx, g, sub, sub.Type, matched[0])
					if err != nil {
						return nil, nil, entryError(i, err)
					}
					p.existing = v
					p.op.ID = matched[0]
				}
			}
		case Update, Patch, Delete:
			id := sub.ID
			if id == "" { // conditional
				crit, matched, err := s.criteria(ctx, g, sub)
				if err != nil {
					return nil, nil, entryError(i, err)
				}
				recheck = append(recheck, s.stillMatches(g, sub, crit, matched))
				id = matched
				switch {
				case matched != "":
				case sub.Interaction == Delete:
					p.nothing = true
				case sub.Interaction == Patch:
					return nil, nil, entryError(i, &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST",
						Expression: "criteria", Details: "no resource matches the criteria"})
				default: // a conditional update that matches nothing creates, with the body's id if it has one
					id = resourceID(sub.Body)
					if id == "" {
						id = s.cfg.NewID()
					}
					if !fhir.ValidID(id) {
						return nil, nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "value",
							Expression: sub.Type + ".id", Details: "invalid resource id"})
					}
				}
			}
			p.op = store.Op{Type: sub.Type, ID: id}
		default:
			return nil, nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported",
				Details: fmt.Sprintf("%s is not allowed in a transaction", sub.Interaction)})
		}
		if p.nothing {
			plan = append(plan, p)
			continue
		}
		key := p.op.Type + "/" + p.op.ID
		if j, dup := seen[key]; dup && p.existing == nil {
			return nil, nil, entryError(i, &fhir.Error{Kind: fhir.KindInvalid, Code: "duplicate",
				Details: "two entries of the transaction write the same resource", Diagnostics: fmt.Sprintf("%s, also entry %d", key, j)})
		}
		seen[key] = i
		if sub.Interaction != Delete {
			written[key] = true
			if fu := entries[i].FullURL; fu != "" {
				ids[fu] = key
			}
		}
		plan = append(plan, p)
	}
	companion := func(ref string) bool { return written[ref] }
	// Prepare bodies: rewrite references, resolve conditional references, validate, decide (in parallel).
	errs := make([]error, len(plan))
	var condMu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for k, p := range plan {
		if !p.writes() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(k int, p *planned) {
			defer wg.Done()
			defer func() { <-sem }()
			rc, err := s.prepareWrite(ctx, g, p, ids, companion)
			if err != nil {
				errs[k] = entryError(p.entry, err)
				return
			}
			if rc != nil {
				condMu.Lock()
				recheck = append(recheck, rc...)
				condMu.Unlock()
			}
		}(k, p)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	var check func(context.Context) error
	if len(recheck) > 0 {
		check = func(ctx context.Context) error {
			for _, c := range recheck {
				if err := c(ctx); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return plan, check, nil
}

// prepareWrite prepares, validates and decides one write of a transaction. A delete of what the caller
// may not see changes nothing, as for what does not exist.
func (s *Service) prepareWrite(ctx context.Context, g Guard, p *planned, ids map[string]string, companion func(string) bool) ([]func(context.Context) error, error) {
	sub := p.sub
	id := p.op.ID
	switch sub.Interaction {
	case Delete:
		m, err := ifMatch(sub)
		if err != nil {
			return nil, err
		}
		p.approved, p.nothing, err = s.deletion(ctx, g, sub, id, m, companion)
		return nil, err
	case Patch:
		m, err := ifMatch(sub)
		if err != nil {
			return nil, err
		}
		p.approved, err = s.patchedOp(ctx, g, sub, id, m, func(b []byte) []byte { return rewriteRefs(b, ids) })
		return nil, err
	}
	sub.Body = rewriteRefs(sub.Body, ids)
	body, rc, err := s.resolveConditionalRefs(ctx, g, sub, sub.Body)
	if err != nil {
		return nil, err
	}
	sub.Body = body
	r, err := parseBody(sub)
	if err != nil {
		return nil, err
	}
	var match uint64
	op := p.op
	if sub.Interaction == Update {
		if r.ID != id && (sub.ID != "" || r.ID != "") {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: sub.Type + ".id",
				Details: "the resource id does not match the URL"}
		}
		if match, err = ifMatch(sub); err != nil {
			return nil, err
		}
		op.IfMatch, op.Method = match, "PUT"
	}
	b, index, err := s.finish(r, id)
	if err != nil {
		return nil, err
	}
	op.Body, op.Index = b, index
	after := s.afterFacts(ctx, sub.Type, id, b, index)
	if sub.Interaction == Update {
		p.approved, err = s.replacement(ctx, g, sub, op, after, companion)
		return rc, err
	}
	p.approved, err = s.approve(ctx, g, sub, Change{After: after, Companion: companion}, op)
	return rc, err
}

// rewriteRefs replaces every JSON string equal to a mapped fullUrl (urn:uuid:..., urn:oid:..., or an
// absolute URL) by the resource's new "Type/id", and the same URLs in narrative href and src attributes.
// It makes one pass over the body whatever the number of entries.
func rewriteRefs(body []byte, ids map[string]string) []byte {
	if len(ids) == 0 {
		return body
	}
	var out []byte
	last := 0
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		// body[i] opens a string literal (the scan only ever stops on opening quotes).
		j, escaped := i+1, false
		for ; j < len(body); j++ {
			if body[j] == '\\' {
				escaped = true
				j++
				continue
			}
			if body[j] == '"' {
				break
			}
		}
		if j >= len(body) {
			break
		}
		lit := body[i+1 : j]
		var repl []byte
		if !escaped {
			if to, ok := ids[string(lit)]; ok {
				repl = []byte(to)
			}
		} else if bytes.Contains(lit, []byte(`=\"`)) {
			repl = rewriteAttrs(lit, ids)
		}
		if repl != nil {
			out = append(out, body[last:i+1]...)
			out = append(out, repl...)
			last = j
		}
		i = j
	}
	if out == nil {
		return body
	}
	return append(out, body[last:]...)
}

// rewriteAttrs rewrites href=\"url\" and src=\"url\" inside an escaped narrative string; nil when
// nothing changed.
func rewriteAttrs(lit []byte, ids map[string]string) []byte {
	type span struct{ start, end int }
	var spans []span
	for _, attr := range [][]byte{[]byte(`href=\"`), []byte(`src=\"`)} {
		for k := 0; ; {
			a := bytes.Index(lit[k:], attr)
			if a < 0 {
				break
			}
			start := k + a + len(attr)
			end := bytes.Index(lit[start:], []byte(`\"`))
			if end < 0 {
				break
			}
			if _, ok := ids[string(lit[start:start+end])]; ok {
				spans = append(spans, span{start, start + end})
			}
			k = start + end
		}
	}
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	var out []byte
	last := 0
	for _, sp := range spans {
		out = append(out, lit[last:sp.start]...)
		out = append(out, ids[string(lit[sp.start:sp.end])]...)
		last = sp.end
	}
	return append(out, lit[last:]...)
}

var conditionalRef = regexp.MustCompile(`"reference"\s*:\s*("[A-Za-z]+\?(?:[^"\\]|\\.)*")`)

// resolveConditionalRefs replaces conditional references ("Patient?identifier=sys|1") by the single
// resource they match, as the caller's own search sees it; zero or several matches fail the transaction.
func (s *Service) resolveConditionalRefs(ctx context.Context, g Guard, req *Request, body []byte) ([]byte, []func(context.Context) error, error) {
	locs := conditionalRef.FindAllSubmatchIndex(body, -1)
	if len(locs) == 0 {
		return body, nil, nil
	}
	var out []byte
	var checks []func(context.Context) error
	last := 0
	for _, loc := range locs {
		lit := body[loc[2]:loc[3]]
		var ref string
		if err := json.Unmarshal(lit, &ref); err != nil {
			continue
		}
		typ, crit, _ := strings.Cut(ref, "?")
		if !fhir.IsResourceType(typ) {
			return nil, nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Details: "conditional reference to an unknown type",
				Diagnostics: ref}
		}
		ids, err := s.match(ctx, g, req, typ, crit, "reference")
		if err != nil {
			return nil, nil, err
		}
		// No match and several matches are different errors, neither with a count: what the caller may
		// not see is no match, and how many it could see is not the answer's business.
		switch {
		case len(ids) == 0:
			return nil, nil, &fhir.Error{Kind: fhir.KindNotFound, Code: "not-found", MessageID: "SEARCH_NONE",
				Details: "a conditional reference must match exactly one resource; it matches none", Diagnostics: ref}
		case len(ids) > 1:
			return nil, nil, &fhir.Error{Kind: fhir.KindPreconditionFailed, Code: "multiple-matches", MessageID: "SEARCH_MULTIPLE",
				Details: "a conditional reference must match exactly one resource; it matches more than one", Diagnostics: ref}
		}
		want := ids[0]
		checks = append(checks, func(ctx context.Context) error {
			now, err := s.match(ctx, g, req, typ, crit, "reference")
			if err != nil {
				return err
			}
			if len(now) != 1 || now[0] != want {
				return errRaced
			}
			return nil
		})
		out = append(out, body[last:loc[2]]...)
		out = append(out, fhir.MustJSON(typ+"/"+want)...)
		last = loc[3]
	}
	return append(out, body[last:]...), checks, nil
}
