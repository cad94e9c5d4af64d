package audit

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

// firstAccessNotices returns the first-access notices the patient has.
func firstAccessNotices(t *testing.T, d *demo, patient string) []string {
	t.Helper()
	vs, err := d.svc.Engine().Find(context.Background(), "Communication", url.Values{
		"recipient": {patient}, "category": {NoticeTopicSystem + "|" + NoticeFirstAccess}})
	if err != nil {
		t.Fatal(err)
	}
	var about []string
	for _, v := range vs {
		about = append(about, string(v.Body))
	}
	return about
}

// storingTrail stores its events and keeps what it stored, each access a millisecond after the one before.
func storingTrail(t *testing.T, d *demo, clock time.Time, stored *[][]Record) *Trail {
	return newTrail(t, d, NewStoreSink(d.st, d.svc), func(c *Config) {
		c.Stored = func(r []Record) { *stored = append(*stored, r) }
		c.Now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	})
}

func settled(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// A professional's repeated accesses wait as one: with room for two, a hundred accesses to one record and
// one to another are all considered, and each patient gets exactly one notice, naming the first access.
func TestNoticePairWaitsOnce(t *testing.T) {
	d := newDemo(t)
	n := NewNotifier(NotifyConfig{Queue: 2}, d.svc, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { n.Close(context.Background()) })
	var stored [][]Record
	tr := storingTrail(t, d, time.Now(), &stored)
	house := practitioner("Practitioner/prac-house")
	for range 100 {
		if _, err := tr.Record(context.Background(), d.run(house, "GET", "Patient/pat-alice")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Record(context.Background(), d.run(house, "GET", "Patient/pat-chloe")); err != nil {
		t.Fatal(err)
	}
	// Hand the notifier everything at once, later accesses first, as concurrent requests may.
	for i := len(stored) - 1; i >= 0; i-- {
		n.Consider(stored[i])
	}
	settled(t, n)
	alice := firstAccessNotices(t, d, "Patient/pat-alice")
	if len(alice) != 1 || !strings.Contains(alice[0], "AuditEvent/"+stored[0][0].ID) {
		t.Fatalf("Alice's first-access notices %v, want one naming %s", alice, stored[0][0].ID)
	}
	if chloe := firstAccessNotices(t, d, "Patient/pat-chloe"); len(chloe) != 1 {
		t.Fatalf("Chloé's first-access notices: %v", chloe)
	}
}

// A first access whose notice was never written (a full queue dropped it) is told late, by the next
// access considered once the first can no longer be on its way; until then the notice is not duplicated.
func TestNoticeLateForAMissedFirstAccess(t *testing.T) {
	d := newDemo(t)
	now := time.Now()
	n := NewNotifier(NotifyConfig{Now: func() time.Time { return now }}, d.svc, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { n.Close(context.Background()) })
	var stored [][]Record
	tr := storingTrail(t, d, now, &stored)
	house := practitioner("Practitioner/prac-house")
	for range 2 {
		if _, err := tr.Record(context.Background(), d.run(house, "GET", "Patient/pat-alice")); err != nil {
			t.Fatal(err)
		}
	}
	// The first access never reaches the notifier; the second does while the first may be on its way.
	n.Consider(stored[1])
	settled(t, n)
	if got := firstAccessNotices(t, d, "Patient/pat-alice"); len(got) != 0 {
		t.Fatalf("a notice while the first access may still come: %v", got)
	}
	now = now.Add(lateAfter + time.Second)
	n.Consider(stored[1])
	settled(t, n)
	got := firstAccessNotices(t, d, "Patient/pat-alice")
	if len(got) != 1 || !strings.Contains(got[0], "AuditEvent/"+stored[0][0].ID) {
		t.Fatalf("late notices %v, want one naming the first access %s", got, stored[0][0].ID)
	}
	// The pair is known now: the first access arriving at last adds nothing.
	n.Consider(stored[0])
	settled(t, n)
	if got := firstAccessNotices(t, d, "Patient/pat-alice"); len(got) != 1 {
		t.Fatalf("%d notices", len(got))
	}
}
