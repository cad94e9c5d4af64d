package validation

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// checkPrimitive checks a primitive value v of FHIR type typ, returning a reason when it is not valid.
// The JSON forms are those of json.html: booleans are JSON booleans, integers and decimals JSON numbers,
// everything else a JSON string, and a string is never empty.
func checkPrimitive(typ string, v any) string {
	switch typ {
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "a boolean must be true or false" + found(v)
		}
		return ""
	case "integer", "positiveInt", "unsignedInt":
		n, ok := v.(json.Number)
		if !ok {
			return "an " + typ + " must be a JSON number" + found(v)
		}
		i, err := strconv.ParseInt(string(n), 10, 32)
		if err != nil {
			if strings.ContainsAny(string(n), ".eE") {
				return "an " + typ + " must be a whole number"
			}
			return "an " + typ + " must be within the 32-bit signed range"
		}
		if typ == "positiveInt" && i < 1 {
			return "a positiveInt must be 1 or more"
		}
		if typ == "unsignedInt" && i < 0 {
			return "an unsignedInt must be 0 or more"
		}
		return ""
	case "decimal":
		// The decoder accepts only JSON's number grammar, which is R4's decimal grammar.
		if _, ok := v.(json.Number); !ok {
			return "a decimal must be a JSON number" + found(v)
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return "a " + typ + " must be a JSON string" + found(v)
	}
	if s == "" {
		return "a string SHALL NOT be empty (json.html): leave the element out instead"
	}
	if ok, known := fastPrimitive(typ, s); known {
		if !ok {
			return formatReason(typ)
		}
		return ""
	}
	if re := primitiveRegexp(typ); re != nil && !re.MatchString(s) {
		return formatReason(typ)
	}
	return ""
}

func formatReason(typ string) string {
	switch typ {
	case "date", "dateTime", "instant", "time":
		return "not a valid " + typ + " (the format of R4's " + typ + " type, and a real calendar date)"
	}
	return "not a valid " + typ + " (the format of R4's " + typ + " type)"
}

// found describes the JSON kind of a value of the wrong kind.
func found(v any) string {
	switch v.(type) {
	case nil:
		return ", not null"
	case bool:
		return ", not a boolean"
	case json.Number:
		return ", not a number"
	case string:
		return ", not a string"
	case map[string]any:
		return ", not an object"
	case []any:
		return ", not an array"
	}
	return ""
}

// fastPrimitive checks the common types without a regular expression; known is false for the types it
// leaves to the regular expression of the type. The results agree with the type's regular expression
// (TestFastPrimitiveAgreesWithRegex), plus a calendar check for dates.
func fastPrimitive(typ, s string) (ok, known bool) {
	switch typ {
	case "string", "markdown", "xhtml":
		// R4's string regex ([ \r\n\t\S]+) refuses no character Go sees but form feed.
		return strings.IndexByte(s, '\f') < 0, true
	case "code":
		return isCode(s), true
	case "id":
		return isID(s), true
	case "uri", "url", "canonical":
		// \S*: no whitespace.
		return !strings.ContainsAny(s, " \t\n\r\f"), true
	case "date":
		return isDateTime(s, false, false), true
	case "dateTime":
		return isDateTime(s, true, false), true
	case "instant":
		return isDateTime(s, true, true), true
	case "base64Binary":
		return isBase64(s), true
	}
	return false, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// isCode matches [^\s]+(\s[^\s]+)*: no leading, trailing or doubled whitespace.
func isCode(s string) bool {
	if s == "" || isSpace(s[0]) || isSpace(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if isSpace(s[i]) && isSpace(s[i-1]) {
			return false
		}
	}
	return true
}

// isID matches [A-Za-z0-9\-\.]{1,64}.
func isID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isDateTime checks a date (YYYY, YYYY-MM, YYYY-MM-DD), with time a dateTime (a date, or a full date with
// hh:mm:ss[.f+] and a zone) and with instant an instant (the full form only).
func isDateTime(s string, withTime, instant bool) bool {
	p := 0
	digits := func(n int) (int, bool) {
		if len(s)-p < n {
			return 0, false
		}
		v := 0
		for i := 0; i < n; i++ {
			c := s[p+i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		p += n
		return v, true
	}
	year, ok := digits(4)
	if !ok || year == 0 {
		return false
	}
	if p == len(s) {
		return !instant
	}
	if s[p] != '-' {
		return false
	}
	p++
	month, ok := digits(2)
	if !ok || month < 1 || month > 12 {
		return false
	}
	if p == len(s) {
		return !instant
	}
	if s[p] != '-' {
		return false
	}
	p++
	day, ok := digits(2)
	if !ok || day < 1 || day > daysIn(year, month) {
		return false
	}
	if p == len(s) {
		return !instant
	}
	if !withTime || s[p] != 'T' {
		return false
	}
	p++
	if !isClock(s, &p) {
		return false
	}
	if p == len(s) {
		return false // a time needs a zone
	}
	switch s[p] {
	case 'Z':
		p++
	case '+', '-':
		p++
		h, ok := digits(2)
		if !ok || p >= len(s) || s[p] != ':' {
			return false
		}
		p++
		m, ok := digits(2)
		if !ok || m > 59 || h > 14 || (h == 14 && m != 0) {
			return false
		}
	default:
		return false
	}
	return p == len(s)
}

// isClock reads hh:mm:ss[.f+] at *p.
func isClock(s string, p *int) bool {
	two := func() (int, bool) {
		if len(s)-*p < 2 || s[*p] < '0' || s[*p] > '9' || s[*p+1] < '0' || s[*p+1] > '9' {
			return 0, false
		}
		v := int(s[*p]-'0')*10 + int(s[*p+1]-'0')
		*p += 2
		return v, true
	}
	h, ok := two()
	if !ok || h > 23 || *p >= len(s) || s[*p] != ':' {
		return false
	}
	*p++
	m, ok := two()
	if !ok || m > 59 || *p >= len(s) || s[*p] != ':' {
		return false
	}
	*p++
	sec, ok := two()
	if !ok || sec > 60 {
		return false
	}
	if *p < len(s) && s[*p] == '.' {
		*p++
		start := *p
		for *p < len(s) && s[*p] >= '0' && s[*p] <= '9' {
			*p++
		}
		if *p == start {
			return false
		}
	}
	return true
}

func daysIn(year, month int) int {
	switch month {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// isBase64 matches (\s*([0-9a-zA-Z\+/=]){4}\s*)+ : groups of four base64 characters, whitespace between
// groups allowed.
func isBase64(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			n++
		case isSpace(c):
			if n%4 != 0 {
				return false
			}
		default:
			return false
		}
	}
	return n > 0 && n%4 == 0
}

var (
	regexOnce  sync.Once
	regexTable map[string]*regexp.Regexp
)

// primitiveRegexp returns the compiled, anchored regular expression of a primitive type, or nil.
func primitiveRegexp(typ string) *regexp.Regexp {
	regexOnce.Do(func() {
		regexTable = map[string]*regexp.Regexp{}
		for t, re := range primitiveRegex {
			if c, err := regexp.Compile(`^(?:` + re + `)$`); err == nil {
				regexTable[t] = c
			}
		}
	})
	return regexTable[typ]
}
