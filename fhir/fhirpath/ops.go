package fhirpath

import (
	"math/big"
	"strings"
)

func isMomentKind(k kind) bool { return k == kDate || k == kDateTime || k == kTime }

func isNumberKind(k kind) bool { return k == kInteger || k == kDecimal }

// equalItems implements = on two items; known is false when the result is empty (dates of different
// precisions that agree as far as both go, quantities of incomparable units).
func equalItems(a, b Node) (eq, known bool) {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kQuantity && kb == kQuantity:
		qa, ok1 := asQuantity(a)
		qb, ok2 := asQuantity(b)
		if !ok1 || !ok2 {
			return equalNodes(a, b), true
		}
		c, ok := cmpQuantities(qa, qb)
		return c == 0, ok
	case isMomentKind(ka) && isMomentKind(kb):
		ma, _, ok1 := momentOf(a)
		mb, _, ok2 := momentOf(b)
		if !ok1 || !ok2 {
			return equalNodes(a, b), true
		}
		if ma.hasDate != mb.hasDate {
			return false, true // a time of day is never a date
		}
		c, ok := cmpMoments(ma, mb)
		return c == 0, ok
	case isNumberKind(ka) && isNumberKind(kb):
		return equalValues(a.Value, b.Value), true
	case ka == kQuantity || kb == kQuantity, isMomentKind(ka) != isMomentKind(kb) && ka != kString && kb != kString:
		return false, true
	}
	return equalNodes(a, b), true
}

// equalColls implements = on collections.
func equalColls(l, r []Node) (eq, known bool) {
	if len(l) != len(r) {
		return false, true
	}
	known = true
	for i := range l {
		e, k := equalItems(l[i], r[i])
		if k && !e {
			return false, true
		}
		known = known && k
	}
	return true, known
}

// equivalentItems implements ~ on two items.
func equivalentItems(a, b Node) bool {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kQuantity && kb == kQuantity:
		qa, ok1 := asQuantity(a)
		qb, ok2 := asQuantity(b)
		if !ok1 || !ok2 {
			return equivalentValues(a.Value, b.Value)
		}
		x, y, ok := quantityRats(qa, qb)
		if !ok {
			return false
		}
		ra, _ := decimalRat(qa.value)
		// y in a's unit: y × (a / x)
		if x.Sign() != 0 {
			y = new(big.Rat).Mul(y, new(big.Rat).Quo(ra, x))
		}
		db, ok := parseDecimal(ratText(y, 20))
		if !ok {
			return false
		}
		return equivalentNumbers(qa.value, db)
	case isMomentKind(ka) && isMomentKind(kb):
		ma, _, ok1 := momentOf(a)
		mb, _, ok2 := momentOf(b)
		if !ok1 || !ok2 {
			return equivalentValues(a.Value, b.Value)
		}
		if ma.prec != mb.prec {
			return false
		}
		c, ok := cmpMoments(ma, mb)
		return ok && c == 0
	case isNumberKind(ka) && isNumberKind(kb):
		da, ok1 := asDecimal(a.Value)
		db, ok2 := asDecimal(b.Value)
		return ok1 && ok2 && equivalentNumbers(da, db)
	}
	if a.Value == nil || b.Value == nil {
		return a.Value == nil && b.Value == nil
	}
	return equivalentValues(a.Value, b.Value)
}

// equivalentNumbers compares two decimals rounded to the precision of the less precise one.
func equivalentNumbers(a, b decimal) bool {
	p := min(fracDigits(a), fracDigits(b))
	ra, ok1 := decimalRat(a)
	rb, ok2 := decimalRat(b)
	if !ok1 || !ok2 {
		return cmpDecimal(a, b) == 0
	}
	return roundRat(ra, p).Cmp(roundRat(rb, p)) == 0
}

// roundRat rounds r to p fractional digits, halves away from zero.
func roundRat(r *big.Rat, p int) *big.Rat {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	half := big.NewRat(1, 2)
	if x.Sign() < 0 {
		x.Sub(x, half)
	} else {
		x.Add(x, half)
	}
	q := new(big.Int).Quo(x.Num(), x.Denom()) // truncates towards zero
	return new(big.Rat).SetFrac(q, scale)
}

// equivalentColls implements ~ on collections: the same size and every item equivalent to a distinct
// item of the other, in any order.
func equivalentColls(l, r []Node) bool {
	if len(l) != len(r) {
		return false
	}
	used := make([]bool, len(r))
outer:
	for _, x := range l {
		for j, y := range r {
			if !used[j] && equivalentItems(x, y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

// compareItems implements <, >, <= and >= on two items: the sign of a - b, known=false for an empty
// result, or an error message for values that cannot be compared.
func compareItems(a, b Node) (c int, known bool, msg string) {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case isNumberKind(ka) && isNumberKind(kb):
		da, ok1 := asDecimal(a.Value)
		db, ok2 := asDecimal(b.Value)
		if ok1 && ok2 {
			return cmpDecimal(da, db), true, ""
		}
	case ka == kString && kb == kString:
		sa, _ := a.Value.(string)
		sb, _ := b.Value.(string)
		return strings.Compare(sa, sb), true, ""
	case isMomentKind(ka) && isMomentKind(kb) && (ka == kTime) == (kb == kTime):
		ma, _, ok1 := momentOf(a)
		mb, _, ok2 := momentOf(b)
		if ok1 && ok2 {
			c, known := cmpMoments(ma, mb)
			return c, known, ""
		}
	case ka == kQuantity && kb == kQuantity:
		qa, ok1 := asQuantity(a)
		qb, ok2 := asQuantity(b)
		if ok1 && ok2 {
			c, ok := cmpQuantities(qa, qb)
			return c, ok, ""
		}
	}
	return 0, false, "cannot compare " + describe(a) + " with " + describe(b)
}

func compareOp(a *ast, l, r []Node) ([]Node, error) {
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	if len(l) > 1 || len(r) > 1 {
		return nil, evalErr(a, "'%s' needs single items, got %d and %d", a.name, len(l), len(r))
	}
	c, known, msg := compareItems(l[0], r[0])
	if msg != "" {
		return nil, evalErr(a, "%s", msg)
	}
	if !known {
		return nil, nil
	}
	var res bool
	switch a.name {
	case "<":
		res = c < 0
	case ">":
		res = c > 0
	case "<=":
		res = c <= 0
	case ">=":
		res = c >= 0
	}
	return []Node{boolNode(res)}, nil
}
