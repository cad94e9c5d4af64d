package search_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/rest"
)

// The boundaries of date search, as R4 defines the prefixes on ranges (search.html, "Prefixes"): every
// target — a dateTime at each precision, an instant, a Period (closed, or open at either end), a Timing —
// lies inside, across or just outside the range of a search value at each precision (year, month, day,
// second), and every prefix is checked against an oracle computed here from the definitions, not from the
// engine's encoding. A search value's own range counts as "at or below" it for le and "at or above" for
// ge: a Period starting on 2016-01-01 is found by le2016-01-01, one ending on 2016-06-30 by ge2016-06-30.

// span is a target's or a search value's range, in inclusive milliseconds; open ends are infinite.
type span struct{ lo, hi float64 }

// oracleRange is the range a FHIR date, dateTime or instant written s covers, from its precision.
func oracleRange(t *testing.T, s string) span {
	t.Helper()
	layouts := []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(x time.Time) time.Time { return x.AddDate(1, 0, 0) }},
		{"2006-01", func(x time.Time) time.Time { return x.AddDate(0, 1, 0) }},
		{"2006-01-02", func(x time.Time) time.Time { return x.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04:05Z07:00", func(x time.Time) time.Time { return x.Add(time.Second) }},
		{"2006-01-02T15:04:05.000Z07:00", func(x time.Time) time.Time { return x.Add(time.Millisecond) }},
	}
	for _, l := range layouts {
		if x, err := time.Parse(l.layout, s); err == nil && len(s) == len(x.Format(l.layout)) {
			return span{float64(x.UnixMilli()), float64(l.next(x).UnixMilli() - 1)}
		}
	}
	t.Fatalf("oracle: %q is not a date", s)
	return span{}
}

// oracle says whether a target of range tg matches a search value of range sv with prefix pfx.
func oracle(pfx string, sv, tg span, now time.Time) bool {
	eq := tg.lo >= sv.lo && tg.hi <= sv.hi
	switch pfx {
	case "eq":
		return eq
	case "ne":
		return !eq
	case "gt": // the range above the value intersects the target
		return tg.hi > sv.hi
	case "lt": // the range below the value intersects the target
		return tg.lo < sv.lo
	case "ge": // at or above the value
		return tg.hi >= sv.lo
	case "le": // at or below the value
		return tg.lo <= sv.hi
	case "sa": // the target starts after the value's range
		return tg.lo > sv.hi
	case "eb": // the target ends before the value's range
		return tg.hi < sv.lo
	case "ap": // within 10% of the value's distance to now (a day at least), either side
		mid := (sv.lo + sv.hi) / 2
		w := math.Max(math.Abs(float64(now.UnixMilli())-mid)*0.1, 86400000)
		return tg.lo <= sv.hi+w && tg.hi >= sv.lo-w
	}
	panic(pfx)
}

type dateTarget struct {
	id, effective string // the Observation's effective[x], as JSON members
	span          span
}

// targetsAround builds targets whose bounds sit on, just inside and just outside the range of value.
func targetsAround(t *testing.T, value string) []dateTarget {
	sv := oracleRange(t, value)
	at := func(ms float64) time.Time { return time.UnixMilli(int64(ms)).UTC() }
	sec := func(x time.Time) string { return x.Format("2006-01-02T15:04:05Z") }
	// Instants at second precision: a day and a second outside each bound, each bound, a second inside.
	lo, hi := at(sv.lo), at(sv.hi).Truncate(time.Second)
	points := []time.Time{lo.AddDate(0, 0, -1), lo.Add(-time.Second), lo, lo.Add(time.Second),
		hi.Add(-time.Second), hi, hi.Add(time.Second), hi.AddDate(0, 0, 1)}
	slices.SortFunc(points, func(a, b time.Time) int { return a.Compare(b) })
	points = slices.CompactFunc(points, func(a, b time.Time) bool { return a.Equal(b) })
	var out []dateTarget
	add := func(effective string, s span) {
		out = append(out, dateTarget{id: fmt.Sprintf("t%d", len(out)), effective: effective, span: s})
	}
	for _, p := range points {
		add(fmt.Sprintf(`"effectiveDateTime":%q`, sec(p)), oracleRange(t, sec(p)))
		ms := p.Add(123 * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		add(fmt.Sprintf(`"effectiveInstant":%q`, ms), oracleRange(t, ms))
	}
	// The value itself, and the day, month and year around it, as targets of coarser precision.
	for _, l := range []string{"2006", "2006-01", "2006-01-02"} {
		for _, p := range []time.Time{lo, hi, lo.AddDate(0, 0, -1), hi.AddDate(0, 0, 1)} {
			d := p.Format(l)
			add(fmt.Sprintf(`"effectiveDateTime":%q`, d), oracleRange(t, d))
		}
	}
	// Periods between any two points, and open at either end.
	inf := math.Inf(1)
	for i, a := range points {
		for _, b := range points[i:] {
			add(fmt.Sprintf(`"effectivePeriod":{"start":%q,"end":%q}`, sec(a), sec(b)),
				span{oracleRange(t, sec(a)).lo, oracleRange(t, sec(b)).hi})
		}
		add(fmt.Sprintf(`"effectivePeriod":{"start":%q}`, sec(a)), span{oracleRange(t, sec(a)).lo, inf})
		add(fmt.Sprintf(`"effectivePeriod":{"end":%q}`, sec(a)), span{-inf, oracleRange(t, sec(a)).hi})
	}
	// Timings: their events' outer bounds, with repeat.boundsPeriod.
	for i := 0; i+2 < len(points); i += 2 {
		a, b := points[i], points[i+2]
		add(fmt.Sprintf(`"effectiveTiming":{"event":[%q,%q]}`, sec(a), sec(b)), span{oracleRange(t, sec(a)).lo, oracleRange(t, sec(b)).hi})
	}
	return out
}

func TestDateBoundaries(t *testing.T) {
	now := time.Now()
	cases := 0
	for _, value := range []string{"2016", "2016-03", "2016-03-15", "2016-03-15T10:30:45Z"} {
		t.Run(value, func(t *testing.T) {
			svc, ctx := newService(t)
			targets := targetsAround(t, value)
			entries := make([]string, len(targets))
			for i, tg := range targets {
				entries[i] = fmt.Sprintf(`{"resource":{"resourceType":"Observation","id":%q,"status":"final","code":{"text":"x"},%s},"request":{"method":"PUT","url":"Observation/%s"}}`,
					tg.id, tg.effective, tg.id)
			}
			tx := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
			if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: []byte(tx)}); err != nil {
				t.Fatal(err)
			}
			sv := oracleRange(t, value)
			for _, pfx := range []string{"eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap"} {
				got := ids(t, ctx, svc, "Observation", "date="+pfx+value+"&_count=1000")
				var want []string
				for _, tg := range targets {
					if oracle(pfx, sv, tg.span, now) {
						want = append(want, tg.id)
					}
				}
				slices.Sort(want)
				cases += len(targets)
				if !slices.Equal(got, want) {
					for _, tg := range targets {
						if slices.Contains(got, tg.id) != slices.Contains(want, tg.id) {
							t.Errorf("date=%s%s on {%s}: matched %v, want %v", pfx, value, tg.effective,
								slices.Contains(got, tg.id), slices.Contains(want, tg.id))
						}
					}
				}
			}
		})
	}
	t.Logf("%d (prefix, value, target) cases", cases)
}
