package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// The gates: the only code of the service that reaches the store or the search engine. Each reads what an
// interaction needs and asks the request's guard before anything leaves or changes; arch_test.go holds
// that no other file of the package calls the store or the engine, and that every write is committed
// through commit, which takes only operations the guard approved.

// visible asks the guard whether a version may leave as part of req's answer, and notes in the request's
// ledger the patients whose data it is, or its refusal.
func (s *Service) visible(ctx context.Context, g Guard, req *Request, f *search.Facts) error {
	err := g.Read(ctx, req, f)
	if err != nil {
		req.Ledger.refuse(f.Ref(), f.DataPatients(), err)
		return err
	}
	req.Ledger.note(f.Ref(), f.DataPatients())
	return nil
}

// filter is the search filter of req: what the guard lets the caller see.
func (s *Service) filter(g Guard, req *Request) search.Filter {
	return func(ctx context.Context, f *search.Facts) bool {
		return s.visible(ctx, g, req, f) == nil
	}
}

// readCurrent returns the current version of a resource, once the guard has let req see it: a resource
// that does not exist is fhir.NotFound; one the caller may not see is the guard's refusal (the same answer,
// or 403). A deletion is returned (Deleted set) once the guard has decided on what it deleted.
func (s *Service) readCurrent(ctx context.Context, g Guard, req *Request, typ, id string) (*store.Version, *search.Facts, error) {
	v, err := s.store.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fhir.NotFound(typ, id)
	}
	if err != nil {
		return nil, nil, err
	}
	f := s.engine.CurrentFacts(ctx, v)
	if err := s.visible(ctx, g, req, f); err != nil {
		return nil, nil, err
	}
	return v, f, nil
}

// noSuchVersion is the answer for a version that does not exist (or that the caller may not see).
func noSuchVersion(typ, id string, vid uint64) error {
	return &fhir.Error{Kind: fhir.KindNotFound, MessageID: "MSG_NO_EXIST", Details: "no such version",
		Diagnostics: fmt.Sprintf("%s/%s/_history/%d is not known", typ, id, vid)}
}

// readVersion returns one version of a resource, once the guard has let req see it and the resource's
// current version: an old version of what the caller may no longer see stays hidden.
func (s *Service) readVersion(ctx context.Context, g Guard, req *Request, typ, id string, vid uint64) (*store.Version, error) {
	v, err := s.store.ReadVersion(ctx, typ, id, vid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchVersion(typ, id, vid)
	}
	if err != nil {
		return nil, err
	}
	err = s.visible(ctx, g, req, s.engine.VersionFacts(ctx, v))
	if err == nil {
		err = s.currentVisible(ctx, g, req, v, nil)
	}
	if fhir.KindOf(err) == fhir.KindNotFound {
		return nil, noSuchVersion(typ, id, vid) // as for a version that does not exist
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// currentVisible lets an old version through only if the guard lets req see the resource's current
// version too (seen remembers the answers of one interaction).
func (s *Service) currentVisible(ctx context.Context, g Guard, req *Request, v *store.Version, seen map[string]error) error {
	if err, ok := seen[v.Ref()]; ok {
		return err
	}
	cur, err := s.store.Read(ctx, v.Type, v.ID)
	if err != nil {
		return err
	}
	if cur.VersionID != v.VersionID {
		err = s.visible(ctx, g, req, s.engine.CurrentFacts(ctx, cur))
	}
	if seen != nil {
		seen[v.Ref()] = err
	}
	return err
}

// historyPage returns up to limit versions of q that the guard lets req see, newest first, skipping
// those it does not before counting (so that pages are full and nothing shows that something was left
// out); more reports whether more remain. limit 0 counts them all instead (total).
func (s *Service) historyPage(ctx context.Context, g Guard, req *Request, q store.HistoryQuery, limit int) (vs []*store.Version, total int, more bool, err error) {
	seen := map[string]error{}
	admit := func(v *store.Version) bool {
		if s.visible(ctx, g, req, s.engine.VersionFacts(ctx, v)) != nil {
			return false
		}
		return s.currentVisible(ctx, g, req, v, seen) == nil
	}
	if limit == 0 {
		all, err := s.store.History(ctx, q)
		if err != nil {
			return nil, 0, false, err
		}
		for _, v := range all {
			if admit(v) {
				total++
			}
		}
		return nil, total, false, nil
	}
	q.Limit = limit + 1
	for len(vs) <= limit {
		batch, err := s.store.History(ctx, q)
		if err != nil {
			return nil, 0, false, err
		}
		for _, v := range batch {
			if admit(v) {
				vs = append(vs, v)
			}
		}
		if len(batch) < q.Limit {
			break
		}
		q.Before = batch[len(batch)-1].Seq
		q.Limit = min(4*q.Limit, 4096)
	}
	if len(vs) > limit {
		vs, more = vs[:limit], true
	}
	return vs, 0, more, nil
}

// find runs a search for req: only what the guard lets the caller see is matched, counted or included.
func (s *Service) find(ctx context.Context, g Guard, req *Request, q *search.Query) (*search.Result, error) {
	return s.engine.Search(ctx, q, s.filter(g, req))
}

// everythingOf runs $everything for req, once the guard has let it see the patient.
func (s *Service) everythingOf(ctx context.Context, g Guard, req *Request, id string, o search.EverythingOptions) (*search.Result, error) {
	v, _, err := s.readCurrent(ctx, g, req, "Patient", id)
	if err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, deleted(v)
	}
	visible := s.filter(g, req)
	return s.engine.Everything(ctx, "Patient/"+id, o, func(ctx context.Context, f *search.Facts) bool {
		return !serverNotice(f) && visible(ctx, f)
	})
}

// match runs the criteria of a conditional interaction as req's own search: up to two ids (more than one
// is an error for every conditional interaction), of resources the guard lets the caller see. A match
// the caller may not see counts as no match.
func (s *Service) match(ctx context.Context, g Guard, req *Request, typ, criteria, header string) ([]string, error) {
	q, err := url.ParseQuery(criteria)
	if err != nil || len(q) == 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: header,
			Details: "the criteria must be a non-empty search query string"}
	}
	return s.engine.Match(ctx, typ, q, 2, s.filter(g, req))
}

// matchedVersion reads the one resource a conditional create matched (the guard has let req see it).
func (s *Service) matchedVersion(ctx context.Context, g Guard, req *Request, typ, id string) (*store.Version, error) {
	v, _, err := s.readCurrent(ctx, g, req, typ, id)
	return v, err
}

// existing returns the current version of a resource and its facts, or nils when it does not exist or is
// deleted: the Before of a change, which the guard decides on with it.
func (s *Service) existing(ctx context.Context, typ, id string) (*store.Version, *search.Facts, error) {
	v, err := s.store.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if v.Deleted {
		return nil, nil, nil
	}
	return v, s.engine.CurrentFacts(ctx, v), nil
}

// afterFacts returns the facts of a resource about to be written.
func (s *Service) afterFacts(ctx context.Context, typ, id string, body []byte, index []store.IndexEntry) *search.Facts {
	return s.engine.WriteFacts(ctx, typ, id, body, index)
}

// approved is an operation the guard has let a request perform. Only approve makes one, and commit takes
// nothing else: no write reaches the store undecided.
type approved struct {
	op store.Op
	// pin is the version the decision was made on (0: the resource was absent or deleted); the commit
	// fails with errRaced when another write got in between, and the interaction decides again. A create
	// with a new server-assigned id needs none (the store refuses an id that exists).
	pin    uint64
	pinned bool
}

// approve asks the guard whether req may make a change, and notes it (or its refusal) in the request's
// ledger with the patients whose data it changes.
func (s *Service) approve(ctx context.Context, g Guard, req *Request, ch Change, op store.Op) (approved, error) {
	err := g.Write(ctx, req, ch)
	f := ch.After
	if f == nil {
		f = ch.Before
	}
	if f != nil {
		patients := f.DataPatients()
		if ch.After != nil && ch.Before != nil {
			for _, p := range ch.Before.DataPatients() {
				if !contains(patients, p) {
					patients = append(patients, p)
				}
			}
		}
		if err != nil {
			req.Ledger.refuse(f.Ref(), patients, err)
		} else {
			req.Ledger.note(f.Ref(), patients)
		}
	} else if err != nil {
		req.Ledger.refuse(op.Type+"/"+op.ID, nil, err)
	}
	if err != nil {
		return approved{}, err
	}
	a := approved{op: op, pinned: !(op.Method == "POST" && op.IfNoneExist)}
	if ch.Before != nil && ch.Before.Version != nil {
		a.pin = ch.Before.Version.VersionID
	}
	return a, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// commit commits approved operations in one store transaction; check re-verifies, under the store's
// commit lock, what the decisions rested on (conditional matches). The versions committed are told to
// the service's observers before the write is acknowledged.
func (s *Service) commit(ctx context.Context, ops []approved, check func(context.Context) error) ([]*store.Version, error) {
	tx := &store.Tx{Ops: make([]store.Op, len(ops)), Check: check}
	var pins []approved
	for i, a := range ops {
		tx.Ops[i] = a.op
		if a.pinned {
			pins = append(pins, a)
		}
	}
	if len(pins) > 0 {
		tx.Check = func(ctx context.Context) error {
			for _, a := range pins {
				v, err := s.store.Read(ctx, a.op.Type, a.op.ID)
				var have uint64
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return err
				case !v.Deleted:
					have = v.VersionID
				}
				if have != a.pin {
					return errRaced
				}
			}
			if check != nil {
				return check(ctx)
			}
			return nil
		}
	}
	vs, err := s.store.Commit(ctx, tx)
	if err != nil {
		return nil, err
	}
	s.committed(ctx, vs)
	return vs, nil
}

// exportIDs returns up to n ids of the current resources of typ that sort after after, in id order. They
// are only names: each resource they name leaves an export through exportPatient or exportResources,
// which ask the guard.
func (s *Service) exportIDs(ctx context.Context, typ, after string, n int) ([]string, error) {
	var ids []string
	err := s.store.ScanIDs(ctx, typ, func(id string) bool {
		if id > after {
			ids = append(ids, id)
		}
		return len(ids) < n
	})
	return ids, err
}

// exportPatient returns a patient's record for a bulk export: the resources of o.Types (of the patient's
// compartment, the Patient included) last updated at or after o.Since, that the guard lets req see. A
// patient the guard does not let req see, or who does not exist, has no record (nil, nil): nothing tells
// the exporting client that something was withheld.
func (s *Service) exportPatient(ctx context.Context, g Guard, req *Request, id string, o search.EverythingOptions) ([]*store.Version, error) {
	v, _, err := s.readCurrent(ctx, g, req, "Patient", id)
	switch kind := fhir.KindOf(err); {
	case err == nil:
	case kind == fhir.KindNotFound || kind == fhir.KindForbidden:
		return nil, nil
	default:
		return nil, err
	}
	if v.Deleted {
		return nil, nil
	}
	o.Count, o.Cursor, o.NoIncludes = 0, "", true
	visible := s.filter(g, req)
	res, err := s.engine.Everything(ctx, "Patient/"+id, o, func(ctx context.Context, f *search.Facts) bool {
		return !serverNotice(f) && visible(ctx, f)
	})
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// exportResources returns those of the named resources of typ, current and last updated at or after
// since, that the guard lets req see.
func (s *Service) exportResources(ctx context.Context, g Guard, req *Request, typ string, ids []string, since time.Time) ([]*store.Version, error) {
	vs, err := s.store.ReadMany(ctx, typ, ids)
	if err != nil {
		return nil, err
	}
	var out []*store.Version
	for _, v := range vs {
		if v == nil || v.Deleted || (!since.IsZero() && v.LastUpdated.Before(since)) {
			continue
		}
		f := s.engine.CurrentFacts(ctx, v)
		if serverNotice(f) || s.visible(ctx, g, req, f) != nil {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// exportGroup returns the patients a Group lists as members (Group.member.entity), once the guard has let
// req see the Group.
func (s *Service) exportGroup(ctx context.Context, g Guard, req *Request, id string) ([]string, error) {
	v, _, err := s.readCurrent(ctx, g, req, "Group", id)
	if err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, deleted(v)
	}
	var grp struct {
		Member []struct {
			Entity struct {
				Reference string `json:"reference"`
			} `json:"entity"`
			Inactive bool `json:"inactive"`
		} `json:"member"`
	}
	if err := json.Unmarshal(v.Body, &grp); err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range grp.Member {
		ref := strings.TrimPrefix(m.Entity.Reference, s.cfg.BaseURL+"/")
		if pid, ok := strings.CutPrefix(ref, "Patient/"); ok && !m.Inactive && fhir.ValidID(pid) && !slices.Contains(ids, pid) {
			ids = append(ids, pid)
		}
	}
	return ids, nil
}

// exportMatcher compiles one search of a bulk export's _typeFilter; its chains and _has see only what the
// guard lets req see.
func (s *Service) exportMatcher(ctx context.Context, g Guard, req *Request, typ string, params url.Values) (*search.Matcher, error) {
	return s.engine.NewMatcher(ctx, typ, params, s.filter(g, req))
}

// exportMatches reports, for each of vs (versions of typ an export already read through the guard),
// whether it matches one of ms.
func (s *Service) exportMatches(ctx context.Context, typ string, ms []*search.Matcher, vs []*store.Version) ([]bool, error) {
	return s.engine.MatchAny(ctx, typ, ms, vs)
}

// exportProvenance returns the Provenance resources whose target is one of refs ("Type/id") that the
// guard lets req see.
func (s *Service) exportProvenance(ctx context.Context, g Guard, req *Request, refs []string) ([]*store.Version, error) {
	const batch = 100
	var out []*store.Version
	for start := 0; start < len(refs); start += batch {
		targets := strings.Join(refs[start:min(start+batch, len(refs))], ",")
		q, err := search.ParseQuery([]string{"Provenance"}, url.Values{"target": {targets}}, search.Options{Strict: true})
		if err != nil {
			return nil, err
		}
		q.Count = 1 << 20
		res, err := s.engine.Search(ctx, q, s.filter(g, req))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Matches...)
	}
	return out, nil
}
