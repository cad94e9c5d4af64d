package fhirpath

import (
	"encoding/json"
	"math/big"
	"strings"
)

// ucumSystem is the code system of UCUM units.
const ucumSystem = "http://unitsofmeasure.org"

// quantity is a number with a unit: a UCUM code, or a calendar duration keyword (day, weeks).
type quantity struct {
	value decimal
	text  string // the value as written
	unit  string
}

// quantityNode builds a System.Quantity node. Its value is a FHIR Quantity object.
func quantityNode(text, unit string) Node {
	v := map[string]any{"value": json.Number(text), "unit": unit}
	if _, cal := calendarWords[unit]; !cal {
		v["system"], v["code"] = ucumSystem, unit
	}
	return Node{Value: v, Type: "System.Quantity", Index: -1}
}

// calendarWords are the calendar duration keywords of quantity literals.
var calendarWords = makeSet("year", "years", "month", "months", "week", "weeks", "day", "days",
	"hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds")

// asQuantity reads a quantity from a Quantity object (code preferred, else unit).
func asQuantity(n Node) (quantity, bool) {
	m, ok := n.Value.(map[string]any)
	if !ok || kindOf(n) != kQuantity {
		return quantity{}, false
	}
	text, ok := numberText(m["value"])
	if !ok {
		return quantity{}, false
	}
	d, ok := parseDecimal(text)
	if !ok {
		return quantity{}, false
	}
	unit, _ := m["code"].(string)
	if unit == "" {
		unit, _ = m["unit"].(string)
	}
	if unit == "" {
		unit = "1"
	}
	return quantity{value: d, text: text, unit: unit}, true
}

// unitFactor gives a unit as a factor of a base unit, for the conversions the evaluator knows: mass,
// length, time and the UCUM forms of the calendar durations that have a fixed length.
type unitFactor struct {
	base   string
	factor *big.Rat
}

func rat(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s)
	return r
}

var unitFactors = map[string]unitFactor{
	"g": {"g", rat("1")}, "mg": {"g", rat("1/1000")}, "ug": {"g", rat("1/1000000")}, "kg": {"g", rat("1000")},
	"[lb_av]": {"g", rat("453.59237")}, "[oz_av]": {"g", rat("28.349523125")},
	"m": {"m", rat("1")}, "cm": {"m", rat("1/100")}, "mm": {"m", rat("1/1000")}, "km": {"m", rat("1000")},
	"[in_i]": {"m", rat("0.0254")}, "[ft_i]": {"m", rat("0.3048")},
	"m2": {"m2", rat("1")}, "cm2": {"m2", rat("1/10000")},
	"s": {"s", rat("1")}, "ms": {"s", rat("1/1000")}, "min": {"s", rat("60")}, "h": {"s", rat("3600")},
	"d": {"s", rat("86400")}, "wk": {"s", rat("604800")},
	"L": {"L", rat("1")}, "mL": {"L", rat("1/1000")}, "dL": {"L", rat("1/10")},
	"1": {"1", rat("1")},
}

// calendarUCUM maps the calendar keywords of a fixed length to their UCUM code; year and month have
// none (they differ from 'a' and 'mo').
var calendarUCUM = map[string]string{
	"week": "wk", "weeks": "wk", "day": "d", "days": "d", "hour": "h", "hours": "h",
	"minute": "min", "minutes": "min", "second": "s", "seconds": "s",
	"millisecond": "ms", "milliseconds": "ms", "year": "year", "years": "year", "month": "month", "months": "month",
}

// normalUnit returns the comparable form of a unit: calendar keywords as their UCUM code.
func normalUnit(u string) string {
	if c, ok := calendarUCUM[u]; ok {
		return c
	}
	return u
}

// quantityRats converts two quantities to a common unit, returning their values; ok is false when the
// units are not comparable.
func quantityRats(a, b quantity) (x, y *big.Rat, ok bool) {
	ra, ok1 := decimalRat(a.value)
	rb, ok2 := decimalRat(b.value)
	if !ok1 || !ok2 {
		return nil, nil, false
	}
	ua, ub := normalUnit(a.unit), normalUnit(b.unit)
	if ua == ub {
		return ra, rb, true
	}
	fa, oka := unitFactors[ua]
	fb, okb := unitFactors[ub]
	if !oka || !okb || fa.base != fb.base {
		return nil, nil, false
	}
	return new(big.Rat).Mul(ra, fa.factor), new(big.Rat).Mul(rb, fb.factor), true
}

// cmpQuantities compares two quantities; ok is false when their units are not comparable.
func cmpQuantities(a, b quantity) (int, bool) {
	x, y, ok := quantityRats(a, b)
	if !ok {
		return 0, false
	}
	return x.Cmp(y), true
}

// formatQuantity writes a quantity the way the specification does: value 'unit', or value keyword.
func formatQuantity(q quantity) string {
	if _, cal := calendarWords[q.unit]; cal {
		return q.text + " " + q.unit
	}
	return q.text + " '" + q.unit + "'"
}

// quantityArith multiplies or divides two quantities (op "*" or "/"), or adds or subtracts them.
func quantityArith(op string, a, b quantity) (Node, bool) {
	switch op {
	case "+", "-":
		x, y, ok := quantityRats(a, b)
		if !ok {
			return Node{}, false
		}
		if normalUnit(a.unit) != normalUnit(b.unit) {
			// result in a's unit
			f := unitFactors[normalUnit(a.unit)].factor
			x.Quo(x, f)
			y.Quo(y, f)
		}
		r := new(big.Rat)
		if op == "+" {
			r.Add(x, y)
		} else {
			r.Sub(x, y)
		}
		prec := max(fracDigits(a.value), fracDigits(b.value))
		return quantityNode(ratText(r, prec), a.unit), true
	}
	ra, ok1 := decimalRat(a.value)
	rb, ok2 := decimalRat(b.value)
	if !ok1 || !ok2 {
		return Node{}, false
	}
	ua, ub := normalUnit(a.unit), normalUnit(b.unit)
	// bring b to a's unit when they measure the same thing
	if fa, oka := unitFactors[ua]; oka {
		if fb, okb := unitFactors[ub]; okb && fa.base == fb.base && ua != ub {
			rb.Mul(rb, fb.factor)
			rb.Quo(rb, fa.factor)
			ub = ua
		}
	}
	r := new(big.Rat)
	var unit string
	switch op {
	case "*":
		r.Mul(ra, rb)
		switch {
		case ua == "1":
			unit = ub
		case ub == "1":
			unit = ua
		case ua == ub:
			unit = ua + "2"
		default:
			unit = ua + "." + ub
		}
	case "/":
		if rb.Sign() == 0 {
			return Node{}, false
		}
		r.Quo(ra, rb)
		switch {
		case ua == ub:
			unit = "1"
		case ub == "1":
			unit = ua
		default:
			unit = ua + "/" + ub
		}
	default:
		return Node{}, false
	}
	return quantityNode(ratText(r, 8), unit), true
}

// parseQuantityText parses the string form of a quantity: a number, optionally followed by a quoted
// UCUM unit or a calendar keyword ("1 day", "4 'mg'").
func parseQuantityText(s string) (Node, bool) {
	s = strings.TrimSpace(s)
	num, unit, hasUnit := strings.Cut(s, " ")
	if _, ok := parseDecimal(strings.TrimPrefix(num, "+")); !ok {
		return Node{}, false
	}
	num = strings.TrimPrefix(num, "+")
	if !hasUnit {
		return quantityNode(num, "1"), true
	}
	unit = strings.TrimSpace(unit)
	if len(unit) >= 2 && unit[0] == '\'' && unit[len(unit)-1] == '\'' {
		return quantityNode(num, unit[1:len(unit)-1]), true
	}
	if _, ok := calendarWords[unit]; ok {
		return quantityNode(num, unit), true
	}
	return Node{}, false
}
