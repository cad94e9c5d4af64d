package search

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Index value kinds: the first byte of every index value says what the rest is. One parameter may have
// entries of several kinds (a token has its code alone, its system|code, its text...).
const (
	kCode    = 'c' // token: code (any system)
	kSysCode = 's' // token: system|code
	kNoSys   = 'n' // token: code without a system
	kSystem  = 'S' // token: system (system|)
	kText    = 't' // token: normalized display / text (:text)
	kOfType  = 'o' // token: identifier type-system|type-code|value (:of-type)

	kString = 'p' // string: normalized (starts-with, :contains)
	kExact  = 'x' // string: as written (:exact)

	kRef       = 'r' // reference: Type/id
	kRefID     = 'i' // reference: id alone
	kURL       = 'u' // reference or uri: absolute URL, canonical or uri as written
	kRefIdent  = 'I' // reference: identifier system|value
	kRefIdentV = 'J' // reference: identifier value

	kLow  = 'L' // date or number: low bound, then high bound (ordered by low)
	kHigh = 'H' // date or number: high bound, then low bound (ordered by high)

	kQLow  = 'Q' // quantity: unit key 00 low high
	kQHigh = 'R' // quantity: unit key 00 high low

	kComposite = 'K' // composite: component keys joined by 00

	kGeo = 'G' // special near: latitude, longitude
)

// normalize folds a string for string search: lower case, accents removed, spaces collapsed.
func normalize(s string) string {
	if isASCII(s) {
		return foldASCII(s) // decomposition and composition leave ASCII as it is, without marks
	}
	t := accentFolders.Get().(transform.Transformer)
	out, _, err := transform.String(t, s) // resets t first
	accentFolders.Put(t)
	if err != nil {
		out = s
	}
	return strings.Join(strings.Fields(strings.ToLower(out)), " ")
}

// accentFolders pools the transformers that remove accents (decompose, drop the nonspacing marks,
// recompose): building one allocates large buffers, and a transformer is not safe for concurrent use.
var accentFolders = sync.Pool{New: func() any {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldASCII lower-cases an ASCII string and collapses its runs of white space (as strings.Fields
// sees it) into single spaces, trimming both ends: what normalize does to ASCII, in one pass. It
// returns s itself when s is already folded.
func foldASCII(s string) string {
	if asciiFolded(s) {
		return s
	}
	return string(appendFoldASCII(make([]byte, 0, len(s)), s))
}

// normalizedKey returns key(kind, normalize(s)), building it in one allocation for ASCII strings.
func normalizedKey(kind byte, s string) []byte {
	if isASCII(s) {
		return appendFoldASCII(append(make([]byte, 0, 1+len(s)), kind), s)
	}
	return key(kind, normalize(s))
}

// appendFoldASCII appends to b the fold of an ASCII string (see foldASCII).
func appendFoldASCII(b []byte, s string) []byte {
	start := len(b)
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if asciiSpace(c) {
			space = len(b) > start
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// asciiFolded reports whether an ASCII string has no upper-case letter, no white space other than
// single inner spaces, and so is its own fold.
func asciiFolded(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			return false
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i+1] == ' ' {
				return false
			}
		case asciiSpace(c):
			return false
		}
	}
	return true
}

// asciiSpace reports the ASCII white space of strings.Fields.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func key(kind byte, parts ...string) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, kind)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Order-preserving encodings of instants (ms) and numbers.

func encTime(ms int64) []byte { return appendTime(nil, ms) }

// appendTime appends the order-preserving encoding of an instant (ms) to b.
func appendTime(b []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(ms)^(1<<63))
}

func decTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func encFloat(f float64) []byte { return appendFloat(nil, f) }

// appendFloat appends the order-preserving encoding of a number to b.
func appendFloat(b []byte, f float64) []byte {
	bits := math.Float64bits(f)
	if f < 0 || (f == 0 && math.Signbit(f)) {
		bits = ^bits
	} else {
		bits |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(b, bits)
}

func decFloat(b []byte) float64 {
	bits := binary.BigEndian.Uint64(b)
	if bits&(1<<63) != 0 {
		bits &^= 1 << 63
	} else {
		bits = ^bits
	}
	return math.Float64frombits(bits)
}

// appendRangeKeys appends the two entries of a [lo, hi] range, with enc the encoding of its bounds
// (appendTime or appendFloat): ordered by low, then ordered by high.
func appendRangeKeys[T any](keys [][]byte, enc func([]byte, T) []byte, lo, hi T) [][]byte {
	l := enc(enc(append(make([]byte, 0, 17), kLow), lo), hi)
	h := enc(enc(append(make([]byte, 0, 17), kHigh), hi), lo)
	return append(keys, l, h)
}

// Time ranges are inclusive, in milliseconds.
const (
	minTime = math.MinInt64 / 2
	maxTime = math.MaxInt64 / 2
)

var dateRE = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// dateRange parses a FHIR date, dateTime or instant into the range of instants it covers, in ms:
// "2013" is the whole year, "2013-01-14" the whole day, "2013-01-14T10:00:00Z" that second. A time
// without zone is taken as UTC.
func dateRange(s string) (lo, hi int64, err error) {
	m := dateRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("%q is not a date, dateTime or instant", s)
	}
	atoi := func(x string, def int) int {
		if x == "" {
			return def
		}
		n, _ := strconv.Atoi(x)
		return n
	}
	year, month, day := atoi(m[1], 0), atoi(m[2], 1), atoi(m[3], 1)
	hour, minute, sec := atoi(m[4], 0), atoi(m[5], 0), atoi(m[6], 0)
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, 0, fmt.Errorf("%q is not a valid date", s)
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		h, _ := strconv.Atoi(z[1:3])
		mi, _ := strconv.Atoi(z[4:6])
		off := (h*60 + mi) * 60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone(z, off)
	}
	nanos := 0
	fracDigits := 0
	if f := m[7]; f != "" {
		fracDigits = len(f) - 1
		frac, _ := strconv.ParseFloat("0"+f, 64)
		nanos = int(frac * 1e9)
	}
	start := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if start.Day() != day {
		return 0, 0, fmt.Errorf("%q is not a valid date", s)
	}
	var end time.Time
	switch {
	case m[2] == "":
		end = start.AddDate(1, 0, 0)
	case m[3] == "":
		end = start.AddDate(0, 1, 0)
	case m[4] == "":
		end = start.AddDate(0, 0, 1)
	case m[6] == "":
		end = start.Add(time.Minute)
	case fracDigits == 0:
		end = start.Add(time.Second)
	default:
		step := time.Duration(math.Pow10(9 - min(fracDigits, 9)))
		end = start.Add(max(step, time.Millisecond))
	}
	return start.UnixMilli(), end.UnixMilli() - 1, nil
}

// numberRange returns the range a search number stands for, by its precision: "100" is [99.5, 100.5),
// "100.00" is [99.995, 100.005), "1e2" is [95, 105). The high bound is exclusive.
func numberRange(s string) (v, lo, hi float64, err error) {
	v, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, 0, 0, fmt.Errorf("%q is not a number", s)
	}
	mant := strings.ToLower(s)
	exp := 0
	if i := strings.IndexByte(mant, 'e'); i >= 0 {
		exp, _ = strconv.Atoi(mant[i+1:])
		mant = mant[:i]
	}
	mant = strings.TrimLeft(mant, "+-")
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	half := 0.5 * math.Pow10(exp-decimals)
	// With more significant digits than a float64 holds ("66.899999999999991", in an R4 example), v+half
	// rounds to v: the range must still hold the value itself.
	return v, v - half, max(v+half, math.Nextafter(v, math.Inf(1))), nil
}

// decimalValue parses a stored decimal exactly enough for comparisons.
func decimalValue(s string) (float64, bool) {
	f, _, err := big.ParseFloat(s, 10, 64, big.ToNearestEven)
	if err != nil {
		return 0, false
	}
	v, _ := f.Float64()
	return v, true
}

// DateRange returns the instants (ms, inclusive) a FHIR date, dateTime or instant covers.
func DateRange(s string) (lo, hi int64, err error) { return dateRange(s) }
