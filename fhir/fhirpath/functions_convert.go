package fhirpath

import (
	"encoding/json"
	"math/big"
	"strings"
)

// converter converts a single item to a System type; ok is false when it does not convert.
type converter func(n Node) (Node, bool)

// convFn implements toX() (empty when the item does not convert) and convertsToX() (whether it does).
func convFn(conv converter, test bool) funcImpl {
	return func(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
		switch len(in) {
		case 0:
			return nil, nil
		case 1:
		default:
			return nil, evalErr(a, "%s() on %d items", a.name, len(in))
		}
		out, ok := conv(in[0])
		if test {
			return []Node{boolNode(ok)}, nil
		}
		if !ok {
			return nil, nil
		}
		return []Node{out}, nil
	}
}

func toBoolean(n Node) (Node, bool) {
	switch kindOf(n) {
	case kBool:
		return boolNode(n.Value.(bool)), true
	case kString:
		switch strings.ToLower(n.Value.(string)) {
		case "true", "t", "yes", "y", "1", "1.0":
			return boolNode(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return boolNode(false), true
		}
	case kInteger, kDecimal:
		d, _ := asDecimal(n.Value)
		switch {
		case d.digits == "":
			return boolNode(false), true
		case !d.neg && d.digits == "1" && d.exp == 1:
			return boolNode(true), true
		}
	}
	return Node{}, false
}

func toInteger(n Node) (Node, bool) {
	switch kindOf(n) {
	case kInteger:
		s, _ := numberText(n.Value)
		return numberNode(json.Number(s)), true
	case kBool:
		if n.Value.(bool) {
			return intNode(1), true
		}
		return intNode(0), true
	case kString:
		s := n.Value.(string)
		t := strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")
		if isDigits(t) && len(t) <= 10 {
			return numberNode(json.Number(strings.TrimPrefix(s, "+"))), true
		}
	}
	return Node{}, false
}

func toDecimal(n Node) (Node, bool) {
	switch kindOf(n) {
	case kInteger, kDecimal:
		s, _ := numberText(n.Value)
		return Node{Value: json.Number(s), Type: sysDecimal, Index: -1}, true
	case kBool:
		if n.Value.(bool) {
			return Node{Value: json.Number("1.0"), Type: sysDecimal, Index: -1}, true
		}
		return Node{Value: json.Number("0.0"), Type: sysDecimal, Index: -1}, true
	case kString:
		s := strings.TrimPrefix(n.Value.(string), "+")
		if _, ok := parseDecimal(s); ok && !strings.ContainsAny(s, "eE") {
			return Node{Value: json.Number(s), Type: sysDecimal, Index: -1}, true
		}
	}
	return Node{}, false
}

func toStringConv(n Node) (Node, bool) {
	switch kindOf(n) {
	case kString, kInteger, kDecimal, kBool:
		return stringNode(n.String()), true
	case kDate, kDateTime, kTime:
		if s, ok := n.Value.(string); ok {
			return stringNode(s), true
		}
	case kQuantity:
		if q, ok := asQuantity(n); ok {
			return stringNode(formatQuantity(q)), true
		}
	}
	return Node{}, false
}

// momentConv converts to a Date (kDate), DateTime or Time.
func momentConv(to kind) converter {
	return func(n Node) (Node, bool) {
		k := kindOf(n)
		s, isStr := n.Value.(string)
		if !isStr {
			return Node{}, false
		}
		switch {
		case k == kString:
			m, ok := parseMoment(s, to)
			if !ok {
				return Node{}, false
			}
			return momentNode(m, to), true
		case k == to:
			m, ok := parseMoment(s, k)
			if !ok {
				return Node{}, false
			}
			return momentNode(m, to), true
		case to == kDateTime && k == kDate:
			m, ok := parseMoment(s, k)
			if !ok {
				return Node{}, false
			}
			return momentNode(m, kDateTime), true
		case to == kDate && k == kDateTime:
			m, ok := parseMoment(s, k)
			if !ok {
				return Node{}, false
			}
			m.prec = min(m.prec, precDay)
			m.tz = false
			return momentNode(m, kDate), true
		}
		return Node{}, false
	}
}

func toQuantityConv(n Node) (Node, bool) {
	switch kindOf(n) {
	case kQuantity:
		q, ok := asQuantity(n)
		if !ok {
			return Node{}, false
		}
		return quantityNode(q.text, q.unit), true
	case kInteger, kDecimal:
		s, _ := numberText(n.Value)
		return quantityNode(s, "1"), true
	case kBool:
		if n.Value.(bool) {
			return quantityNode("1.0", "1"), true
		}
		return quantityNode("0.0", "1"), true
	case kString:
		return parseQuantityText(n.Value.(string))
	}
	return Node{}, false
}

// fnToQuantity implements toQuantity([unit]) and convertsToQuantity([unit]).
func fnToQuantity(test bool) funcImpl {
	return func(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
		res, err := convFn(toQuantityConv, false)(c, sc, in, a)
		if err != nil || len(res) == 0 {
			if test && err == nil && len(in) == 1 {
				return []Node{boolNode(false)}, nil
			}
			return nil, err
		}
		if len(a.args) == 1 {
			u, err := c.eval(a.args[0], sc)
			if err != nil {
				return nil, err
			}
			unit, ok, err := singleString(u, a.args[0], "unit")
			if err != nil {
				return nil, err
			}
			if ok {
				q, _ := asQuantity(res[0])
				x, y, convertible := quantityRats(q, quantity{value: decimal{digits: "1", exp: 1}, unit: unit})
				if !convertible {
					if test {
						return []Node{boolNode(false)}, nil
					}
					return nil, nil
				}
				v := new(big.Rat).Quo(x, y)
				res[0] = quantityNode(ratText(v, 8), unit)
			}
		}
		if test {
			return []Node{boolNode(true)}, nil
		}
		return res, nil
	}
}

func fnToString(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
		if out, ok := toStringConv(in[0]); ok {
			return []Node{out}, nil
		}
		return nil, nil
	}
	return nil, evalErr(a, "toString() on %d items", len(in))
}
