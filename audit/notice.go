package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"fhirgate/auth"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
)

// NotifyConfig configures the patients' notices: a Communication to the patient the first time a
// professional accesses their record, and on every break-the-glass access; optionally a message to
// another system that carries no clinical content.
type NotifyConfig struct {
	// Tell, when set, is told of every notice once it is stored (the server posts it to a webhook); it
	// runs off the request path, and its failure is logged.
	Tell func(ctx context.Context, n Notice) error
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Queue is how many (patient, professional) pairs and break-the-glass accesses may wait for the
	// worker (default 10,000); beyond it they are dropped with an error in the log, never holding a
	// request. A pair waits once however many of its accesses come before the worker reaches it.
	Queue int
}

func (c NotifyConfig) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Notice kinds, in Communication.topic and .category, and in the webhook's event.
const (
	NoticeFirstAccess   = "first-access"
	NoticeBreakTheGlass = "break-the-glass"
)

// NoticeTopicSystem codes Communication.topic (and .category) of fhirgate's notices.
const NoticeTopicSystem = "https://fhirgate.dev/CodeSystem/patient-notice"

// Notifier turns audit records into notices, off the request path, once the events are stored.
//
// A professional reading a record a thousand times in a minute is one possible first access, not a
// thousand: while a (patient, professional) pair waits for the worker, its later accesses only make sure
// the earliest one is the one considered, and once the pair is known (in memory, or by its stored
// notice) nothing more is looked up for it.
type Notifier struct {
	cfg   NotifyConfig
	svc   *rest.Service
	log   *slog.Logger
	queue chan queued

	mu      sync.Mutex
	seen    map[string]bool   // "Patient/p|Practitioner/x": known not to be a first access any more
	waiting map[string]Record // pairs in the queue, each with its earliest access so far
	closed  bool
	done    chan struct{}
	pending sync.WaitGroup // records queued and not handled yet, and webhook calls under way
}

// maxSeen bounds the memory of known pairs; beyond it the memory starts again (the store answers).
const maxSeen = 200_000

// NewNotifier starts the notifier of a server: its Consider is the trail's Config.Stored, and Close
// waits for the notices still queued.
func NewNotifier(cfg NotifyConfig, svc *rest.Service, log *slog.Logger) *Notifier {
	if cfg.Queue <= 0 {
		cfg.Queue = 10_000
	}
	n := &Notifier{cfg: cfg, svc: svc, log: log.With("component", "notify"), queue: make(chan queued, cfg.Queue),
		seen: map[string]bool{}, waiting: map[string]Record{}, done: make(chan struct{})}
	go n.run()
	return n
}

// Consider queues the records that may call for a notice: a professional's successful access to a
// patient's data.
func (n *Notifier) Consider(recs []Record) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	for _, r := range recs {
		if !r.Accessed || !strings.HasPrefix(r.Patient, "Patient/") || !isProfessional(r.User) {
			continue
		}
		pair := r.Patient + "|" + r.User
		item := queued{rec: r}
		if !r.BreakTheGlass {
			if n.seen[pair] {
				continue
			}
			if w, ok := n.waiting[pair]; ok {
				if earlier(r, w) {
					n.waiting[pair] = r
				}
				continue
			}
			item = queued{pair: pair}
		}
		n.pending.Add(1)
		select {
		case n.queue <- item:
			if item.pair != "" {
				n.waiting[pair] = r
			}
		default:
			n.pending.Done()
			n.log.Error("notice queue full: a patient notice is dropped", "event", r.ID)
		}
	}
}

// queued is what waits for the worker: a pair (whose earliest access is in Notifier.waiting), or a
// break-the-glass access, each of which is noticed.
type queued struct {
	pair string
	rec  Record
}

// earlier reports whether a was recorded before b (the same instant: the smaller id is earlier).
func earlier(a, b Record) bool {
	return a.Recorded.Before(b.Recorded) || a.Recorded.Equal(b.Recorded) && a.ID < b.ID
}

// isProfessional: the users whose accesses patients are told of (not the patient, not a relative).
func isProfessional(user string) bool {
	return strings.HasPrefix(user, "Practitioner/") || strings.HasPrefix(user, "PractitionerRole/")
}

// Settle waits until every record queued so far has been handled (its notice written, or found not to be
// due, and the webhook told), or until ctx ends.
func (n *Notifier) Settle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { n.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking notices and waits (up to the context) for the queued ones.
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
	case <-ctx.Done():
	}
}

func (n *Notifier) run() {
	defer close(n.done)
	for item := range n.queue {
		r := item.rec
		if item.pair != "" {
			n.mu.Lock()
			r = n.waiting[item.pair]
			delete(n.waiting, item.pair)
			n.mu.Unlock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.handle(ctx, r); err != nil {
			n.log.Error("patient notice failed", "event", r.ID, "err", err)
		}
		cancel()
		n.pending.Done()
	}
}

func (n *Notifier) handle(ctx context.Context, r Record) error {
	if r.BreakTheGlass {
		if err := n.notify(ctx, r, NoticeBreakTheGlass, "btg-"+r.ID); err != nil {
			return err
		}
	}
	pair := r.Patient + "|" + r.User
	n.mu.Lock()
	known := n.seen[pair]
	n.mu.Unlock()
	if known {
		return nil
	}
	sum := sha256.Sum256([]byte(pair))
	id := "first-" + hex.EncodeToString(sum[:16])
	// The pair's notice, once written, says all a search of the trail would: no search.
	_, err := n.svc.Store().Read(ctx, "Communication", id)
	if err == nil {
		n.know(pair)
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	first, err := n.firstAccess(ctx, r)
	if err != nil {
		return err
	}
	if first.ID != r.ID && n.cfg.now().Sub(first.Recorded) < lateAfter {
		// The first access's own event is still on its way (events of concurrent requests are stored,
		// and reach this queue, in any order): its handling sends the notice, so the pair is not known yet.
		return nil
	}
	// The first access is this one, or one long stored whose notice was never written (dropped from a
	// full queue, or older than notices): the patient is told of it now, late rather than never.
	if err := n.notify(ctx, first, NoticeFirstAccess, id); err != nil {
		return err
	}
	n.know(pair)
	return nil
}

// lateAfter is how long after its event a first access's notice may still be on its way (its request
// waits for the trail for at most maxWait); an older first access without a notice will not get one by
// itself.
const lateAfter = 2 * maxWait

// know remembers that a pair's first access is noticed (or was before any notice was kept).
func (n *Notifier) know(pair string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.seen) >= maxSeen {
		n.seen = map[string]bool{}
	}
	n.seen[pair] = true
}

// firstAccess returns the professional's first successful access to the patient's data up to the
// record's: the earliest of their events about the patient (the same instant: the smaller id is earlier,
// so that of two concurrent first accesses exactly one is first), or the record itself when it is.
func (n *Notifier) firstAccess(ctx context.Context, r Record) (Record, error) {
	vs, err := n.svc.Engine().Find(ctx, "AuditEvent", url.Values{
		"patient": {r.Patient}, "agent": {r.User}, "outcome": {"0"},
		"date": {"le" + fhir.FormatInstant(r.Recorded)},
	})
	if err != nil {
		return Record{}, err
	}
	first := r
	for _, v := range vs {
		var ev struct {
			Recorded string `json:"recorded"`
		}
		if json.Unmarshal(v.Body, &ev) != nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ev.Recorded)
		if err != nil {
			continue
		}
		if e := (Record{ID: v.ID, Patient: r.Patient, User: r.User, Accessed: true, Recorded: t}); earlier(e, first) {
			first = e
		}
	}
	return first, nil
}

// notify writes the notice's Communication once (its id is the notice's: a retry or another process
// finds it there) and calls the webhook when it was new.
func (n *Notifier) notify(ctx context.Context, r Record, kind, id string) error {
	body, err := noticeCommunication(id, kind, r)
	if err != nil {
		return err
	}
	index, err := n.svc.IndexEntries("Communication", body)
	if err != nil {
		return err
	}
	_, err = n.svc.Store().Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Communication", ID: id, Body: body, Index: index,
		Method: "PUT", IfNoneExist: true}}})
	if fhir.KindOf(err) == fhir.KindConflict {
		return nil // noticed already
	}
	if err != nil {
		return err
	}
	n.log.Info("patient notice", "kind", kind, "event", r.ID)
	if n.cfg.Tell != nil {
		notice := Notice{Event: kind, Patient: r.Patient, Communication: "Communication/" + id, Sent: r.Recorded}
		n.pending.Add(1)
		go func() {
			defer n.pending.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.cfg.Tell(ctx, notice); err != nil {
				n.log.Error("telling of a patient notice failed", "event", r.ID, "err", err)
			}
		}()
	}
	return nil
}

// Notice is what another system is told of a notice: no clinical content, only its kind (Event), the
// patient's reference, the Communication to read, and when it was sent.
type Notice struct {
	Event         string    `json:"event"`
	Patient       string    `json:"patient"`
	Communication string    `json:"communication"`
	Sent          time.Time `json:"-"`
}

// MarshalJSON writes the notice with its instant as FHIR writes one.
func (n Notice) MarshalJSON() ([]byte, error) {
	type plain Notice
	return json.Marshal(struct {
		plain
		Sent string `json:"sent"`
	}{plain(n), fhir.FormatInstant(n.Sent)})
}

// noticeCommunication is the notice to the patient: who accessed (the professional, in sender is the
// server that noticed), the AuditEvent it is about, and a plain text for readers that know nothing of
// fhirgate. received stays empty until the patient has seen it.
func noticeCommunication(id, kind string, r Record) ([]byte, error) {
	text := map[string]string{
		NoticeFirstAccess:   "First access to your record by " + r.User + ".",
		NoticeBreakTheGlass: "Emergency (break-the-glass) access to your record by " + r.User + ".",
	}[kind]
	if text == "" {
		return nil, errors.New("notify: unknown notice kind " + kind)
	}
	priority := "routine"
	if kind == NoticeBreakTheGlass {
		priority = "urgent"
	}
	type ref struct {
		Reference string `json:"reference"`
	}
	type coding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	type concept struct {
		Coding []coding `json:"coding"`
		Text   string   `json:"text,omitempty"`
	}
	c := struct {
		ResourceType string    `json:"resourceType"`
		ID           string    `json:"id"`
		Status       string    `json:"status"`
		Category     []concept `json:"category"`
		Priority     string    `json:"priority"`
		Subject      ref       `json:"subject"`
		Topic        concept   `json:"topic"`
		About        []ref     `json:"about"`
		Sent         string    `json:"sent"`
		Recipient    []ref     `json:"recipient"`
		Sender       ref       `json:"sender"`
		ReasonCode   []concept `json:"reasonCode,omitempty"`
		Payload      []struct {
			ContentString string `json:"contentString"`
		} `json:"payload"`
	}{
		ResourceType: "Communication", ID: id, Status: "completed",
		// The kind is a category too, since R4 cannot search Communication.topic.
		Category: []concept{{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/communication-category", Code: "notification"}}},
			{Coding: []coding{{System: NoticeTopicSystem, Code: kind}}}},
		Priority: priority, Subject: ref{r.Patient},
		Topic: concept{Coding: []coding{{System: NoticeTopicSystem, Code: kind}}},
		About: []ref{{"AuditEvent/" + r.ID}, {r.User}}, Sent: fhir.FormatInstant(r.Recorded),
		Recipient: []ref{{r.Patient}}, Sender: ref{auth.NoticeSender},
	}
	if kind == NoticeBreakTheGlass {
		c.ReasonCode = []concept{{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: "BTG", Display: "break the glass"}}}}
	}
	c.Payload = append(c.Payload, struct {
		ContentString string `json:"contentString"`
	}{text})
	return json.Marshal(c)
}
