package audit

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"fhirgate/fhir"
)

// Two kinds of refusal are recorded in aggregate, because a client can send as many as it likes and each
// recorded as an event of its own would fill the disk with a trail that can never be deleted: requests
// without a valid access token (refused before anyone is known), by client address; and requests refused
// for going beyond a client's rate or concurrency (429), by client and user. The first of a key in a minute
// is recorded at once (durably, before its answer leaves), the others of that minute counted, and recorded
// as one summary event once the minute is over. Past maxKeys keys in a minute, the others share one tally.

// maxKeys bounds the keys tallied in one minute.
const maxKeys = 1024

// otherAddresses is the tally of the keys beyond maxKeys.
const otherAddresses = "(other addresses)"

type tally struct {
	first string // the AuditEvent that recorded the first refusal
	more  int    // the refusals counted after it
	// throttled is the first refused interaction of a throttled client (nil for unauthenticated requests,
	// whose key is the address).
	throttled *interaction
}

type unauthenticated struct {
	mu     sync.Mutex
	minute time.Time
	byAddr map[string]*tally
}

// refuseUnauthenticated records the refusal of a request without a valid token, in aggregate.
func (t *Trail) refuseUnauthenticated(ctx context.Context, in *interaction) ([]string, error) {
	return t.aggregate(ctx, in, in.clientAddr, false)
}

// refuseThrottled records the refusal of a request beyond its client's rate or concurrency, in
// aggregate.
func (t *Trail) refuseThrottled(ctx context.Context, in *interaction) ([]string, error) {
	p := in.principal
	return t.aggregate(ctx, in, "client "+p.ClientID+" user "+p.Issuer+" "+p.Subject, true)
}

func (t *Trail) aggregate(ctx context.Context, in *interaction, key string, throttled bool) ([]string, error) {
	now := t.cfg.Now()
	minute := now.UTC().Truncate(time.Minute)
	u := &t.unauth
	u.mu.Lock()
	past := u.rotate(minute)
	if _, ok := u.byAddr[key]; !ok && len(u.byAddr) >= maxKeys {
		key = otherAddresses
	}
	if tl, ok := u.byAddr[key]; ok && tl.first != "" {
		tl.more++
		u.mu.Unlock()
		t.summarize(ctx, past)
		return []string{"AuditEvent/" + tl.first}, nil
	}
	tl := &tally{}
	if throttled && key != otherAddresses {
		tl.throttled = in
	}
	u.byAddr[key] = tl
	u.mu.Unlock()
	t.summarize(ctx, past)

	events := t.events(in)
	stored, err := t.store(ctx, events)
	if !stored {
		u.mu.Lock()
		if u.byAddr[key] == tl {
			delete(u.byAddr, key) // the next refusal is recorded at once again
		}
		u.mu.Unlock()
		return nil, err
	}
	u.mu.Lock()
	tl.first = events[0].ID
	u.mu.Unlock()
	return headerRefs(events), nil
}

// ended is a minute that ended, with the tallies that counted refusals after the first.
type ended struct {
	minute  time.Time
	tallies map[string]*tally
}

// rotate starts a new minute (under u.mu) and returns the one that ended (nil when nothing is to be
// summarized).
func (u *unauthenticated) rotate(minute time.Time) *ended {
	if u.byAddr != nil && !minute.After(u.minute) {
		return nil
	}
	past := &ended{minute: u.minute, tallies: u.byAddr}
	u.minute, u.byAddr = minute, map[string]*tally{}
	for addr, tl := range past.tallies {
		if tl.more == 0 || tl.first == "" {
			delete(past.tallies, addr)
		}
	}
	if len(past.tallies) == 0 {
		return nil
	}
	return past
}

// summarize records the summary events of a minute that ended (nil: none).
func (t *Trail) summarize(ctx context.Context, past *ended) {
	if past == nil {
		return
	}
	minute := past.minute.Format(time.RFC3339)
	addrs := make([]string, 0, len(past.tallies))
	for addr := range past.tallies {
		addrs = append(addrs, addr)
	}
	sort.Strings(addrs)
	events := make([]Record, 0, len(addrs))
	for _, addr := range addrs {
		events = append(events, t.summary(addr, minute, past.tallies[addr]))
	}
	if _, err := t.store(context.WithoutCancel(ctx), events); err != nil {
		t.log.Error("the summary of refused unauthenticated requests was not recorded", "events", len(events), "err", err)
	}
}

// summary is the event counting the refusals of one key in one minute after the first.
func (t *Trail) summary(addr, minute string, tl *tally) Record {
	if tl.throttled != nil {
		return t.throttledSummary(minute, tl)
	}
	id := t.cfg.NewID()
	recorded := t.cfg.Now().UTC().Truncate(time.Millisecond)
	ev := &auditEvent{ResourceType: "AuditEvent", ID: id, Meta: &aeMeta{},
		Type:     aeCoding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Action:   "E",
		Recorded: fhir.FormatInstant(recorded),
		Outcome:  "4",
		OutcomeDesc: fmt.Sprintf("%d more requests without a valid access token from %s in the minute from %s (the first is AuditEvent/%s)",
			tl.more, addr, minute, tl.first),
		Source: t.source(),
	}
	client := aeAgent{Type: &aeConcept{Coding: []aeCoding{{System: dcm, Code: "110153"}}}, Who: &aeReference{Display: "unidentified client"}}
	if addr != otherAddresses {
		client.Network = &aeNetwork{Address: addr, Type: "2"}
	}
	ev.Agent = []aeAgent{client, t.serverAgent(aeCoding{System: dcm, Code: "110152"})}
	ev.Entity = []aeEntity{{Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"},
		Description: "refused requests without a valid access token",
		Detail: []aeDetail{{Type: "count", ValueString: strconv.Itoa(tl.more)}, {Type: "minute", ValueString: minute},
			{Type: "first", ValueString: "AuditEvent/" + tl.first}}}}
	rec := t.record(ev)
	rec.Recorded = recorded
	return rec
}

// throttledSummary is the event counting the requests of one client and user refused for its rate or
// concurrency in one minute after the first: the client and the user as agents, and the patient of a
// patient's app (so that the patient's pages show it too).
func (t *Trail) throttledSummary(minute string, tl *tally) Record {
	in := *tl.throttled
	in.req, in.touched, in.ledger, in.decisions = nil, nil, nil, nil
	patient := requestPatient(&in)
	recorded := t.cfg.Now().UTC().Truncate(time.Millisecond)
	ev := t.event(t.cfg.NewID(), &in, patient, nil, nil, nil, "", recorded)
	ev.OutcomeDesc = fmt.Sprintf("%d more requests refused for going beyond the client's rate or concurrency limit in the minute from %s (the first is AuditEvent/%s)",
		tl.more, minute, tl.first)
	ev.Entity = append(ev.Entity, aeEntity{Type: &aeCoding{System: entityType, Code: "2", Display: "System Object"},
		Description: "requests refused for the client's rate or concurrency limit",
		Detail: []aeDetail{{Type: "count", ValueString: strconv.Itoa(tl.more)}, {Type: "minute", ValueString: minute},
			{Type: "first", ValueString: "AuditEvent/" + tl.first}}})
	rec := t.record(ev)
	rec.Patient, rec.Recorded = patient, recorded
	if in.principal != nil {
		rec.User = in.principal.User
	}
	return rec
}

// flushUnauthenticated records the summaries of the minute in progress (on shutdown).
func (t *Trail) flushUnauthenticated(ctx context.Context) {
	u := &t.unauth
	u.mu.Lock()
	past := u.rotate(u.minute.Add(time.Hour))
	u.byAddr = nil
	u.mu.Unlock()
	t.summarize(ctx, past)
}

// tick records, every few seconds, the summaries of a minute that ended with no refusal since.
func (t *Trail) tick() {
	defer close(t.ticked)
	tk := time.NewTicker(5 * time.Second)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			u := &t.unauth
			u.mu.Lock()
			var past *ended
			if u.byAddr != nil {
				past = u.rotate(t.cfg.Now().UTC().Truncate(time.Minute))
			}
			u.mu.Unlock()
			t.summarize(context.Background(), past)
		}
	}
}
