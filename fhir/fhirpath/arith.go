package fhirpath

import (
	"encoding/json"
	"math/big"
	"strings"
)

// maxArithDigits bounds the size of numbers used in arithmetic so that hostile literals or resource
// values (1e999999999) cannot make big-number arithmetic slow.
const maxArithDigits = 400

// decimalRat converts a normalised decimal to an exact rational, refusing huge magnitudes.
func decimalRat(d decimal) (*big.Rat, bool) {
	if d.digits == "" {
		return new(big.Rat), true
	}
	if len(d.digits) > maxArithDigits || d.exp > maxArithDigits || d.exp < -maxArithDigits {
		return nil, false
	}
	num, ok := new(big.Int).SetString(d.digits, 10)
	if !ok {
		return nil, false
	}
	// value = 0.digits × 10^exp = digits × 10^(exp-len(digits))
	shift := d.exp - int64(len(d.digits))
	r := new(big.Rat).SetInt(num)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(absInt64(shift)), nil)
	if shift >= 0 {
		r.Mul(r, new(big.Rat).SetInt(p))
	} else {
		r.Quo(r, new(big.Rat).SetInt(p))
	}
	if d.neg {
		r.Neg(r)
	}
	return r, true
}

func absInt64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// fracDigits returns the number of digits after the decimal point needed to write d exactly.
func fracDigits(d decimal) int {
	n := int64(len(d.digits)) - d.exp
	if n < 0 {
		return 0
	}
	return int(n)
}

// ratText writes r with prec fractional digits, without trailing zeros.
func ratText(r *big.Rat, prec int) string {
	s := r.FloatString(prec)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func negate(in []Node, a *ast) ([]Node, error) {
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, evalErr(a, "unary '-' needs a single number, got %d items", len(in))
	}
	if q, ok := asQuantity(in[0]); ok {
		text := "-" + q.text
		if strings.HasPrefix(q.text, "-") {
			text = q.text[1:]
		}
		return []Node{quantityNode(text, q.unit)}, nil
	}
	s, ok := numberText(in[0].Value)
	if !ok {
		return nil, evalErr(a, "unary '-' needs a number, got %s", describe(in[0]))
	}
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else {
		s = "-" + s
	}
	return []Node{numberNode(json.Number(s))}, nil
}

func arith(a *ast, l, r []Node) ([]Node, error) {
	if len(l) > 1 || len(r) > 1 {
		return nil, evalErr(a, "'%s' needs single items, got %d and %d", a.name, len(l), len(r))
	}
	if a.name == "&" {
		var b strings.Builder
		for _, side := range [][]Node{l, r} {
			if len(side) == 1 {
				s, ok := side[0].stringValue()
				if !ok {
					return nil, evalErr(a, "'&' needs strings, got %s", describe(side[0]))
				}
				b.WriteString(s)
			}
		}
		return []Node{stringNode(b.String())}, nil
	}
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	lk, rk := kindOf(l[0]), kindOf(r[0])
	if isMomentKind(lk) && rk == kQuantity && (a.name == "+" || a.name == "-") {
		return dateArith(a, l[0], r[0], lk)
	}
	if lk == kQuantity || rk == kQuantity {
		qa, ok1 := quantityOrNumber(l[0])
		qb, ok2 := quantityOrNumber(r[0])
		if !ok1 || !ok2 {
			return nil, evalErr(a, "'%s' needs quantities, got %s and %s", a.name, describe(l[0]), describe(r[0]))
		}
		res, ok := quantityArith(a.name, qa, qb)
		if !ok {
			return nil, nil
		}
		return []Node{res}, nil
	}
	if a.name == "+" {
		ls, lok := l[0].stringValue()
		rs, rok := r[0].stringValue()
		if lok && rok {
			return []Node{stringNode(ls + rs)}, nil
		}
	}
	lt, lok := numberText(l[0].Value)
	rt, rok := numberText(r[0].Value)
	if !lok || !rok {
		return nil, evalErr(a, "'%s' needs numbers, got %s and %s", a.name, describe(l[0]), describe(r[0]))
	}
	ld, ok1 := parseDecimal(lt)
	rd, ok2 := parseDecimal(rt)
	lr, ok3 := decimalRat(ld)
	rr, ok4 := decimalRat(rd)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, evalErr(a, "number too large for '%s'", a.name)
	}
	integers := isIntegerText(lt) && isIntegerText(rt)
	res := new(big.Rat)
	prec := max(fracDigits(ld), fracDigits(rd))
	switch a.name {
	case "+":
		res.Add(lr, rr)
	case "-":
		res.Sub(lr, rr)
	case "*":
		res.Mul(lr, rr)
		prec = fracDigits(ld) + fracDigits(rd)
	case "/":
		if rr.Sign() == 0 {
			return nil, nil
		}
		res.Quo(lr, rr)
		prec, integers = 8, false
	case "div", "mod":
		if rr.Sign() == 0 {
			return nil, nil
		}
		q := new(big.Rat).Quo(lr, rr)
		qi := new(big.Int).Quo(q.Num(), q.Denom()) // truncated towards zero
		if a.name == "div" {
			return []Node{numberNode(json.Number(qi.String()))}, nil
		}
		res.Sub(lr, new(big.Rat).Mul(rr, new(big.Rat).SetInt(qi)))
	}
	typ := "decimal"
	if integers {
		typ = "integer"
	}
	return []Node{{Value: json.Number(ratText(res, prec)), Type: typ, Index: -1}}, nil
}

// quantityOrNumber reads a quantity, or a number as a quantity of unit '1'.
func quantityOrNumber(n Node) (quantity, bool) {
	if q, ok := asQuantity(n); ok {
		return q, true
	}
	if k := kindOf(n); isNumberKind(k) {
		s, _ := numberText(n.Value)
		d, ok := parseDecimal(s)
		return quantity{value: d, text: s, unit: "1"}, ok
	}
	return quantity{}, false
}

// dateArith adds a time-valued quantity to a date, date/time or time (or subtracts it).
func dateArith(a *ast, dn, qn Node, k kind) ([]Node, error) {
	m, _, ok := momentOf(dn)
	q, ok2 := asQuantity(qn)
	if !ok || !ok2 {
		return nil, nil
	}
	u, known := calendarUnits[q.unit]
	if !known {
		return nil, evalErr(a, "cannot add %s to a date", formatQuantity(q))
	}
	r, ok := decimalRat(q.value)
	if !ok {
		return nil, evalErr(a, "number too large for '%s'", a.name)
	}
	if a.name == "-" {
		r.Neg(r)
	}
	unit := q.unit
	if u.prec == precSecond {
		// whole nanoseconds: fractions of seconds are kept
		r.Mul(r, new(big.Rat).SetInt64(u.mult))
		unit = "ns"
	}
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return nil, evalErr(a, "number too large for '%s'", a.name)
	}
	var res moment
	if unit == "ns" {
		res, ok = addNanos(m, n.Int64())
	} else {
		res, ok = addDuration(m, n.Int64(), unit)
	}
	if !ok {
		return nil, nil
	}
	return []Node{momentNode(res, k)}, nil
}
