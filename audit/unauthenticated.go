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

// Requests without a valid access token are refused before anyone is known, and anyone can send as many
// as they like: each recorded as an event of its own, they would fill the disk with a trail that can
// never be deleted. They are recorded in aggregate: the first from a client address in a minute at once
// (durably, before its 401 leaves), the others of that minute counted, and recorded as one summary event
// once the minute is over. Past maxAddresses addresses in a minute, the others share one tally.

// maxAddresses bounds the addresses tallied in one minute.
const maxAddresses = 1024

// otherAddresses is the tally of the addresses beyond maxAddresses.
const otherAddresses = "(other addresses)"

type tally struct {
	first string // the AuditEvent that recorded the first refusal
	more  int    // the refusals counted after it
}

type unauthenticated struct {
	mu     sync.Mutex
	minute time.Time
	byAddr map[string]*tally
}

// refuseUnauthenticated records the refusal of a request without a valid token, in aggregate.
func (t *Trail) refuseUnauthenticated(ctx context.Context, in *interaction) ([]string, error) {
	now := t.cfg.Now()
	minute := now.UTC().Truncate(time.Minute)
	addr := in.clientAddr
	u := &t.unauth
	u.mu.Lock()
	past := u.rotate(minute)
	if _, ok := u.byAddr[addr]; !ok && len(u.byAddr) >= maxAddresses {
		addr = otherAddresses
	}
	if tl, ok := u.byAddr[addr]; ok && tl.first != "" {
		tl.more++
		u.mu.Unlock()
		t.summarize(ctx, past)
		return []string{"AuditEvent/" + tl.first}, nil
	}
	tl := &tally{}
	u.byAddr[addr] = tl
	u.mu.Unlock()
	t.summarize(ctx, past)

	events := t.events(in)
	stored, err := t.store(ctx, events)
	if !stored {
		u.mu.Lock()
		if u.byAddr[addr] == tl {
			delete(u.byAddr, addr) // the next refusal is recorded at once again
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

// summary is the event counting the refusals of one address in one minute after the first.
func (t *Trail) summary(addr, minute string, tl *tally) Record {
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
