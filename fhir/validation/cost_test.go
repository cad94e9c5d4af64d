package validation

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"fhirgate/fhir"
)

// The path a client's resource takes before anything is stored: the shape limits, the parse, the
// validation against R4. What it costs must grow with the body's size and no faster: a body that fits
// the limits must never buy more CPU per byte than an ordinary one does, whatever its shape.

var serverLimits = fhir.JSONLimits{MaxDepth: 64, MaxValues: 300_000}

// validatePath runs what a write does with a body before deciding on it.
func validatePath(v *Validator, body []byte) {
	if serverLimits.Check(body) != nil {
		return
	}
	if _, err := fhir.ParseResource(body); err != nil {
		return
	}
	_ = v.Validate(body)
}

// gen writes random FHIR-shaped JSON: mostly valid Patients of random shapes, sometimes with what the
// validator refuses (unknown elements, wrong types), up to about size bytes.
type gen struct {
	r     *rand.Rand
	b     strings.Builder
	left  int  // values still allowed
	noisy bool // whether elements the validator refuses are written too
}

func (g *gen) str() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 -"
	n := []int{1, 1, 2, 5, 12, 40, 300}[g.r.IntN(7)]
	var s strings.Builder
	for range n {
		s.WriteByte(letters[g.r.IntN(len(letters))])
	}
	return s.String()
}

func (g *gen) extension(depth int) {
	g.left -= 2
	fmt.Fprintf(&g.b, `{"url":"http://example.org/%s"`, g.str())
	if depth < 28 && g.r.IntN(3) == 0 {
		g.b.WriteString(`,"extension":[`)
		for i := range 1 + g.r.IntN(3) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.extension(depth + 1)
		}
		g.b.WriteString(`]}`)
		return
	}
	switch g.r.IntN(5) {
	case 0:
		fmt.Fprintf(&g.b, `,"valueString":%q}`, g.str())
	case 1:
		fmt.Fprintf(&g.b, `,"valueInteger":%d}`, g.r.IntN(1000))
	case 2:
		fmt.Fprintf(&g.b, `,"valueDecimal":%d.%d}`, g.r.IntN(1000), g.r.IntN(1000))
	case 3:
		fmt.Fprintf(&g.b, `,"valueCodeableConcept":{"coding":[{"system":"http://loinc.org","code":%q}],"text":%q}}`, g.str(), g.str())
	default:
		fmt.Fprintf(&g.b, `,"valueBoolean":%v}`, g.r.IntN(2) == 0)
	}
}

// element writes one repeated Patient element (name, identifier, telecom, address, extension), or
// something the validator refuses.
func (g *gen) element() {
	g.left -= 4
	n := 10
	if g.noisy {
		n = 12
	}
	switch g.r.IntN(n) {
	case 0, 1, 2:
		g.b.WriteString(`{"family":` + fmt.Sprintf("%q", g.str()) + `,"given":[`)
		for i := range 1 + g.r.IntN(40) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			fmt.Fprintf(&g.b, "%q", g.str())
			g.left--
		}
		g.b.WriteString(`]}`)
	case 3, 4:
		fmt.Fprintf(&g.b, `{"system":"urn:oid:1.2.%d","value":%q}`, g.r.IntN(100), g.str())
	case 5:
		fmt.Fprintf(&g.b, `{"system":"phone","value":%q,"use":"home"}`, g.str())
	case 6:
		g.b.WriteString(`{"line":[`)
		for i := range 1 + g.r.IntN(5) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			fmt.Fprintf(&g.b, "%q", g.str())
		}
		fmt.Fprintf(&g.b, `],"city":%q,"postalCode":%q}`, g.str(), g.str())
	case 7, 8, 9:
		g.extension(3)
	case 10:
		fmt.Fprintf(&g.b, `{"unknownElement":%q}`, g.str()) // refused
	default:
		fmt.Fprintf(&g.b, `{"family":%d}`, g.r.IntN(9)) // wrong type: refused
	}
}

// patient writes a Patient of about size bytes whose repeated elements are all of one kind.
func (g *gen) patient(size int) []byte {
	g.b.Reset()
	g.left = serverLimits.MaxValues - 10
	g.noisy = g.r.IntN(4) == 0
	kinds := []string{"name", "identifier", "telecom", "address", "extension"}
	kind := kinds[g.r.IntN(len(kinds))]
	fmt.Fprintf(&g.b, `{"resourceType":"Patient","id":"p-%d","gender":"female","%s":[`, g.r.IntN(1000), kind)
	for n := 0; g.b.Len() < size && g.left > 100; n++ {
		if n > 0 {
			g.b.WriteByte(',')
		}
		g.element()
	}
	g.b.WriteString(`]}`)
	return []byte(g.b.String())
}

// cost returns the least CPU time per byte of the validate path over a few runs of body: the time the
// goroutine's thread spent on it (locked to it meanwhile), not the wall clock, so that other work on the
// machine does not count.
func cost(v *Validator, body []byte) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Duration(1 << 62)
	for range 3 {
		start := threadCPU()
		validatePath(v, body)
		best = min(best, threadCPU()-start)
	}
	return float64(best.Nanoseconds()) / float64(len(body))
}

// threadCPU is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID, to the nanosecond); the wall
// clock where the system cannot tell.
func threadCPU() time.Duration {
	if runtime.GOOS == "linux" {
		var ts syscall.Timespec
		const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
		if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno == 0 {
			return time.Duration(ts.Nano())
		}
	}
	return time.Duration(time.Now().UnixNano())
}

// TestValidateCostPerByte: random bodies within the limits, from 16 KB to 1 MB, never cost more than a
// bounded time per byte on the validate path, and large bodies cost no more per byte than small ones of
// the same seed (no quadratic shape). The worst case found is logged.
func TestValidateCostPerByte(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the validate path on bodies up to 1 MB")
	}
	v, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	// A generous bound: ordinary resources cost well under 1 µs a byte on the machines this runs on.
	const boundNsPerByte = 20_000.0
	worst, worstDesc := 0.0, ""
	for seed := range uint64(24) {
		small := (&gen{r: rand.New(rand.NewPCG(seed, 1))}).patient(16 << 10)
		large := (&gen{r: rand.New(rand.NewPCG(seed, 1))}).patient(1 << 20)
		cs, cl := cost(v, small), cost(v, large)
		for _, c := range []struct {
			body []byte
			ns   float64
		}{{small, cs}, {large, cl}} {
			if c.ns > worst {
				worst, worstDesc = c.ns, fmt.Sprintf("seed %d, %d bytes, %.80s...", seed, len(c.body), c.body)
			}
			if c.ns > boundNsPerByte {
				t.Errorf("seed %d: %d bytes cost %.0f ns a byte (bound %.0f)", seed, len(c.body), c.ns, boundNsPerByte)
			}
		}
		// Same shapes, 64 times the size: at most a few times the cost per byte (caches and the
		// collector aside), never 64 times.
		if cl > 4*cs+200 {
			t.Errorf("seed %d: %.0f ns a byte at %d bytes but %.0f at %d: cost grows faster than size", seed, cl, len(large), cs, len(small))
		}
	}
	t.Logf("worst case: %.0f ns a byte (%s)", worst, worstDesc)
}

// FuzzValidatePath: whatever the body, the validate path answers (no panic, no hang).
func FuzzValidatePath(f *testing.F) {
	v, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	for seed := range uint64(4) {
		f.Add((&gen{r: rand.New(rand.NewPCG(seed, 2))}).patient(2 << 10))
	}
	f.Add([]byte(`{"resourceType":"Patient","extension":[{"url":"x","extension":[{"url":"y","valueInteger":1}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		validatePath(v, body)
	})
}

// BenchmarkValidatePath reports the validate path's cost per byte on bodies of one shape each.
func BenchmarkValidatePath(b *testing.B) {
	v, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		body string
	}{
		{"given-names", `{"resourceType":"Patient","name":[{"given":[` + strings.TrimSuffix(strings.Repeat(`"a",`, 290_000), ",") + `]}]}`},
		{"identifiers", `{"resourceType":"Patient","identifier":[` + strings.TrimSuffix(strings.Repeat(`{"system":"urn:x","value":"1"},`, 90_000), ",") + `]}`},
		{"nested-extensions", `{"resourceType":"Patient","extension":[` + strings.TrimSuffix(strings.Repeat(nestedExt(20)+",", 1000), ",") + `]}`},
	} {
		body := []byte(c.body)
		if err := serverLimits.Check(body); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				validatePath(v, body)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(body)), "ns/byte")
		})
	}
}

func nestedExt(levels int) string {
	s := `{"url":"http://example.org/leaf","valueString":"z"}`
	for range levels {
		s = `{"url":"http://example.org/x","extension":[` + s + `]}`
	}
	return s
}
