package fhirpath

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// decimal is a JSON number normalised for exact comparison: value = (-1 if neg) × 0.digits × 10^exp,
// with digits free of leading and trailing zeros (empty digits means zero).
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

const maxExp = 1 << 40 // exponents are clamped here so that huge ones cannot overflow

// parseDecimal normalises the text of a JSON number. It never allocates more than the input size and
// accepts only the JSON number grammar.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	if intPart == "" {
		return d, false
	}
	fracPart := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracPart = s[fs:i]
		if fracPart == "" {
			return d, false
		}
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < maxExp {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if es == i {
			return d, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return d, false
	}
	all := intPart + fracPart
	exp += int64(len(intPart))
	lead := 0
	for lead < len(all) && all[lead] == '0' {
		lead++
	}
	all = all[lead:]
	exp -= int64(lead)
	all = strings.TrimRight(all, "0")
	if all == "" {
		return decimal{}, true
	}
	d.digits = all
	d.exp = exp
	return d, true
}

// cmpDecimal compares two normalised decimals: -1, 0 or +1.
func cmpDecimal(a, b decimal) int {
	az, bz := a.digits == "", b.digits == ""
	switch {
	case az && bz:
		return 0
	case az:
		if b.neg {
			return 1
		}
		return -1
	case bz:
		if a.neg {
			return -1
		}
		return 1
	}
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := 0
	switch {
	case a.exp != b.exp:
		if a.exp < b.exp {
			c = -1
		} else {
			c = 1
		}
	default:
		c = strings.Compare(a.digits, b.digits) // no trailing zeros, so lexical order is numeric order
	}
	if a.neg {
		c = -c
	}
	return c
}

// numberText returns the JSON text of a numeric value, or false when v is not a number.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		if math.IsInf(n, 0) || math.IsNaN(n) {
			return "", false
		}
		return strconv.FormatFloat(n, 'g', -1, 64), true
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

func asDecimal(v any) (decimal, bool) {
	s, ok := numberText(v)
	if !ok {
		return decimal{}, false
	}
	return parseDecimal(s)
}

// isIntegerText reports whether a JSON number has no fraction or exponent.
func isIntegerText(s string) bool {
	return !strings.ContainsAny(s, ".eE")
}

// EqualJSON reports whether two decoded JSON values (json.Number for numbers) are equal as FHIRPath's =
// has them: strings and booleans exactly, numbers by decimal value, objects member by member and arrays
// item by item. Profiles compare fixed and pattern values with it.
func EqualJSON(a, b any) bool { return equalValues(a, b) }

// equalValues compares two JSON values for FHIRPath equality: strings and booleans exactly, numbers by
// value, objects member by member and arrays item by item.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalValues(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	da, ok := asDecimal(a)
	if !ok {
		return false
	}
	db, ok := asDecimal(b)
	return ok && cmpDecimal(da, db) == 0
}

// equivalentValues implements ~: strings ignore case and collapse white space; objects and arrays
// compare member-wise with equivalence.
func equivalentValues(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && normalizeSpace(x) == normalizeSpace(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equivalentValues(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equivalentValues(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return equalValues(a, b)
}

func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
