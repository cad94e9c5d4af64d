package fhirpath

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Precisions of a partial date/time, from the coarsest. Seconds and milliseconds form one precision
// for comparison, as the specification says.
const (
	precYear = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
)

// moment is a partial date, date/time or time, as FHIRPath compares it.
type moment struct {
	prec    int  // the finest component present (precYear..precSecond); a time starts at precHour
	hasDate bool // false for a time of day
	year, month, day,
	hour, minute, second, nano int
	msDigits int  // digits of the fractional seconds written (0 for none)
	tz       bool // a time zone was given
	offset   int  // the zone's offset east of UTC, in minutes
}

// parseDate parses YYYY, YYYY-MM or YYYY-MM-DD.
func parseDate(s string) (moment, bool) {
	m := moment{hasDate: true}
	parts := strings.Split(s, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return m, false
	}
	bounds := [][2]int{{0, 9999}, {1, 12}, {1, 31}}
	vals := []*int{&m.year, &m.month, &m.day}
	for i, p := range parts {
		if (i > 0 && len(p) != 2) || !isDigits(p) {
			return m, false
		}
		v, _ := strconv.Atoi(p)
		if v < bounds[i][0] || v > bounds[i][1] {
			return m, false
		}
		*vals[i] = v
	}
	m.prec = len(parts)
	if m.month == 0 {
		m.month = 1
	}
	if m.day == 0 {
		m.day = 1
	}
	return m, true
}

// parseTime parses HH[:MM[:SS[.fff]]] with an optional zone (Z, +hh:mm, -hh:mm).
func parseTime(s string) (moment, bool) {
	var m moment
	if i := strings.IndexAny(s, "Z+-"); i >= 0 {
		zone := s[i:]
		s = s[:i]
		if zone == "Z" {
			m.tz = true
		} else {
			if len(zone) != 6 || zone[3] != ':' || !isDigits(zone[1:3]) || !isDigits(zone[4:]) {
				return m, false
			}
			h, _ := strconv.Atoi(zone[1:3])
			mi, _ := strconv.Atoi(zone[4:])
			m.tz, m.offset = true, h*60+mi
			if zone[0] == '-' {
				m.offset = -m.offset
			}
		}
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i+1:]
		if !isDigits(frac) {
			return m, false
		}
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return m, false
	}
	bounds := []int{23, 59, 59}
	vals := []*int{&m.hour, &m.minute, &m.second}
	for i, p := range parts {
		if len(p) != 2 || !isDigits(p) {
			return m, false
		}
		v, _ := strconv.Atoi(p)
		if v > bounds[i] {
			return m, false
		}
		*vals[i] = v
	}
	if frac != "" && len(parts) != 3 {
		return m, false
	}
	m.prec = precHour + len(parts) - 1
	if frac != "" {
		m.msDigits = len(frac)
		f := (frac + "000000000")[:9]
		m.nano, _ = strconv.Atoi(f)
	}
	return m, true
}

// parseMoment parses the text of a date, dateTime, instant or time value (kind kDate, kDateTime or
// kTime).
func parseMoment(s string, k kind) (moment, bool) {
	switch k {
	case kTime:
		m, ok := parseTime(strings.TrimPrefix(s, "T"))
		return m, ok && !m.tz
	case kDate:
		return parseDate(s)
	}
	d, t, hasT := strings.Cut(s, "T")
	m, ok := parseDate(d)
	if !ok || !hasT || t == "" {
		return m, ok
	}
	tm, ok := parseTime(t)
	if !ok || m.prec != precDay {
		return m, false
	}
	tm.hasDate, tm.year, tm.month, tm.day = true, m.year, m.month, m.day
	return tm, true
}

// utc returns the moment in UTC when it has a zone and a time of day, so that moments compare field
// by field.
func (m moment) utc() moment {
	if !m.tz || !m.hasDate || m.prec < precHour {
		return m
	}
	t := time.Date(m.year, time.Month(m.month), m.day, m.hour, m.minute, m.second, m.nano, time.FixedZone("", m.offset*60)).UTC()
	m.year, m.month, m.day = t.Year(), int(t.Month()), t.Day()
	m.hour, m.minute, m.second, m.nano = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()
	m.offset = 0
	return m
}

func (m moment) fields() []int {
	sec := m.second*1_000_000_000 + m.nano
	if m.hasDate {
		return []int{m.year, m.month, m.day, m.hour, m.minute, sec}
	}
	return []int{0, 0, 0, m.hour, m.minute, sec}
}

// cmpMoments compares two moments: -1, 0 or 1 with known=true, or known=false when they differ in
// precision and the common components are equal (the result cannot be decided).
func cmpMoments(a, b moment) (c int, known bool) {
	if a.hasDate != b.hasDate {
		return 0, false
	}
	if a.tz != b.tz && a.prec >= precHour && b.prec >= precHour {
		// one zone unknown: only the dates can decide
		a.prec, b.prec = min(a.prec, precDay), min(b.prec, precDay)+1
		a.tz, b.tz = false, false
	}
	a, b = a.utc(), b.utc()
	fa, fb := a.fields(), b.fields()
	start := 0
	if !a.hasDate {
		start = precHour - 1
	}
	lim := min(a.prec, b.prec)
	for i := start; i < lim; i++ {
		if fa[i] != fb[i] {
			if fa[i] < fb[i] {
				return -1, true
			}
			return 1, true
		}
	}
	if a.prec != b.prec {
		return 0, false
	}
	return 0, true
}

// format writes the moment in FHIR form at its own precision (zone as given).
func (m moment) format() string {
	var b strings.Builder
	if m.hasDate {
		fmt.Fprintf(&b, "%04d", m.year)
		if m.prec >= precMonth {
			fmt.Fprintf(&b, "-%02d", m.month)
		}
		if m.prec >= precDay {
			fmt.Fprintf(&b, "-%02d", m.day)
		}
		if m.prec >= precHour {
			b.WriteByte('T')
		}
	}
	if m.prec >= precHour {
		fmt.Fprintf(&b, "%02d", m.hour)
	}
	if m.prec >= precMinute {
		fmt.Fprintf(&b, ":%02d", m.minute)
	}
	if m.prec >= precSecond {
		fmt.Fprintf(&b, ":%02d", m.second)
		if m.msDigits > 0 {
			f := fmt.Sprintf("%09d", m.nano)
			b.WriteString("." + f[:min(m.msDigits, 9)])
		}
	}
	if m.tz && m.prec >= precHour {
		if m.offset == 0 {
			b.WriteByte('Z')
		} else {
			sign, off := '+', m.offset
			if off < 0 {
				sign, off = '-', -off
			}
			fmt.Fprintf(&b, "%c%02d:%02d", sign, off/60, off%60)
		}
	}
	return b.String()
}

// calendarUnits maps the time units FHIRPath accepts with dates (calendar keywords and UCUM codes) to
// a precision and a multiplier of that precision's unit.
var calendarUnits = map[string]struct {
	prec int
	mult int64
}{
	"year": {precYear, 1}, "years": {precYear, 1},
	"month": {precMonth, 1}, "months": {precMonth, 1},
	"week": {precDay, 7}, "weeks": {precDay, 7}, "wk": {precDay, 7},
	"day": {precDay, 1}, "days": {precDay, 1}, "d": {precDay, 1},
	"hour": {precHour, 1}, "hours": {precHour, 1}, "h": {precHour, 1},
	"minute": {precMinute, 1}, "minutes": {precMinute, 1}, "min": {precMinute, 1},
	"second": {precSecond, 1_000_000_000}, "seconds": {precSecond, 1_000_000_000}, "s": {precSecond, 1_000_000_000},
	"millisecond": {precSecond, 1_000_000}, "milliseconds": {precSecond, 1_000_000}, "ms": {precSecond, 1_000_000},
}

// addDuration adds n units to m (n negative subtracts); values of a precision finer than m's are
// converted to m's precision and truncated.
func addDuration(m moment, n int64, unit string) (moment, bool) {
	u, ok := calendarUnits[unit]
	if !ok {
		return m, false
	}
	prec, amount := u.prec, n*u.mult
	// express in m's precision when the unit is finer
	if prec > m.prec {
		switch {
		case prec == precDay && m.prec == precMonth, prec == precDay && m.prec == precYear:
			if m.prec == precMonth {
				amount /= 30
				prec = precMonth
			} else {
				amount /= 365
				prec = precYear
			}
		case prec == precMonth && m.prec == precYear:
			amount /= 12
			prec = precYear
		case prec > precDay && m.hasDate && m.prec <= precDay:
			return m, false
		case prec == precSecond && m.prec < precSecond:
			return m, false
		default:
			return m, false
		}
	}
	loc := time.UTC
	t := time.Date(m.year, time.Month(m.month), m.day, m.hour, m.minute, m.second, m.nano, loc)
	switch prec {
	case precYear:
		t = t.AddDate(int(amount), 0, 0)
	case precMonth:
		t = t.AddDate(0, int(amount), 0)
	case precDay:
		t = t.AddDate(0, 0, int(amount))
	case precHour:
		t = t.Add(time.Duration(amount) * time.Hour)
	case precMinute:
		t = t.Add(time.Duration(amount) * time.Minute)
	case precSecond:
		t = t.Add(time.Duration(amount))
		if m.msDigits == 0 && amount%1_000_000_000 != 0 {
			m.msDigits = 3
		}
	}
	if m.hasDate {
		m.year, m.month, m.day = t.Year(), int(t.Month()), t.Day()
	}
	m.hour, m.minute, m.second, m.nano = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()
	return m, true
}

// addNanos adds ns nanoseconds to a moment of second precision or finer.
func addNanos(m moment, ns int64) (moment, bool) {
	if m.prec < precSecond {
		// a coarser moment: whole units of its precision only
		per := map[int]int64{precYear: 365 * 86400e9, precMonth: 30 * 86400e9, precDay: 86400e9, precHour: 3600e9, precMinute: 60e9}[m.prec]
		if !m.hasDate && m.prec < precHour {
			return m, false
		}
		unit := map[int]string{precYear: "year", precMonth: "month", precDay: "day", precHour: "hour", precMinute: "minute"}[m.prec]
		return addDuration(m, ns/per, unit)
	}
	t := time.Date(m.year, time.Month(m.month), m.day, m.hour, m.minute, m.second, m.nano, time.UTC).Add(time.Duration(ns))
	if m.hasDate {
		m.year, m.month, m.day = t.Year(), int(t.Month()), t.Day()
	}
	m.hour, m.minute, m.second, m.nano = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()
	if m.nano != 0 && m.msDigits == 0 {
		m.msDigits = 3
	}
	return m, true
}
