package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

// deadlineAfter is a context whose deadline passes after it has been asked n times whether it has: the
// work observes its deadline at that point of its progress, deterministically.
type deadlineAfter struct {
	context.Context
	left  atomic.Int64
	asked atomic.Int64
}

func newDeadlineAfter(n int64) *deadlineAfter {
	c := &deadlineAfter{Context: context.Background()}
	c.left.Store(n)
	return c
}

func (c *deadlineAfter) Err() error {
	c.asked.Add(1)
	if c.left.Add(-1) < 0 {
		return context.DeadlineExceeded
	}
	return nil
}

func limitService(t *testing.T, cfg rest.Config) *rest.Service {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = "http://localhost:8080/fhir"
	svc, err := rest.New(cfg, st, v)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func bundleOf(kind string, n int, entry func(i int) string) []byte {
	entries := make([]string, n)
	for i := range entries {
		entries[i] = entry(i)
	}
	return []byte(`{"resourceType":"Bundle","type":"` + kind + `","entry":[` + strings.Join(entries, ",") + `]}`)
}

func basicEntry(i int) string {
	return fmt.Sprintf(`{"resource":{"resourceType":"Basic","id":"b%d","code":{"text":"x"}},"request":{"method":"PUT","url":"Basic/b%d"}}`, i, i)
}

// TestDeadlineStopsTheWork: a search and a transaction observe their deadline as they go, and stop;
// the transaction writes nothing; a batch answers the entries that ran and does not run the others.
func TestDeadlineStopsTheWork(t *testing.T) {
	svc := limitService(t, rest.Config{})
	ctx := context.Background()
	if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: bundleOf("transaction", 1000, basicEntry)}); err != nil {
		t.Fatal(err)
	}
	changes := func() uint64 {
		n, err := svc.Store().Changes(ctx, "Basic")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("search", func(t *testing.T) {
		search := &rest.Request{Interaction: rest.SearchType, Type: "Basic", Params: map[string][]string{"code:text": {"x"}, "_count": {"5"}}}
		if _, err := svc.Do(ctx, rest.AllowAll{}, search); err != nil {
			t.Fatalf("with time: %v", err)
		}
		c := newDeadlineAfter(3)
		_, err := svc.Do(c, rest.AllowAll{}, search)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("past its deadline, the search answered %v", err)
		}
		if c.asked.Load() != 4 {
			t.Fatalf("the search asked %d times, and went on after its deadline passed", c.asked.Load())
		}
	})
	t.Run("transaction", func(t *testing.T) {
		before := changes()
		tx := bundleOf("transaction", 200, func(i int) string { return basicEntry(2000 + i) })
		c := newDeadlineAfter(50)
		if _, err := svc.Do(c, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: tx}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("past its deadline, the transaction answered %v", err)
		}
		if changes() != before {
			t.Fatal("a transaction stopped by its deadline wrote")
		}
	})
	t.Run("batch", func(t *testing.T) {
		before := changes()
		batch := bundleOf("batch", 20, func(i int) string { return basicEntry(3000 + i) })
		c := newDeadlineAfter(20)
		resp, err := svc.Do(c, rest.AllowAll{}, &rest.Request{Interaction: rest.Batch, Body: batch})
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct{ Response struct{ Status string } }
		}
		mustUnmarshal(t, resp.Body, &b)
		ran, stopped := 0, 0
		for i, e := range b.Entry {
			switch {
			case strings.HasPrefix(e.Response.Status, "201"):
				if stopped > 0 {
					t.Fatalf("entry %d ran after one was stopped", i)
				}
				ran++
			case strings.HasPrefix(e.Response.Status, "503"):
				stopped++
			default:
				t.Fatalf("entry %d: %s", i, e.Response.Status)
			}
		}
		if ran == 0 || stopped == 0 {
			t.Fatalf("%d ran, %d stopped: the deadline fell outside the batch", ran, stopped)
		}
		if got := changes() - before; got != uint64(ran) {
			t.Fatalf("%d entries answered 201, %d written", ran, got)
		}
	})
}

// TestCountCapped: a page larger than the maximum is capped, and the self link says so.
func TestCountCapped(t *testing.T) {
	svc := limitService(t, rest.Config{MaxCount: 7})
	ctx := context.Background()
	if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: bundleOf("transaction", 10, basicEntry)}); err != nil {
		t.Fatal(err)
	}
	for _, count := range []string{"8", "100000000", "18446744073709551616"} {
		resp, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.SearchType, Type: "Basic", Params: map[string][]string{"_count": {count}}})
		if err != nil {
			t.Fatalf("_count=%s: %v", count, err)
		}
		var b struct {
			Link  []struct{ Relation, URL string }
			Entry []json.RawMessage
		}
		mustUnmarshal(t, resp.Body, &b)
		if len(b.Entry) != 7 || !strings.Contains(b.Link[0].URL, "_count=7") {
			t.Fatalf("_count=%s: %d entries, self %s", count, len(b.Entry), b.Link[0].URL)
		}
	}
}
