package validation

import (
	"strings"
	"testing"
)

// primitiveSamples are values around the edges of the primitive formats.
var primitiveSamples = []string{
	"", "a", " a", "a ", "a  b", "a b", "a\tb", "a\fb", "a\nb", "\n", "ab\u00e9", "x\u000b",
	"0000", "0001", "2020", "2020-", "2020-1", "2020-01", "2020-13", "2020-00", "2020-01-01", "2020-02-29",
	"2021-02-29", "1900-02-29", "2000-02-29", "2020-04-31", "2020-01-01T", "2020-01-01T10:00",
	"2020-01-01T10:00:00", "2020-01-01T10:00:00Z", "2020-01-01T10:00:00.123+01:00", "2020-01-01T24:00:00Z",
	"2020-01-01T23:59:60Z", "2020-01-01T10:00:00+14:00", "2020-01-01T10:00:00+14:01", "2020-01-01T10:00:00-13:59",
	"2020-01-01T10:00:00.Z", "2020-01-01t10:00:00Z", "20200101", "-2020",
	"aGVsbG8=", "aGVs bG8=", "aGV sbG8=", "aGVsbG8", "====", " aGVs", "aGVs\n", "a+/=",
	"abc-DEF.09", strings.Repeat("a", 64), strings.Repeat("a", 65), "a_b", "a/b",
	"http://x", "http://x y", "urn:uuid:", "urn:oid:1.2.3",
}

// TestFastPrimitiveAgreesWithRegex: the hand-written checks of the common types accept exactly what the
// type's regular expression accepts, the dates besides being real calendar dates.
func TestFastPrimitiveAgreesWithRegex(t *testing.T) {
	for _, typ := range []string{"string", "markdown", "code", "id", "uri", "url", "canonical", "date", "dateTime", "instant", "base64Binary"} {
		re := primitiveRegexp(typ)
		if re == nil {
			t.Fatalf("no regex for %s", typ)
		}
		for _, s := range primitiveSamples {
			if s == "" {
				continue // refused before any format check: strings are never empty
			}
			fast, known := fastPrimitive(typ, s)
			if !known {
				t.Fatalf("%s: no fast check", typ)
			}
			want := re.MatchString(s)
			if want && (typ == "date" || typ == "dateTime" || typ == "instant") && len(s) >= 10 {
				want = calendarDate(s[:10])
			}
			if fast != want {
				t.Errorf("%s %q: fast check %v, regex %v", typ, s, fast, want)
			}
		}
	}
}

func calendarDate(s string) bool {
	y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	m := int(s[5]-'0')*10 + int(s[6]-'0')
	d := int(s[8]-'0')*10 + int(s[9]-'0')
	return d <= daysIn(y, m)
}

// FuzzFastPrimitive: on any string, the fast checks agree with the regular expressions.
func FuzzFastPrimitive(f *testing.F) {
	for _, s := range primitiveSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		for _, typ := range []string{"string", "code", "id", "uri", "date", "dateTime", "instant", "base64Binary"} {
			fast, _ := fastPrimitive(typ, s)
			want := primitiveRegexp(typ).MatchString(s)
			if want && (typ == "date" || typ == "dateTime" || typ == "instant") && len(s) >= 10 {
				want = calendarDate(s[:10])
			}
			if fast != want {
				t.Fatalf("%s %q: fast check %v, regex %v", typ, s, fast, want)
			}
		}
	})
}
