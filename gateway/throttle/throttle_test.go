package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestRateIsPerKey(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Config{Rate: 10, Burst: 5, Now: c.now})
	for i := range 5 {
		tk, r, _ := l.Acquire("a")
		if r != Allowed {
			t.Fatalf("request %d of the burst refused: %v", i+1, r)
		}
		tk.Done()
	}
	_, r, wait := l.Acquire("a")
	if r != Rate || wait != 100*time.Millisecond {
		t.Fatalf("the 6th request at once: %v, retry after %v; want Rate, 100ms", r, wait)
	}
	// Another key is not touched by a's spending.
	if tk, r, _ := l.Acquire("b"); r != Allowed {
		t.Fatalf("b refused while a is over its budget: %v", r)
	} else {
		tk.Done()
	}
	// The bucket refills at the rate.
	c.advance(100 * time.Millisecond)
	if tk, r, _ := l.Acquire("a"); r != Allowed {
		t.Fatalf("a refused after 100ms at 10/s: %v", r)
	} else {
		tk.Done()
	}
	if _, r, _ := l.Acquire("a"); r != Rate {
		t.Fatalf("a admitted twice after 100ms at 10/s")
	}
	// Never more than the burst, however long the pause.
	c.advance(time.Hour)
	admitted := 0
	for range 20 {
		if tk, r, _ := l.Acquire("a"); r == Allowed {
			admitted++
			tk.Done()
		}
	}
	if admitted != 5 {
		t.Fatalf("%d admitted after an hour's pause; the burst is 5", admitted)
	}
}

func TestInFlightIsPerKey(t *testing.T) {
	l := New(Config{MaxInFlight: 2})
	t1, r1, _ := l.Acquire("a")
	t2, r2, _ := l.Acquire("a")
	if r1 != Allowed || r2 != Allowed {
		t.Fatalf("two in flight: %v %v", r1, r2)
	}
	if _, r, wait := l.Acquire("a"); r != InFlight || wait <= 0 {
		t.Fatalf("a third in flight: %v (retry after %v)", r, wait)
	}
	if tk, r, _ := l.Acquire("b"); r != Allowed {
		t.Fatalf("b refused while a is at its cap: %v", r)
	} else {
		tk.Done()
	}
	t1.Done()
	if tk, r, _ := l.Acquire("a"); r != Allowed {
		t.Fatalf("a refused after one ended: %v", r)
	} else {
		tk.Done()
	}
	t2.Done()
	Ticket{}.Done() // a refused request's ticket ends harmlessly
}

func TestIdleKeysAreForgotten(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Config{Rate: 100, Burst: 10, MaxInFlight: 4, Now: c.now})
	held, _, _ := l.Acquire("busy")
	for i := range 1000 {
		tk, _, _ := l.Acquire(fmt.Sprint("client-", i))
		tk.Done()
	}
	if n := l.Keys(); n != 1001 {
		t.Fatalf("%d keys", n)
	}
	c.advance(2 * time.Minute)
	for i := range 200 { // each shard sweeps on its next use after a minute
		tk, _, _ := l.Acquire(fmt.Sprint("late-", i))
		tk.Done()
	}
	c.advance(2 * time.Minute)
	for i := range 200 {
		tk, _, _ := l.Acquire(fmt.Sprint("later-", i))
		tk.Done()
	}
	// (A shard sweeps when it is next used, so a few keys of shards no late client hashed to stay a while.)
	if n := l.Keys(); n > 1+200+200+50 {
		t.Fatalf("%d keys kept after the 1,000 idle ones refilled", n)
	}
	// The key with a request in flight is kept, and its count with it.
	for range 3 {
		if _, r, _ := l.Acquire("busy"); r != Allowed {
			t.Fatalf("busy refused below its cap: %v", r)
		}
	}
	if _, r, _ := l.Acquire("busy"); r != InFlight {
		t.Fatalf("busy's request in flight was forgotten: %v", r)
	}
	held.Done()
}

func TestConcurrentUse(t *testing.T) {
	l := New(Config{MaxInFlight: 8}) // (no rate: what is checked is that every ticket comes back)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				tk, r, _ := l.Acquire(fmt.Sprint("k", g%4))
				if r == Allowed {
					tk.Done()
				}
			}
		}()
	}
	wg.Wait()
	for g := range 4 {
		for range 8 { // every ticket was given back: the full cap is free again
			if _, r, _ := l.Acquire(fmt.Sprint("k", g)); r != Allowed {
				t.Fatalf("k%d: %v after every request ended", g, r)
			}
		}
	}
}

func BenchmarkAcquire(b *testing.B) {
	l := New(Config{Rate: 1e9, Burst: 1 << 30, MaxInFlight: 1 << 20})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, _, _ := l.Acquire("fhirgate-bench user-1")
			tk.Done()
		}
	})
}
