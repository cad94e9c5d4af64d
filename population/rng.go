package population

// rng is the generator's source of randomness: SplitMix64, written here rather than taken from
// math/rand so that the stream, and every helper drawing from it, can never change under a Go upgrade.
// All draws are integer arithmetic (no floating point, no transcendental functions), so the output is
// byte-identical on every architecture.
type rng struct{ s uint64 }

// Streams keep the draws of different parts of the population independent: adding a field to a patient
// does not move the practitioners, and patient i does not depend on patient i-1.
const (
	streamShared uint64 = iota + 1
	streamOrganization
	streamPractitioner
	streamPatient
)

// newRNG returns the generator of item i of a stream, for a seed.
func newRNG(seed int64, stream uint64, i int) *rng {
	r := rng{s: uint64(seed)}
	h := r.next() ^ stream*0x9e3779b97f4a7c15 ^ uint64(i)*0xd1b54a32d192ed03
	out := &rng{s: h}
	out.next()
	return out
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n); n > 0. The modulo bias (below 2^-40 for the small n used here) does
// not matter for synthetic data.
func (r *rng) intn(n int) int {
	return int(r.next() % uint64(n))
}

// between returns an integer in [lo, hi].
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

// around returns an integer near mid, within ±spread, more often close to mid (the mean of two uniform
// draws: a triangular distribution).
func (r *rng) around(mid, spread int) int {
	if spread <= 0 {
		return mid
	}
	a := r.between(-spread, spread)
	b := r.between(-spread, spread)
	return mid + (a+b)/2
}

// chance reports true with probability permille/1000.
func (r *rng) chance(permille int) bool {
	return r.intn(1000) < permille
}

// pick returns one element of list.
func pick[T any](r *rng, list []T) T {
	return list[r.intn(len(list))]
}

// weighted returns an index into weights, drawn in proportion to the weights.
func (r *rng) weighted(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.intn(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}
