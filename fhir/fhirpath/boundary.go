package fhirpath

import (
	"encoding/json"
	"math/big"
	"strings"
	"time"
)

// textDigits returns the number of fractional digits written in a number's text (1.50 has 2).
func textDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// fnBoundary implements lowBoundary([precision]) and highBoundary([precision]) on decimals,
// quantities, dates, date/times and times.
func fnBoundary(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1 {
		return nil, evalErr(a, "%s() on %d items", a.name, len(in))
	}
	prec, hasPrec := -1, false
	if len(a.args) == 1 {
		p, ok, err := c.intArg(sc, a, 0)
		if err != nil {
			return nil, err
		}
		prec, hasPrec = p, ok
	}
	high := a.name == "highBoundary"
	n := in[0]
	switch k := kindOf(n); k {
	case kInteger, kDecimal, kQuantity:
		text, unit := "", ""
		if k == kQuantity {
			q, ok := asQuantity(n)
			if !ok {
				return nil, nil
			}
			text, unit = q.text, q.unit
		} else {
			text, _ = numberText(n.Value)
		}
		if !hasPrec {
			prec = 8
		}
		if prec < 0 || prec > 28 {
			return nil, nil
		}
		out, ok := decimalBoundary(text, prec, high)
		if !ok {
			return nil, nil
		}
		if k == kQuantity {
			return []Node{quantityNode(out, unit)}, nil
		}
		return []Node{{Value: json.Number(out), Type: sysDecimal, Index: -1}}, nil
	case kDate, kDateTime, kTime:
		m, _, ok := momentOf(n)
		if !ok {
			return nil, nil
		}
		if !hasPrec {
			prec = map[kind]int{kDate: 8, kDateTime: 17, kTime: 9}[k]
		}
		res, ok := momentBoundary(m, k, prec, high)
		if !ok {
			return nil, nil
		}
		return []Node{res}, nil
	}
	return nil, evalErr(a, "%s() needs a number, quantity, date or time, got %s", a.name, describe(n))
}

// decimalBoundary returns the least (or greatest) value a decimal written as text may stand for, at
// prec fractional digits.
func decimalBoundary(text string, prec int, high bool) (string, bool) {
	d, ok := parseDecimal(text)
	if !ok {
		return "", false
	}
	r, ok := decimalRat(d)
	if !ok {
		return "", false
	}
	half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), pow10(textDigits(text))))
	if high {
		r.Add(r, half)
	} else {
		r.Sub(r, half)
	}
	scale := pow10(prec)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	q, m := new(big.Int).DivMod(x.Num(), x.Denom(), new(big.Int)) // floor for positive denominators
	if high && m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	res := new(big.Rat).SetFrac(q, scale)
	s := res.FloatString(prec)
	if r.Sign() < 0 && !strings.HasPrefix(s, "-") {
		s = "-" + s
	}
	return s, true
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// momentBoundary fills the components a moment leaves out with their least (or greatest) values and
// writes it at the precision given in digits (4 year ... 17 milliseconds; for times 2 ... 9).
func momentBoundary(m moment, k kind, digits int, high bool) (Node, bool) {
	var prec int
	if k == kTime {
		switch digits {
		case 2:
			prec = precHour
		case 4:
			prec = precMinute
		case 6, 9:
			prec = precSecond
		default:
			return Node{}, false
		}
	} else {
		switch digits {
		case 4:
			prec = precYear
		case 6:
			prec = precMonth
		case 8:
			prec = precDay
		case 10:
			prec = precHour
		case 12:
			prec = precMinute
		case 14, 17:
			prec = precSecond
		default:
			return Node{}, false
		}
		if k == kDate && prec > precDay {
			return Node{}, false
		}
	}
	if m.hasDate && m.prec == precHour {
		m.prec = precMinute // FHIR has no date/time of hour precision: T08 is 08:00
	}
	if high {
		if m.prec < precMonth {
			m.month = 12
		}
		if m.prec < precDay {
			m.day = time.Date(m.year, time.Month(m.month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
		}
		if m.prec < precHour {
			m.hour = 23
		}
		if m.prec < precMinute {
			m.minute = 59
		}
		if m.prec < precSecond {
			m.second = 59
		}
		if m.msDigits == 0 {
			m.nano = 999_000_000
		}
	}
	if k == kDateTime && prec >= precHour && !m.tz {
		m.tz, m.offset = true, 14*60
		if high {
			m.offset = -12 * 60
		}
	}
	m.prec = prec
	m.msDigits = 0
	if digits == 17 || digits == 9 {
		m.msDigits = 3
	}
	return momentNode(m, k), true
}

// fnPrecision implements precision(): the digits of a decimal's fraction, or of a date/time's form.
func fnPrecision(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	if len(in) != 1 {
		return nil, nil
	}
	n := in[0]
	switch kindOf(n) {
	case kInteger, kDecimal:
		s, _ := numberText(n.Value)
		return []Node{intNode(textDigits(s))}, nil
	case kDate, kDateTime, kTime:
		m, _, ok := momentOf(n)
		if !ok {
			return nil, nil
		}
		digits := []int{0, 4, 6, 8, 10, 12, 14}[m.prec]
		if !m.hasDate {
			digits -= 8
		}
		if m.msDigits > 0 {
			digits += 3
		}
		return []Node{intNode(digits)}, nil
	}
	return nil, evalErr(a, "precision() needs a number, date or time, got %s", describe(n))
}
