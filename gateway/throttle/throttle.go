// Package throttle bounds what each client may ask of the server at once, so that one application cannot
// starve the others: a token bucket of requests per second and a cap on the requests in flight, per key
// (a client and its user). The state lives in the memory of one process: behind a load balancer, each
// process enforces its own share.
package throttle

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Config sets the limits of every key.
type Config struct {
	// Rate is the sustained number of requests per second a key may make (0: no rate limit), and Burst
	// the number it may make at once after a pause (at least 1).
	Rate  float64
	Burst int
	// MaxInFlight is the number of requests a key may have in progress at once (0: no cap).
	MaxInFlight int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Limiter applies the limits. It is safe for concurrent use.
type Limiter struct {
	cfg    Config
	seed   maphash.Seed
	shards [64]shard
}

type shard struct {
	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens   float64
	last     time.Time
	inFlight int
}

// New returns a limiter.
func New(cfg Config) *Limiter {
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].keys = map[string]*bucket{}
	}
	return l
}

// Reason says which limit refused a request.
type Reason int

// The reasons.
const (
	Allowed  Reason = iota
	Rate            // beyond the requests per second
	InFlight        // beyond the requests in progress
)

// Ticket is an admitted request; Done must be called when it ends.
type Ticket struct {
	s *shard
	b *bucket
}

// Done ends the request.
func (t Ticket) Done() {
	if t.b == nil {
		return
	}
	t.s.mu.Lock()
	t.b.inFlight--
	t.s.mu.Unlock()
}

// Acquire admits one request of key, or says which limit refuses it and how long to wait before a retry
// may be admitted.
func (l *Limiter) Acquire(key string) (Ticket, Reason, time.Duration) {
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	now := l.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) > time.Minute {
		s.sweep(now, l.cfg)
	}
	b := s.keys[key]
	if b == nil {
		b = &bucket{tokens: float64(l.cfg.Burst), last: now}
		s.keys[key] = b
	}
	if l.cfg.MaxInFlight > 0 && b.inFlight >= l.cfg.MaxInFlight {
		return Ticket{}, InFlight, time.Second
	}
	if l.cfg.Rate > 0 {
		b.tokens = math.Min(float64(l.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*l.cfg.Rate)
		b.last = now
		if b.tokens < 1 {
			return Ticket{}, Rate, time.Duration((1 - b.tokens) / l.cfg.Rate * float64(time.Second))
		}
		b.tokens--
	}
	b.inFlight++
	return Ticket{s: s, b: b}, Allowed, 0
}

// sweep forgets the keys that are idle and whose bucket has refilled: they are as a new key would be.
func (s *shard) sweep(now time.Time, cfg Config) {
	s.lastSweep = now
	for k, b := range s.keys {
		full := cfg.Rate <= 0 || b.tokens+now.Sub(b.last).Seconds()*cfg.Rate >= float64(cfg.Burst)
		if b.inFlight == 0 && full {
			delete(s.keys, k)
		}
	}
}

// Keys returns the number of keys the limiter holds (for tests and metrics).
func (l *Limiter) Keys() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}
